/// One mistake in the configuration: where it is (a key path such as `deployments.openrouter.provider`,
/// or the file itself) and what is wrong, in words that say what is allowed instead.
public struct ConfigurationProblem: Sendable, Hashable, CustomStringConvertible {
    /// The key path, e.g. `server.port`, or the configuration file's path for a file that cannot be read.
    public var keyPath: String
    /// What is wrong and what is allowed, e.g. `"opnai" is not one of openai, anthropic, mock`.
    public var message: String

    /// - Parameters:
    ///   - keyPath: where the mistake is.
    ///   - message: what is wrong and what is allowed.
    public init(_ keyPath: String, _ message: String) {
        self.keyPath = keyPath
        self.message = message
    }

    /// `key.path: message`, one line.
    public var description: String { "\(keyPath): \(message)" }

    /// A value that is not one of a fixed set of choices.
    static func notOneOf(_ keyPath: String, _ value: String, _ allowed: [String]) -> Self {
        Self(keyPath, "\(quoted(value)) is not one of \(allowed.joined(separator: ", "))")
    }

    /// A value shown to people: quoted, and shortened when long.
    static func quoted(_ value: String) -> String {
        let short = value.count > 80 ? String(value.prefix(77)) + "..." : value
        return "\"\(short)\""
    }
}

/// The configuration cannot be used: every problem found, so that all of them can be fixed at once.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// Every problem, in the order found.
    public var problems: [ConfigurationProblem]

    /// - Parameter problems: every problem.
    public init(problems: [ConfigurationProblem]) {
        self.problems = problems
    }

    /// A heading, then one problem per line.
    public var description: String {
        let count = problems.count == 1 ? "1 problem" : "\(problems.count) problems"
        return (["the configuration has \(count):"] + problems.map { "  " + $0.description }).joined(separator: "\n")
    }
}

/// What a configuration check found: the configuration read (defaults where a value was unusable) and
/// every problem. Valid when there are no problems.
public struct ConfigurationCheck: Sendable {
    /// The configuration as read; where a value was unusable, its default.
    public var configuration: SluiceConfiguration
    /// Every problem, in the order found.
    public var problems: [ConfigurationProblem]
    /// The YAML file that was read; nil when there was none (no `sluice.yaml` in the working folder).
    public var file: String?

    /// Whether the configuration can be used.
    public var isValid: Bool { problems.isEmpty }
}
