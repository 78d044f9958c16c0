/// Turns text into vectors whose cosine similarity says how alike two texts are.
public protocol Embedder: Sendable {
    /// A stable name; similarity thresholds are set per embedder.
    var name: String { get }
    /// Embeds texts; each vector has unit length.
    func embed(_ texts: [String]) async throws -> [[Float]]
}

/// An embedder that can say whether two words are close in meaning, so that the semantic cache's term
/// check accepts a synonym it knows (a static model). Cheap: called for pairs of words during a lookup.
public protocol WordEmbedder: Embedder {
    /// Whether two stems are close in meaning.
    func related(_ a: String, _ b: String) -> Bool
}

/// Vector arithmetic on unit vectors.
enum Vector {
    static func dot(_ a: [Float], _ b: [Float]) -> Float {
        let count = min(a.count, b.count)
        return a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                var lanes = SIMD8<Float>()
                var i = 0
                while i + 8 <= count {
                    let x = SIMD8<Float>(a[i], a[i + 1], a[i + 2], a[i + 3], a[i + 4], a[i + 5], a[i + 6], a[i + 7])
                    let y = SIMD8<Float>(b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7])
                    lanes += x * y
                    i += 8
                }
                var sum = lanes.sum()
                while i < count {
                    sum += a[i] * b[i]
                    i += 1
                }
                return sum
            }
        }
    }

    static func normalized(_ v: [Float]) -> [Float] {
        let norm = dot(v, v).squareRoot()
        return norm > 0 ? v.map { $0 / norm } : v
    }
}
