/// A question as the semantic cache compares it: its language, the values it must agree on (numbers,
/// formulas, negation), and its content terms — canonical stems, template words dropped.
public struct Question: Sendable, Equatable {
    /// `en`, `mn` or `other` (by script): an answer is only served in the question's language.
    public var language: String
    /// Numbers (`#2`, `#0.5`) and formulas (`co2`) in the order written: `2 to the power of 10` is not
    /// `10 to the power of 2`, nor `2(x + 3)` `3(x + 2)`.
    public var values: [String]
    /// Whether the question negates.
    public var negated: Bool
    /// Content terms in order.
    public var terms: [String]

    /// What two questions must share to share an answer.
    public var guardString: String {
        language + "|" + values.joined(separator: ",") + (negated ? "|not" : "")
    }

    /// The terms of `terms` that `other` has no term for (the same stem, or the same word with one
    /// typo: a letter missing, added, changed or two swapped, in longer words).
    /// `related`, when the embedder knows words (a static model), also covers a term by a word it
    /// finds close in meaning (`fast` and `speed`).
    public static func uncovered(_ terms: [String], by other: [String], related: ((String, String) -> Bool)? = nil) -> [String] {
        let available = Set(other)
        return terms.filter { term in
            available.contains(term) || other.contains { word in typo(term, word) || related.map { Self.related(term, word, $0) } == true } ? false : true
        }
    }

    /// Whether the embedder relates two terms, which must carry the same mark (`?bit` is not `bit`).
    static func related(_ a: String, _ b: String, _ words: (String, String) -> Bool) -> Bool {
        let marks: Set<Character> = ["?", "→"]
        guard a.first.map(marks.contains) == b.first.map(marks.contains), !marks.contains(a.first ?? " ") || a.first == b.first else { return false }
        return words(String(a.drop { marks.contains($0) }), String(b.drop { marks.contains($0) }))
    }

    /// Whether two questions' terms cover each other, both ways: a question with something added —
    /// an instruction (`… and answer in pirate speak`), another condition, another object — never
    /// shares the plain question's answer, in either direction.
    public static func sameContent(_ a: [String], _ b: [String], related: ((String, String) -> Bool)? = nil) -> Bool {
        !a.isEmpty && !b.isEmpty && uncovered(a, by: b, related: related).isEmpty && uncovered(b, by: a, related: related).isEmpty
    }

    /// The terms with each one the vocabulary lacks replaced by a known term one typo away, if there is
    /// one: `photosythesis` becomes `photosynthesis` when a cached question has that word.
    public static func corrected(_ terms: [String], known: Set<String>, candidates: (String) -> [String]) -> [String] {
        terms.map { term in
            known.contains(term) ? term : candidates(term).first { typo(term, $0) } ?? term
        }
    }

    static let vowels: Set<Character> = ["a", "e", "i", "o", "u", "y", "а", "э", "о", "у", "ө", "ү", "ы", "и", "е", "ё", "ю", "я"]

    /// Where a term's typo neighbours are filed: its first letter and length.
    static func shape(_ term: String) -> String { "\(term.first.map(String.init) ?? "")\(term.count)" }

    /// The shapes a term's typo neighbours can have.
    static func neighbourShapes(_ term: String) -> [String] {
        let first = term.first.map(String.init) ?? ""
        return [term.count - 1, term.count, term.count + 1].map { first + String($0) }
    }

    /// Whether `a` and `b` differ by one typo and are long enough for that to be a typo, not another
    /// word: the longer has five letters or more, the shorter four, and they start alike.
    static func typo(_ a: String, _ b: String, shortest: Int = 4) -> Bool {
        // Mongolian stems have lost their later vowels: they are short, and a vowel typed for another
        // (`хувсгул` for `хөвсгөл`) is the common typo.
        let cyrillic = a.unicodeScalars.first.map { (0x400...0x4FF).contains($0.value) } ?? false
        let shortest = cyrillic ? min(shortest, 3) : shortest
        let (countA, countB) = (a.count, b.count)
        guard min(countA, countB) >= shortest, max(countA, countB) >= shortest + 1, abs(countA - countB) <= 1, a.first == b.first, a != b else { return false }
        let a = Array(a), b = Array(b)
        if a.count == b.count {
            let differences = a.indices.filter { a[$0] != b[$0] }
            // One letter for another, but not a vowel for a vowel in a shorter word: `alkane` and
            // `alkene`, `nitrite` and `nitrate` are other words; `probibility` is a typo.
            if differences.count == 1 { return cyrillic || a.count >= 8 || !(vowels.contains(a[differences[0]]) && vowels.contains(b[differences[0]])) }
            return differences.count == 2 && differences[1] == differences[0] + 1 && a[differences[0]] == b[differences[1]] && a[differences[1]] == b[differences[0]]
        }
        let (short, long) = a.count < b.count ? (a, b) : (b, a)
        var i = 0
        while i < short.count && short[i] == long[i] { i += 1 }
        return short[i...] == long[(i + 1)...]
    }
}
