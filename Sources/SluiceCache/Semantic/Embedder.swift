/// Turns text into vectors whose cosine similarity says how alike two texts are.
public protocol Embedder: Sendable {
    /// A stable name; similarity thresholds are set per embedder.
    var name: String { get }
    /// Embeds texts; each vector has unit length.
    func embed(_ texts: [String]) async throws -> [[Float]]
}

/// Vector arithmetic on unit vectors.
enum Vector {
    static func dot(_ a: [Float], _ b: [Float]) -> Float {
        var sum: Float = 0
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                for i in 0..<min(a.count, b.count) { sum += a[i] * b[i] }
            }
        }
        return sum
    }

    static func normalized(_ v: [Float]) -> [Float] {
        let norm = dot(v, v).squareRoot()
        return norm > 0 ? v.map { $0 / norm } : v
    }
}
