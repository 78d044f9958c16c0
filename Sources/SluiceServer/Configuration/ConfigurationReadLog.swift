import Configuration
import Synchronization

/// Records, as the configuration is read, every key the reading code asks for and every value a
/// provider had but could not give as the type asked for (`port: eighty`). The keys Sluice knows are
/// therefore exactly the keys it reads: a file's key outside them is one it never reads.
final class ConfigurationReadLog: AccessReporter, Sendable {
    /// A value that was there but could not be read as the type asked for.
    struct Unreadable: Sendable, Hashable {
        /// The key's components.
        var key: [String]
        /// The type asked for.
        var type: ConfigType
        /// Where the value came from: the file, the environment or the command line.
        var source: String
    }

    private struct State {
        var keys: [[String]] = []
        var seen: Set<[String]> = []
        var unreadable: [Unreadable] = []
    }

    private let state = Mutex(State())

    func report(_ event: AccessEvent) {
        let key = event.metadata.key.components
        var failedSource: String?
        for result in event.providerResults {
            if case .failure = result.result { failedSource = Self.source(result.providerName) }
        }
        if failedSource == nil, event.conversionError != nil {
            failedSource = "in the configuration"
            for result in event.providerResults {
                if case .success(let lookup) = result.result, lookup.value != nil {
                    failedSource = Self.source(result.providerName)
                    break
                }
            }
        }
        state.withLock { state in
            if state.seen.insert(key).inserted { state.keys.append(key) }
            if let failedSource {
                let unreadable = Unreadable(key: key, type: event.metadata.valueType, source: failedSource)
                if !state.unreadable.contains(unreadable) { state.unreadable.append(unreadable) }
            }
        }
    }

    /// Every key read, in the order first read.
    var keys: [[String]] { state.withLock { $0.keys } }

    /// Every value that could not be read as its type.
    var unreadable: [Unreadable] { state.withLock { $0.unreadable } }

    /// The problems of the unreadable values.
    var problems: [ConfigurationProblem] {
        unreadable.map { item in
            ConfigurationProblem(item.key.joined(separator: "."), "the value \(item.source) is not \(Self.describe(item.type))")
        }
    }

    /// The type in words.
    static func describe(_ type: ConfigType) -> String {
        switch type {
        case .string: "text"
        case .int: "a whole number"
        case .double: "a number"
        case .bool: "true or false"
        case .stringArray: "a list, like [a, b]"
        case .intArray: "a list of whole numbers"
        case .doubleArray: "a list of numbers"
        case .boolArray: "a list of true or false"
        case .bytes, .byteChunkArray: "base64 text"
        }
    }

    /// A provider's name in words.
    static func source(_ providerName: String) -> String {
        if providerName.contains("Environment") { return "from the environment" }
        if providerName.contains("File") { return "in the configuration file" }
        if providerName == "flags" { return "on the command line" }
        return "from \(providerName)"
    }
}

/// The keys of a YAML file, collected as the file is parsed (every leaf's dot-separated path).
final class FileKeyLog: Sendable {
    private let keys = Mutex<[String]>([])

    /// Records a key.
    func add(_ key: String) {
        keys.withLock { $0.append(key) }
    }

    /// Every key, in the order parsed.
    var all: [String] { keys.withLock { $0 } }
}
