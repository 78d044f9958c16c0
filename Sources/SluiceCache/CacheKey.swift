import Crypto
import Foundation
public import SluiceCore

/// The exact-cache key: SHA-256 over a canonical form of everything that changes an answer — the
/// tenant (so no key is ever shared across tenants), the namespace, and the whole request as the caller
/// sent it (every message with every part and field, tools, response format, stop, seed, every sampling
/// option, a mock script), with its members sorted. Left out: `stream` and `stream_options` (a streamed
/// and a plain request get the same answer), `user` and `metadata` (they name, not change, the answer).
public enum CacheKey {
    /// Request fields that do not change the answer.
    static let ignored: Set<String> = ["stream", "stream_options", "user", "metadata"]

    /// The key of a request.
    /// - Parameters:
    ///   - request: the chat request as the caller sent it.
    ///   - tenant: the caller's tenant.
    ///   - namespace: the cache namespace, empty for none.
    public static func exact(_ request: ChatRequest, tenant: String, namespace: String) -> String {
        var fields = request.fields.filter { !ignored.contains($0.key) }
        if let mock = request.mock, let data = try? encoder.encode(mock) { fields["mock"] = .string(String(decoding: data, as: UTF8.self)) }
        // Hashed as it is walked, not encoded first (a profile of cache hits found the sorted encoding costly).
        var hash = CanonicalHash()
        hash.feed("sluice-exact-v4")
        hash.feed(tenant)
        hash.feed(namespace)
        hash.feed(.object(fields))
        return hash.hex()
    }

    /// Every parameter besides the messages that changes an answer, in canonical form: the semantic
    /// layer keys its partitions on it, so the two layers cannot disagree about what makes answers differ.
    public static func parameters(_ request: ChatRequest) -> [String] {
        var fields = request.fields.filter { !ignored.contains($0.key) && $0.key != "messages" && $0.key != "model" }
        if let mock = request.mock, let data = try? encoder.encode(mock) { fields["mock"] = .string(String(decoding: data, as: UTF8.self)) }
        let data = (try? encoder.encode(JSONValue.object(fields))) ?? Data()
        return [String(decoding: data, as: UTF8.self)]
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func hex(_ digest: some Sequence<UInt8>) -> String { CanonicalHash.hex(digest) }
}
