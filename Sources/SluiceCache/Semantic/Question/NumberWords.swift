import Foundation

/// Number words and ordinals in English and Mongolian, read from `Lexicon/numbers.lexicon`
/// (`word = value`, `word = value ordinal`).
struct NumberWords: Sendable {
    /// Cardinals below a hundred (`seven`, `долоон`).
    var cardinals: [String: Double] = [:]
    /// Hundred, thousand, million (`зуун`, `мянга`).
    var multipliers: [String: Double] = [:]
    /// Ordinals (`second`, `хоёрдугаар`).
    var ordinals: [String: Double] = [:]

    /// Mongolian endings that make an ordinal of a number (`хоёр дахь`, `2-р`, `гуравдугаар`).
    static let ordinalEndings = ["дугаар", "дүгээр", "дахь", "дэх", "дох", "дөх", "р"]

    init(_ text: String) {
        for line in text.split(whereSeparator: \.isNewline) {
            let line = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let sides = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard sides.count == 2 else { continue }
            let words = sides[1].split(separator: " ")
            guard let first = words.first, let value = Double(first) else { continue }
            let word = sides[0].lowercased()
            if words.dropFirst().contains("ordinal") {
                ordinals[word] = value
            } else if value >= 100, value == value.rounded(), [100.0, 1000, 1_000_000, 1_000_000_000].contains(value) {
                multipliers[word] = value
            } else {
                cardinals[word] = value
            }
        }
    }

    /// The value of an ordinal written as one word: a listed ordinal, or a cardinal with a Mongolian
    /// ordinal ending (`долоодугаар`, `тавдахь`).
    func ordinal(_ word: String) -> Double? {
        if let value = ordinals[word] { return value }
        for ending in Self.ordinalEndings where ending.count > 1 && word.hasSuffix(ending) {
            if let value = cardinals[String(word.dropLast(ending.count))] { return value }
        }
        return nil
    }
}
