import Foundation

/// Equivalent words and phrases of tutoring questions (`Lexicon/en.lexicon`, `Lexicon/mn.lexicon`):
/// `= canonical | variant | …` replaces each variant by the canonical phrase, `- phrase | …` drops
/// template phrases (`tell me`, `can you explain`). Phrases are matched on stems, so one entry covers
/// every form of its words; the longest phrase wins.
struct Lexicon: Sendable {
    /// Phrases by their first stem, longest first: what they become (empty when dropped).
    private(set) var phrases: [String: [(phrase: [String], replacement: [String])]] = [:]
    /// Problems met while reading: a line that is neither kind.
    private(set) var problems: [String] = []

    /// - Parameters:
    ///   - texts: the lexicon files' contents.
    ///   - normalize: turns a phrase into stems the way a question is.
    init(_ texts: [String], normalize: ([String]) -> [String]) {
        for text in texts {
            for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = raw.trimmingCharacters(in: .whitespaces)
                guard !line.isEmpty, !line.hasPrefix("#") else { continue }
                let body = line.dropFirst().split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                let parts = body.split(separator: "|").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                switch line.first {
                case "=":
                    guard let canonical = parts.first else { continue }
                    let replacement = normalize([canonical])
                    for variant in parts.dropFirst() { add(normalize([variant]), replacement) }
                case "-":
                    for phrase in parts { add(normalize([phrase]), []) }
                default:
                    problems.append("line \(number + 1): \(line.prefix(40))")
                }
            }
        }
        for key in phrases.keys { phrases[key]!.sort { $0.phrase.count > $1.phrase.count } }
    }

    private mutating func add(_ phrase: [String], _ replacement: [String]) {
        guard let first = phrase.first, phrase != replacement else { return }
        // The first entry for a phrase wins: files are read in order, and a later line never overrides.
        if phrases[first]?.contains(where: { $0.phrase == phrase }) == true { return }
        phrases[first, default: []].append((phrase, replacement))
    }

    /// The stems with every known phrase replaced, left to right, longest first.
    func apply(_ stems: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        while i < stems.count {
            if let candidates = phrases[stems[i]],
               let match = candidates.first(where: { i + $0.phrase.count <= stems.count && Array(stems[i..<(i + $0.phrase.count)]) == $0.phrase })
            {
                out += match.replacement
                i += match.phrase.count
            } else {
                out.append(stems[i])
                i += 1
            }
        }
        return out
    }
}
