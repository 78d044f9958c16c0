import CryptoExtras
import Foundation
import JWTKit
public import SluiceCore

/// Keys made at run time (none is committed) and JWTs signed with them, for testing end-user token
/// verification: honest tokens (RS256, ES256, HS256), the public JWKS to verify them with, and hostile
/// ones — unsigned (`alg: none`), HS256 keyed with the RSA public key (algorithm confusion), forged by
/// another key under the same kid, tampered, malformed.
public struct TestTokens: Sendable {
    /// The kid of the RSA key.
    public let rsaKid: String
    /// The kid of the EC P-256 key.
    public let ecKid: String
    /// A random HS256 secret (64 hex characters).
    public let hmacSecret: String

    private let rsa: JWTKit.Insecure.RSA.PrivateKey
    private let ec: ES256PrivateKey
    /// The RSA public key's modulus and exponent, base64url.
    private let rsaModulus: String
    private let rsaExponent: String
    /// The EC public key's coordinates, base64url.
    private let ecX: String
    private let ecY: String

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Makes an RSA 2048 key and an EC P-256 key.
    public init(rsaKid: String = "test-rsa", ecKid: String = "test-ec") throws {
        self.rsaKid = rsaKid
        self.ecKid = ecKid
        hmacSecret = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let rsaKey = try Self.newRSAKey()
        let primitives = try rsaKey.publicKey.getKeyPrimitives()
        rsa = rsaKey
        rsaModulus = Self.base64URL(primitives.modulus)
        rsaExponent = Self.base64URL(primitives.publicExponent)
        let ecKey = ES256PrivateKey()
        guard let point = ecKey.parameters else { throw Failure(description: "the EC key has no coordinates") }
        ec = ecKey
        ecX = point.x
        ecY = point.y
    }

    private static func newRSAKey() throws -> JWTKit.Insecure.RSA.PrivateKey {
        try JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
    }

    // MARK: Honest

    /// Claims of an honest token: `sub`, `iat`, `exp` in `expiresIn` seconds (negative for one that has
    /// expired), `iss` and `aud` when given, then `extra` (which wins).
    public static func claims(
        subject: String = "alice", issuer: String? = nil, audience: String? = nil, expiresIn: Int64 = 300,
        extra: [String: JSONValue] = [:]
    ) -> [String: JSONValue] {
        let now = Int64(Date().timeIntervalSince1970)
        var claims: [String: JSONValue] = ["sub": .string(subject), "iat": .int(now), "exp": .int(now + expiresIn)]
        if let issuer { claims["iss"] = .string(issuer) }
        if let audience { claims["aud"] = .string(audience) }
        return claims.merging(extra) { $1 }
    }

    /// The public keys as a JWKS document (`n`/`e` for RSA, `crv`/`x`/`y` for EC, base64url).
    /// - Parameters:
    ///   - rsa: whether to include the RSA key.
    ///   - ec: whether to include the EC key.
    ///   - withAlgorithm: false leaves `alg` out, as some identity providers do.
    public func jwks(rsa includeRSA: Bool = true, ec includeEC: Bool = true, withAlgorithm: Bool = true) -> String {
        var keys: [JSONValue] = []
        if includeRSA { keys.append(rsaJWK(withAlgorithm: withAlgorithm)) }
        if includeEC { keys.append(ecJWK(withAlgorithm: withAlgorithm)) }
        return Self.jsonText(.object(["keys": .array(keys)]))
    }

    private func rsaJWK(withAlgorithm: Bool) -> JSONValue {
        var key: [String: JSONValue] = ["kty": "RSA", "use": "sig", "kid": .string(rsaKid), "n": .string(rsaModulus), "e": .string(rsaExponent)]
        if withAlgorithm { key["alg"] = "RS256" }
        return .object(key)
    }

    private func ecJWK(withAlgorithm: Bool) -> JSONValue {
        var key: [String: JSONValue] = ["kty": "EC", "use": "sig", "kid": .string(ecKid), "crv": "P-256", "x": .string(ecX), "y": .string(ecY)]
        if withAlgorithm { key["alg"] = "ES256" }
        return .object(key)
    }

    /// A token signed by the test key for `alg` (RS256, ES256, or HS256 with ``hmacSecret``), its header
    /// naming that key's kid (none for HS256).
    public func token(alg: String = "RS256", claims: [String: JSONValue]) async throws -> String {
        try await token(kid: alg == "RS256" ? rsaKid : (alg == "ES256" ? ecKid : nil), alg: alg, claims: claims)
    }

