import Crypto
import Foundation

/// Signs callbacks as the Standard Webhooks specification says: `webhook-signature` is `v1,` and the
/// base64 HMAC-SHA256 of `id.timestamp.body`, once per secret (space-separated), so that a receiver
/// rotating its secret accepts either.
struct WebhookSigner: Sendable {
    let keys: [SymmetricKey]

    /// Nil when no secret is set.
    init?(secrets: [String]) {
        let keys = secrets.compactMap(Self.key)
        guard !keys.isEmpty else { return nil }
        self.keys = keys
    }

    /// The key of a secret written `whsec_<base64>` (24 to 64 bytes); nil when it is not one.
    static func key(_ secret: String) -> SymmetricKey? {
        guard secret.hasPrefix("whsec_"), let bytes = Data(base64Encoded: String(secret.dropFirst(6))), (24...64).contains(bytes.count) else {
            return nil
        }
        return SymmetricKey(data: bytes)
    }

    /// The `webhook-signature` header's value.
    func signature(id: String, timestamp: Int, body: Data) -> String {
        var signed = Data("\(id).\(timestamp).".utf8)
        signed.append(body)
        return keys.map { key in
            "v1," + Data(HMAC<SHA256>.authenticationCode(for: signed, using: key)).base64EncodedString()
        }.joined(separator: " ")
    }
}
