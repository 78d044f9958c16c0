import Foundation

/// The built-in embedder: no network, no model download, any script (Latin, Cyrillic, …). Text is
/// lower-cased and split into words; stop words (English and Mongolian) are dropped; each word gives
/// its five-letter stem (which folds most English and Mongolian suffixes: `refraction`/`refracts`,
/// `гэрлийн`/`гэрэл` stay close) and its character trigrams; features are hashed into a fixed number of
/// signed dimensions (the hashing trick), weighted, and the vector is normalised.
///
/// Numbers and negations decide an answer but barely move such a vector, so they are kept as a
/// `guard` string: the semantic cache only matches texts with the same guard ("5 kg" never matches
/// "10 kg", "is" never matches "is not").
public struct HashingEmbedder: Embedder {
    public let name = "hashing-v1"
    /// Dimensions (default 384).
    public let dimensions: Int

    /// - Parameter dimensions: vector length.
    public init(dimensions: Int = 384) {
        self.dimensions = dimensions
    }

    static let stopWords: Set<String> = [
        "a", "an", "the", "is", "are", "was", "were", "be", "do", "does", "did", "what", "why", "how", "which", "who", "when", "where",
        "of", "in", "on", "at", "to", "for", "and", "or", "it", "its", "this", "that", "please", "can", "you", "me", "i", "my", "explain",
        "tell", "about", "with", "by", "from", "as", "into", "we", "so", "if", "would", "could", "should", "will",
        "вэ", "бэ", "юу", "яагаад", "нь", "бол", "гэж", "гэдэг", "ямар", "юм", "уу", "үү", "вэл", "хэрхэн", "тайлбарла", "тайлбарлана",
        "энэ", "тэр", "ба", "болон", "ын", "ийн", "д", "т", "нд", "яаж", "хэд", "ямар", "та", "би", "надад", "өгнө",
    ]

    static let negations: Set<String> = ["not", "no", "never", "without", "isn't", "doesn't", "don't", "can't", "cannot", "won't", "биш", "үгүй", "гүй", "бус"]

    /// The words of a text: lower-cased runs of letters and digits.
    static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        for scalar in text.lowercased().unicodeScalars {
            if CharacterSet.alphanumerics.contains(scalar) || scalar == "'" {
                current.unicodeScalars.append(scalar)
            } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
        }
        if !current.isEmpty { words.append(current) }
        // "what's" is "what", "light's" is "light".
        return words.map { $0.hasSuffix("'s") ? String($0.dropLast(2)) : $0 }
    }

    /// What must be equal for two texts to share an answer: their numbers and whether they negate.
    public static func guardString(_ text: String) -> String {
        let words = words(text)
        let numbers = words.filter { $0.unicodeScalars.contains { CharacterSet.decimalDigits.contains($0) } }.sorted()
        let negated = words.contains { negations.contains($0) || $0.hasSuffix("n't") || $0.hasSuffix("гүй") }
        return numbers.joined(separator: ",") + (negated ? "|not" : "")
    }

    public func embed(_ texts: [String]) async throws -> [[Float]] { texts.map(vector) }

    /// The vector of one text.
    public func vector(_ text: String) -> [Float] {
        var v = [Float](repeating: 0, count: dimensions)
        func add(_ feature: String, _ weight: Float) {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in feature.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            let index = Int(hash % UInt64(dimensions))
            v[index] += (hash >> 63) == 0 ? weight : -weight
        }
        for word in Self.words(text) where !Self.stopWords.contains(word) {
            let scalars = Array(word.unicodeScalars)
            let stem = String(String.UnicodeScalarView(scalars.prefix(5)))
            add("s:" + stem, 2.0)
            let padded = [UnicodeScalar(" ")] + scalars + [UnicodeScalar(" ")]
            if padded.count >= 3 {
                for i in 0...(padded.count - 3) { add("t:" + String(String.UnicodeScalarView(padded[i..<(i + 3)])), 0.5) }
            }
        }
        return Vector.normalized(v)
    }
}
