/// Unguessable ids: a prefix and random 64-bit words in hexadecimal (`job_…`, `msg_…`, `file-…`).
public enum RandomID {
    /// A new id.
    /// - Parameters:
    ///   - prefix: what it starts with.
    ///   - words: how many random 64-bit words follow (16 hex digits each).
    public static func make(_ prefix: String, words: Int) -> String {
        var rng = SystemRandomNumberGenerator()
        return prefix + (0..<words).map { _ in
            let hex = String(rng.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}
