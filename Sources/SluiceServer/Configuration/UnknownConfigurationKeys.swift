/// Finds the keys of a configuration file that Sluice never reads (`server.prot`), by comparing them
/// with the keys the reading code asked for. One problem per mistake: a misspelt section is reported
/// once, not once per setting under it.
enum UnknownConfigurationKeys {
    /// Sections whose entries are named by a list: an entry the list does not name is never read.
    static let namedSections = [
        "deployments": "deployments.names", "models": "models.aliases", "plans": "plans.names", "modes": "modes.names",
        "tenants": "tenants.names",
    ]

    /// The problems of a file's keys.
    /// - Parameters:
    ///   - fileKeys: the file's keys, dot-separated, in the file's order.
    ///   - readKeys: the keys read, as components.
    ///   - isEmpty: whether the file's value at a key is empty (a section whose settings are all commented out).
    static func problems(fileKeys: [String], readKeys: [[String]], isEmpty: (String) -> Bool) -> [ConfigurationProblem] {
        let known = readKeys.map { $0.joined(separator: ".").split(separator: ".", omittingEmptySubsequences: false).map(String.init) }
        let knownKeys = Set(known.map { $0.joined(separator: ".") })
        var reported: Set<String> = []
        var problems: [ConfigurationProblem] = []
        for key in fileKeys where !knownKeys.contains(key) {
            let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            // How deep the key follows known keys: parts[depth] is the first part no known key continues with.
            var depth = 0
            while depth < parts.count, known.contains(where: { $0.count > depth + 1 && $0.starts(with: parts.prefix(depth + 1)) }) {
                depth += 1
            }
            if depth == parts.count {
                // The key names a section: fine when empty (`cluster:` with every setting commented out).
                if isEmpty(key) { continue }
                let children = Self.children(of: parts, in: known)
                problems.append(ConfigurationProblem(key, "is a section of settings (\(children.joined(separator: ", "))), not a value"))
                continue
            }
            let mistake = parts.prefix(depth + 1).joined(separator: ".")
            guard reported.insert(mistake).inserted else { continue }
            if knownKeys.contains(mistake) {
                problems.append(ConfigurationProblem(mistake, "takes a value, not a section of settings"))
                continue
            }
            problems.append(ConfigurationProblem(mistake, message(parts: Array(parts.prefix(depth + 1)), known: known)))
        }
        return problems
    }

    /// What is wrong with a key whose last part is unknown where it stands.
    static func message(parts: [String], known: [[String]]) -> String {
        let name = parts[parts.count - 1]
        let parent = Array(parts.dropLast())
        if parent.count == 1, let list = namedSections[parent[0]] {
            let listed = Self.children(of: parent, in: known.filter { $0.count > 2 })
            let names = listed.isEmpty ? "it lists none" : "it lists \(listed.joined(separator: ", "))"
            return "\(ConfigurationProblem.quoted(name)) is not named in \(list), so its settings are never read (\(names))"
        }
        let allowed = Self.children(of: parent, in: known)
        let place = parent.isEmpty ? "a section Sluice reads" : "a setting of \(parent.joined(separator: "."))"
        var message = "\(ConfigurationProblem.quoted(name)) is not \(place); allowed: \(allowed.joined(separator: ", "))"
        if let guess = closest(to: name, among: allowed) { message += " (did you mean \(guess)?)" }
        return message
    }

    /// The distinct next parts of the known keys under `prefix`, in the order read.
    static func children(of prefix: [String], in known: [[String]]) -> [String] {
        var children: [String] = []
        for key in known where key.count > prefix.count && key.starts(with: prefix) && !children.contains(key[prefix.count]) {
            children.append(key[prefix.count])
        }
        return children
    }

    /// The allowed name nearest a misspelt one, when it is near enough to be a likely typo.
    static func closest(to name: String, among allowed: [String]) -> String? {
        let target = Array(name.lowercased())
        var best: (name: String, distance: Int)?
        for candidate in allowed {
            let distance = editDistance(target, Array(candidate.lowercased()))
            if distance <= min(3, max(2, candidate.count / 3)), distance < (best?.distance ?? .max) { best = (name: candidate, distance: distance) }
        }
        return best?.name
    }

    /// Levenshtein distance.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}
