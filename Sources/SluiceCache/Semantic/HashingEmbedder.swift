import Foundation

/// The built-in embedder: no network, no model download, English and Mongolian (other scripts by
/// their words as written). A question is read by `QuestionAnalyzer` — numbers, ordinals and math
/// notation normalised, words stemmed (English suffixes; Mongolian endings and fleeting vowels), the
/// lexicon's equivalent phrases made one, template and stop words dropped — and each content term and
/// its character trigrams (which tolerate typos) are hashed into a fixed number of signed dimensions
/// (the hashing trick); the vector is normalised.
///
/// What decides an answer but barely moves such a vector — numbers, negation, language — is the
/// question's `guardString`: the semantic cache only compares questions with the same guard.
public struct HashingEmbedder: Embedder {
    public let name = "hashing-v2"
    /// Dimensions (default 384).
    public let dimensions: Int
    let analyzer: QuestionAnalyzer

    /// - Parameter dimensions: vector length.
    public init(dimensions: Int = 384) {
        self.dimensions = dimensions
        self.analyzer = .shared
    }

    public func embed(_ texts: [String]) async throws -> [[Float]] { texts.map(vector) }

    /// The vector of one text.
    public func vector(_ text: String) -> [Float] { vector(analyzer.analyze(text)) }

    /// The vector of an analysed question.
    public func vector(_ question: Question) -> [Float] {
        var v = [Float](repeating: 0, count: dimensions)
        func add(_ feature: String, _ weight: Float) {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in feature.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            let index = Int(hash % UInt64(dimensions))
            v[index] += (hash >> 63) == 0 ? weight : -weight
        }
        for term in question.terms {
            add("w:" + term, 1)
            let scalars = [UnicodeScalar(" ")] + Array(term.unicodeScalars) + [UnicodeScalar(" ")]
            guard scalars.count >= 3 else { continue }
            let weight = 0.6 / Float(scalars.count - 2).squareRoot()
            for i in 0...(scalars.count - 3) { add("t:" + String(String.UnicodeScalarView(scalars[i..<(i + 3)])), weight) }
        }
        return Vector.normalized(v)
    }
}