    /// A token signed by the test key for `alg` (RS256, ES256, or HS256 with ``hmacSecret``).
    /// - Parameters:
    ///   - kid: the header's kid (nil for none; another kid than the key's for an unknown key).
    ///   - alg: which key signs.
    ///   - claims: the payload.
    ///   - headerAlg: a header `alg` other than the key's, for a token whose algorithm is not its key's.
    public func token(kid: String?, alg: String = "RS256", claims: [String: JSONValue], headerAlg: String? = nil) async throws -> String {
        let keys = JWTKeyCollection()
        switch alg {
        case "RS256": await keys.add(rsa: rsa, digestAlgorithm: .sha256)
        case "ES256": await keys.add(ecdsa: ec)
        case "HS256": await keys.add(hmac: HMACKey(from: hmacSecret), digestAlgorithm: .sha256)
        default: throw Failure(description: "TestTokens signs RS256, ES256 and HS256, not \(alg)")
        }
        return try await Self.sign(claims, with: keys, kid: kid, alg: headerAlg)
    }

    // MARK: Hostile

    /// An unsigned token: header `{"alg":"none"}` (or another spelling of it), the claims, an empty signature.
    public func unsigned(claims: [String: JSONValue], alg: String = "none", kid: String? = nil) -> String {
        var header: [String: JSONValue] = ["alg": .string(alg), "typ": "JWT"]
        if let kid { header["kid"] = .string(kid) }
        return Self.base64URL(Self.jsonData(.object(header))) + "." + Self.base64URL(Self.jsonData(.object(claims))) + "."
    }

    /// The classic algorithm confusion: HS256 under the RSA key's kid, keyed with the RSA public key as a
    /// verifier that uses the key's bytes as an HMAC secret would see it — its PEM, or its JWK's JSON.
    public func confused(claims: [String: JSONValue], keyedWithJWK: Bool = false) async throws -> String {
        let secret = keyedWithJWK ? Self.jsonText(rsaJWK(withAlgorithm: true)) : rsa.publicKey.pemRepresentation
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await Self.sign(claims, with: keys, kid: rsaKid, alg: nil)
    }

    /// A forgery: well formed and naming the test key's kid for `alg` (RS256 or ES256), but signed by
    /// another key of the same kind, made now.
    public func forged(alg: String = "RS256", claims: [String: JSONValue]) async throws -> String {
        let keys = JWTKeyCollection()
        switch alg {
        case "RS256":
            let other = try Self.newRSAKey()
            await keys.add(rsa: other, digestAlgorithm: .sha256)
        case "ES256":
            await keys.add(ecdsa: ES256PrivateKey())
        default:
            throw Failure(description: "TestTokens forges RS256 and ES256, not \(alg)")
        }
        return try await Self.sign(claims, with: keys, kid: alg == "RS256" ? rsaKid : ecKid, alg: nil)
    }

    /// `token` with its payload replaced by `claims`, its header and signature kept.
    public static func tampered(_ token: String, claims: [String: JSONValue]) -> String {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return token }
        return "\(parts[0]).\(base64URL(jsonData(.object(claims)))).\(parts[2])"
    }

    /// Strings that are not JWTs, or whose header is not one.
    public static var malformed: [String] {
        let payload = base64URL(Data(#"{"sub":"alice"}"#.utf8))
        return [
            "",
            "not-a-token",
            "a.b",
            "a.b.c.d",
            "..",
            "!!.@@.##",
            "eyJhbGciOiJSUzI1NiJ9..c2ln",  // empty payload
            base64URL(Data("[1,2]".utf8)) + ".\(payload).c2ln",  // header is an array
            base64URL(Data(#"{"alg":"RS256""#.utf8)) + ".\(payload).c2ln",  // header is cut short
            base64URL(Data(#"{"typ":"JWT"}"#.utf8)) + ".\(payload).c2ln",  // header has no alg
            base64URL(Data(#"{"alg":7}"#.utf8)) + ".\(payload).c2ln",  // alg is not a string
            "eyJhbGciOiJSUzI1NiJ9.\(payload).c2ln=",  // padding is not base64url
            String(repeating: "a", count: 40_000) + ".\(payload).c2ln",  // too long
        ]
    }

    // MARK: Encoding

    private static func sign(_ claims: [String: JSONValue], with keys: JWTKeyCollection, kid: String?, alg: String?) async throws -> String {
        var header = JWTHeader()
        if let kid { header.kid = kid }
        if let alg { header.alg = alg }
        // The collection holds one key, its default, which signs whatever kid the header names.
        return try await keys.sign(AnyClaims(values: claims), header: header)
    }

    private static func jsonData(_ value: JSONValue) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data()
    }

    private static func jsonText(_ value: JSONValue) -> String {
        String(decoding: jsonData(value), as: UTF8.self)
    }

    private static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// A payload of any claims.
private struct AnyClaims: JWTPayload {
    var values: [String: JSONValue]

    init(values: [String: JSONValue]) {
        self.values = values
    }

    init(from decoder: any Decoder) throws {
        values = try [String: JSONValue](from: decoder)
    }

    func encode(to encoder: any Encoder) throws {
        try values.encode(to: encoder)
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
