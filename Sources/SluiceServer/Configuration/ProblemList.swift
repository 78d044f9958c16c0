import Foundation

/// Problems found while checking values, each under its key path, with the usual checks worded once.
struct ProblemList {
    /// The problems, in the order found.
    var problems: [ConfigurationProblem] = []

    /// Adds a problem.
    mutating func add(_ path: String, _ message: String) {
        problems.append(ConfigurationProblem(path, message))
    }

    /// A whole number of at least `minimum` (nil: not set, nothing to check).
    mutating func atLeast(_ path: String, _ value: Int?, _ minimum: Int) {
        guard let value, value < minimum else { return }
        add(path, minimum == 0 ? "must be 0 or more, not \(value)" : "must be at least \(minimum), not \(value)")
    }

    /// A whole number of at most `maximum` (nil: not set, nothing to check).
    mutating func atMost(_ path: String, _ value: Int?, _ maximum: Int) {
        guard let value, value > maximum else { return }
        add(path, "must be at most \(maximum), not \(value)")
    }

    /// The largest number a setting may hold: seconds and milliseconds become whole milliseconds and
    /// durations, and `1e300` would trap on the way.
    static let largest = 1e9

    /// A number more than 0.
    mutating func positive(_ path: String, _ value: Double) {
        if !(value > 0 && value.isFinite) {
            add(path, "must be more than 0, not \(Self.show(value))")
        } else if value > Self.largest {
            add(path, "must be at most \(Self.show(Self.largest)), not \(Self.show(value))")
        }
    }

    /// A number of 0 or more.
    mutating func notNegative(_ path: String, _ value: Double) {
        if !(value >= 0 && value.isFinite) {
            add(path, "must be 0 or more, not \(Self.show(value))")
        } else if value > Self.largest {
            add(path, "must be at most \(Self.show(Self.largest)), not \(Self.show(value))")
        }
    }

    /// A share or a similarity: 0 to 1 (nil: not set).
    mutating func fraction(_ path: String, _ value: Double?) {
        guard let value, !(0...1).contains(value) else { return }
        add(path, "must be between 0 and 1, not \(Self.show(value))")
    }

    /// Text that must not be empty.
    mutating func notEmpty(_ path: String, _ value: String, _ what: String) {
        if value.trimmingCharacters(in: .whitespaces).isEmpty { add(path, "must not be empty: \(what)") }
    }

    /// An http or https URL with a host, like `example`.
    mutating func webURL(_ path: String, _ text: String, example: String) {
        if let problem = Self.webURLProblem(text, example: example) { add(path, problem) }
    }

    /// What is wrong with an http or https URL, or nil.
    static func webURLProblem(_ text: String, example: String) -> String? {
        if text.isEmpty { return "is required: a URL like \(example)" }
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty
        else { return "\(ConfigurationProblem.quoted(text)) is not an http or https URL like \(example)" }
        return nil
    }

    /// A number as people write it: `15`, not `15.0`.
    static func show(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return String(value)
    }
}
