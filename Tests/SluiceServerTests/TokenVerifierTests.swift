import AsyncHTTPClient
import Foundation
@testable import SluiceServer
import SluiceCore
import SluiceTesting
import Testing

/// The token verifier on its own: keys from a JWKS file and an HS256 secret, and each refusal with its reason.
@Suite struct TokenVerifierTests {
    static func verifier(_ tokens: TestTokens, hmac: Bool = false, file: Bool = true) throws -> TokenVerifier {
        var path: String?
        if file {
            path = TemporaryDirectory.make() + "/jwks.json"
            try tokens.jwks().write(toFile: path!, atomically: true, encoding: .utf8)
        }
        return TokenVerifier(
            settings: .init(issuer: "https://idp.example", audience: "sluice", jwksFile: path, hmacSecret: hmac ? tokens.hmacSecret : nil, tenant: "school-a"),
            httpClient: .shared)
    }

    static func claims(_ extra: [String: JSONValue] = [:], expiresIn: Int64 = 300) -> [String: JSONValue] {
        TestTokens.claims(subject: "alice", issuer: "https://idp.example", audience: "sluice", expiresIn: expiresIn, extra: extra)
    }

    static func reason(_ verifier: TokenVerifier, _ token: String) async -> String? {
        do {
            _ = try await verifier.verify(token)
            return nil
        } catch let error as SluiceError {
            #expect(error.code == .invalidToken)
            return error.details["reason"]
        } catch {
            return "\(error)"
        }
    }

    @Test func keysFromAFileVerifyRSAAndECTokensAndTheirClaims() async throws {
        let tokens = try TestTokens()
        let verifier = try Self.verifier(tokens)
        let rsa = try await verifier.verify(try await tokens.token(claims: Self.claims(["role": "teacher", "plan": "paid"])))
        #expect(rsa == VerifiedToken(tenant: "school-a", user: "alice", role: "teacher", plan: "paid"))
        let ec = try await verifier.verify(try await tokens.token(alg: "ES256", claims: Self.claims()))
        #expect(ec.user == "alice")
        // With only public keys, an HMAC token is refused as algorithm confusion, whatever its secret.
        let hmacToken = try await tokens.token(alg: "HS256", claims: Self.claims())
        #expect(await Self.reason(verifier, hmacToken) != nil)
    }

    @Test func anHS256SecretVerifiesItsTokens() async throws {
        let tokens = try TestTokens()
        let verifier = try Self.verifier(tokens, hmac: true, file: false)
        #expect(try await verifier.verify(try await tokens.token(alg: "HS256", claims: Self.claims())).user == "alice")
        let rsaToken = try await tokens.token(claims: Self.claims())
        #expect(await Self.reason(verifier, rsaToken) != nil)  // no public keys configured
    }

    @Test func eachRefusalSaysWhy() async throws {
        let tokens = try TestTokens()
        let verifier = try Self.verifier(tokens)
        let now = Int64(Date().timeIntervalSince1970)
        let cases: [(String, String)] = [
            ("expired", try await tokens.token(claims: Self.claims(expiresIn: -600))),
            ("not yet valid", try await tokens.token(claims: Self.claims(["nbf": .int(now + 600)]))),
            ("issuer", try await tokens.token(claims: TestTokens.claims(issuer: "https://other.example", audience: "sluice"))),
            ("audience", try await tokens.token(claims: TestTokens.claims(issuer: "https://idp.example", audience: "other"))),
            ("signature", try await tokens.forged(claims: Self.claims())),
            ("none", tokens.unsigned(claims: Self.claims())),
        ]
        var reasons: Set<String> = []
        for (what, token) in cases {
            let reason = await Self.reason(verifier, token)
            #expect(reason != nil, "\(what) was accepted")
            reasons.insert(reason ?? "")
        }
        // Each kind of refusal has its own reason.
        #expect(reasons.count == cases.count, "\(reasons)")
        for malformed in TestTokens.malformed {
            #expect(await Self.reason(verifier, malformed) != nil)
        }
    }
}
