public import Foundation

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

    /// A new id that sorts after the ids made before it (to the millisecond): the time in milliseconds,
    /// then `words` random 64-bit words, all in hexadecimal. A B-tree keyed by such ids takes new rows at
    /// its right edge, so that a commit of many new rows writes a few pages, not one page per row.
    public static func timeOrdered(_ prefix: String, words: Int, now: Date = Date()) -> String {
        let milliseconds = String(UInt64(max(0, now.timeIntervalSince1970 * 1000)), radix: 16)
        return make(prefix + String(repeating: "0", count: max(0, 16 - milliseconds.count)) + milliseconds, words: words)
    }
}
