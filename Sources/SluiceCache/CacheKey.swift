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
        var parts: [Any] = ["sluice-exact-v1", tenant, request.model, namespace]
        parts.append(request.messages.map { [$0.role, $0.name ?? "", $0.content] })
        parts.append(request.temperature.map { String($0) } ?? "")
        parts.append(request.topP.map { String($0) } ?? "")
        parts.append(request.tokenCap.map { String($0) } ?? "")
        if let mock = request.mock {
            parts.append([mock.ttftMs.map(String.init) ?? "", mock.tokens.map(String.init) ?? "", mock.tokensPerSecond.map { String($0) } ?? "", mock.fail ?? ""])
        }
        let data = (try? JSONSerialization.data(withJSONObject: parts, options: [.sortedKeys])) ?? Data()
        return SHA256.hash(data: data).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
