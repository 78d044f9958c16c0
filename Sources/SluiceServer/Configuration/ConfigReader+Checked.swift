import Configuration
import Foundation
import SluiceProviders

extension ConfigReader {
    /// Reads a value that must be one of `allowed` (in any case); anything else is a problem, and the
    /// default is kept.
    /// - Parameters:
    ///   - key: the key, relative to this reader.
    ///   - path: the whole key path, for the problem (the key itself when nil).
    ///   - value: the default.
    ///   - allowed: the choices, in lower case.
    ///   - problems: where a problem goes.
    func choice(
        forKey key: String, path: String? = nil, default value: String, allowed: [String], problems: inout [ConfigurationProblem]
    ) -> String {
        guard let text = string(forKey: ConfigKey(key)) else { return value }
        let lowered = text.lowercased()
        guard allowed.contains(lowered) else {
            problems.append(.notOneOf(path ?? key, text, allowed))
            return value
        }
        return lowered
    }

    /// Reads text that may be left out: nil when absent, empty or only spaces; otherwise the text
    /// without surrounding spaces.
    func nonEmptyString(forKey key: String, isSecret: Bool = false) -> String? {
        guard let text = string(forKey: ConfigKey(key), isSecret: isSecret)?.trimmingCharacters(in: .whitespaces), !text.isEmpty else {
            return nil
        }
        return text
    }

    /// Reads a list of names (`deployments.names`, `plans.names`, …): an empty or repeated name is a
    /// problem, and is left out.
    func names(forKey key: String, problems: inout [ConfigurationProblem]) -> [String] {
        var names: [String] = []
        for name in stringArray(forKey: ConfigKey(key), default: []) {
            if name.trimmingCharacters(in: .whitespaces).isEmpty {
                problems.append(ConfigurationProblem(key, "lists an empty name"))
            } else if names.contains(name) {
                problems.append(ConfigurationProblem(key, "lists \(ConfigurationProblem.quoted(name)) twice"))
            } else {
                names.append(name)
            }
        }
        return names
    }

    /// Reads a limit where 0 means none (nil): a negative one is a problem, and the default is kept.
    /// - Parameters:
    ///   - key: the key's components, relative to this reader.
    ///   - path: the reader's own key path (`plans.free`), for the problem.
    ///   - value: the default.
    ///   - problems: where a problem goes.
    func limit(forKey key: [String], path: String, default value: Int?, problems: inout [ConfigurationProblem]) -> Int? {
        guard let number = int(forKey: ConfigKey(key)) else { return value }
        guard number >= 0 else {
            problems.append(ConfigurationProblem(
                ([path] + key).joined(separator: "."), "must be 0 (no limit) or a positive number, not \(number)"))
            return value
        }
        return number > 0 ? number : nil
    }
}

extension Deployment.Kind {
    /// Every kind's name. The switch stops compiling when a kind is added, so the list cannot fall behind.
    static var names: [String] {
        [Self.openai, .anthropic, .mock].map { (kind: Self) -> String in
            switch kind {
            case .openai, .anthropic, .mock: kind.rawValue
            }
        }
    }
}

extension ModelAlias.Strategy {
    /// Every strategy's name (kept complete by the switch, as for `Deployment.Kind`).
    static var names: [String] {
        [Self.ordered, .weighted].map { (strategy: Self) -> String in
            switch strategy {
            case .ordered, .weighted: strategy.rawValue
            }
        }
    }
}

extension ModelAlias.InterruptPolicy {
    /// Every policy's name (kept complete by the switch, as for `Deployment.Kind`).
    static var names: [String] {
        [Self.retry, .error].map { (policy: Self) -> String in
            switch policy {
            case .retry, .error: policy.rawValue
            }
        }
    }
}

extension SluiceConfiguration.EmbedderConfiguration {
    /// The embedders Sluice has.
    static let kinds = ["hashing", "openai", "static"]
}
