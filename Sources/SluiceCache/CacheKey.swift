import Crypto
import Foundation
public import SluiceCore

/// The exact-cache key: SHA-256 over a canonical form of everything that changes an answer — the
/// tenant (so no key is ever shared across tenants), the model alias, the namespace, every message
/// (role, name, text), and the sampling parameters. `stream` is left out: a streamed and a plain
/// request get the same answer.
public enum CacheKey {
    /// The key of a request.
    /// - Parameters:
    ///   - request: the chat request as the caller sent it.
    ///   - tenant: the caller's tenant.
    ///   - namespace: the cache namespace, empty for none.
    public static func exact(_ request: ChatRequest, tenant: String, namespace: String) -> String {
        var parts: [Any] = ["sluice-exact-v2", tenant, request.model, namespace]
        parts.append(request.messages.map { [$0.role, $0.name ?? "", $0.content] })
        parts.append(parameters(request))
        let data = (try? JSONSerialization.data(withJSONObject: parts, options: [.sortedKeys])) ?? Data()
        return hex(SHA256.hash(data: data))
    }

    /// Every parameter besides the messages that changes an answer: sampling, the token cap, and a
    /// mock script. Both cache layers key on it, so they cannot disagree about what makes answers differ.
    public static func parameters(_ request: ChatRequest) -> [String] {
        var values = [request.temperature.map { String($0) } ?? "", request.topP.map { String($0) } ?? "", request.tokenCap.map(String.init) ?? ""]
        if let mock = request.mock {
            values += [mock.ttftMs.map(String.init) ?? "", mock.tokens.map(String.init) ?? "", mock.tokensPerSecond.map { String($0) } ?? "", mock.fail ?? ""]
        }
        return values
    }

    static func hex(_ digest: some Sequence<UInt8>) -> String {
        digest.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
