public import Foundation

/// Unguessable ids: a prefix and random 64-bit words in hexadecimal (`job_…`, `msg_…`, `file-…`).
public enum RandomID {
    /// A new id.
    /// - Parameters:
    ///   - prefix: what it starts with.
    ///   - words: how many random 64-bit words follow (16 hex digits each).
    public static func make(_ prefix: String, words: Int) -> String {
        var rng = SystemRandomNumberGenerator()
        return prefix + (0..<words).map { _ in hex(rng.next()) }.joined()
    }

    /// A new id that sorts after the ids made before it (to the millisecond): the time in milliseconds,
    /// then `words` random 64-bit words, all in hexadecimal. A B-tree keyed by such ids takes new rows at
    /// its right edge, so that a commit of many new rows writes a few pages, not one page per row.
    public static func timeOrdered(_ prefix: String, words: Int, now: Date = Date()) -> String {
        make(prefix + hex(UInt64(max(0, now.timeIntervalSince1970 * 1000))), words: words)
    }

    /// A 64-bit word as 16 hexadecimal digits.
    private static func hex(_ word: UInt64) -> String {
        let digits = String(word, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
