public import AsyncHTTPClient
import Foundation
import JWTKit
public import Logging
public import SluiceCore

/// Who an end-user token says the caller is, once it has been verified.
public struct VerifiedToken: Sendable, Equatable {
    /// The tenant: the fixed one, else the tenant claim's; nil when neither.
    public var tenant: String?
    /// The end user (the user claim, `sub` by default).
    public var user: String
    /// The role claim, when the token has one.
    public var role: String?
    /// The plan claim, when the token has one.
    public var plan: String?

    public init(tenant: String?, user: String, role: String?, plan: String?) {
        self.tenant = tenant
        self.user = user
        self.role = role
        self.plan = plan
    }
}

/// Verifies end users' JWTs with jwt-kit: the signature, by a public key of a JWKS (file or URL, see
/// ``KeySet``) or by a shared HS256 secret, then `exp` (required), `nbf`, `iat`, `iss` and `aud` with a leeway,
/// then the user, tenant, role and plan claims.
///
/// The header is judged here before any key is used, because jwt-kit does not: it verifies with the key's
/// own algorithm whatever the header says, and falls back to its default key for a kid it does not know.
/// So `alg: none` is refused, an HS* token is refused as algorithm confusion when only public keys are
/// configured (the secret is never a public key), a kid not in the set is refused as unknown, and a
/// header `alg` that is not its key's is refused. A refusal is ``SluiceError/Code/invalidToken`` with the
/// reason in English and Mongolian; no error, log or description ever holds the token.
public final class TokenVerifier: Sendable {
    /// How tokens are verified and read.
    public struct Settings: Sendable, CustomStringConvertible {
        /// The `iss` every token must have; nil to accept any.
        public var issuer: String?
        /// A value `aud` must contain; nil to accept any.
        public var audience: String?
        /// A JWKS file of public keys.
        public var jwksFile: String?
        /// A JWKS URL of public keys.
        public var jwksURL: String?
        /// The HS256 secret (at least 32 bytes), already read from its environment variable.
        public var hmacSecret: String?
        /// The clock skew allowed on `exp`, `nbf` and `iat`.
        public var leewaySeconds: Double
        /// A tenant for every token.
        public var tenant: String?
        /// The claim naming the tenant, when `tenant` is not fixed.
        public var tenantClaim: String?
        /// The claim naming the user.
        public var userClaim: String
        /// The claim naming the role.
        public var roleClaim: String
        /// The claim naming the plan.
        public var planClaim: String

        public init(
            issuer: String? = nil, audience: String? = nil, jwksFile: String? = nil, jwksURL: String? = nil,
            hmacSecret: String? = nil, leewaySeconds: Double = 30, tenant: String? = nil, tenantClaim: String? = nil,
            userClaim: String = "sub", roleClaim: String = "role", planClaim: String = "plan"
        ) {
            self.issuer = issuer
            self.audience = audience
            self.jwksFile = jwksFile
            self.jwksURL = jwksURL
            self.hmacSecret = hmacSecret
            self.leewaySeconds = leewaySeconds
            self.tenant = tenant
            self.tenantClaim = tenantClaim
            self.userClaim = userClaim
            self.roleClaim = roleClaim
            self.planClaim = planClaim
        }

        /// The settings without the secret.
        public var description: String {
            "Settings(issuer: \(issuer ?? "any"), audience: \(audience ?? "any"), jwksFile: \(jwksFile ?? "none"), "
                + "jwksURL: \(jwksURL ?? "none"), hmacSecret: \(hmacSecret == nil ? "none" : "set"), leewaySeconds: \(leewaySeconds))"
        }
    }

    /// Why a token was refused.
    public enum Refusal: Sendable, Equatable {
        case malformed
        case algorithmNone
        case algorithmConfusion
        case unsupportedAlgorithm
        case algorithmMismatch
        case unknownKey
        case badSignature
        case missingExpiry
        case expired
        case notYetValid
        case wrongIssuer
        case wrongAudience
        /// The user claim (named) is absent or empty.
        case missingSubject(claim: String)
        /// A claim (named) that is not a string of at most `limit` characters without control characters.
        case invalidClaim(String, limit: Int)

        /// The reason in English, after "The token was refused: ".
        public var english: String {
            switch self {
            case .malformed: "it is not a well-formed JWT"
            case .algorithmNone: "unsigned tokens (alg none) are not accepted"
            case .algorithmConfusion: "it is signed with a shared secret (HMAC), but this server accepts only public-key signatures"
            case .unsupportedAlgorithm: "its signing algorithm is not accepted"
            case .algorithmMismatch: "its algorithm is not the one of its key"
            case .unknownKey: "it names a key (kid) this server does not know"
            case .badSignature: "its signature is not valid"
            case .missingExpiry: "it has no expiry time (exp)"
            case .expired: "it has expired"
            case .notYetValid: "it is not valid yet (nbf or iat in the future)"
            case .wrongIssuer: "it was issued by an issuer (iss) this server does not trust"
            case .wrongAudience: "it was not issued for this server (aud)"
            case .missingSubject(let claim): "it names no user (claim '\(claim)')"
            case .invalidClaim(let claim, let limit): "its claim '\(claim)' must be a string of at most \(limit) characters without control characters"
            }
        }

        /// The reason in Mongolian, after "Токеныг хүлээн авсангүй: ".
        public var mongolian: String {
            switch self {
            case .malformed: "зөв бүтэцтэй JWT биш байна"
            case .algorithmNone: "гарын үсэггүй токен (alg none) хүлээн авахгүй"
            case .algorithmConfusion: "нууц түлхүүрээр (HMAC) гарын үсэг зурсан байна, харин энэ сервер зөвхөн нийтийн түлхүүрийн гарын үсгийг хүлээн авдаг"
            case .unsupportedAlgorithm: "гарын үсгийн алгоритмыг нь хүлээн авахгүй"
            case .algorithmMismatch: "алгоритм нь түлхүүрийнхээ алгоритмтай таарахгүй байна"
            case .unknownKey: "энэ серверт үл мэдэгдэх түлхүүрийг (kid) заасан байна"
            case .badSignature: "гарын үсэг нь хүчингүй байна"
            case .missingExpiry: "дуусах хугацаа (exp) заагаагүй байна"
            case .expired: "хугацаа нь дууссан байна"
            case .notYetValid: "хараахан хүчин төгөлдөр болоогүй байна (nbf эсвэл iat ирээдүйн цаг заасан)"
            case .wrongIssuer: "энэ серверийн итгэдэггүй олгогч (iss) гаргасан байна"
            case .wrongAudience: "энэ серверт зориулагдаагүй байна (aud)"
            case .missingSubject(let claim): "хэрэглэгчийг заагаагүй байна ('\(claim)' талбар)"
            case .invalidClaim(let claim, let limit): "'\(claim)' талбар нь хяналтын тэмдэгтгүй, дээд тал нь \(limit) тэмдэгттэй мөр байх ёстой"
            }
        }

        /// The error a caller gets.
        public var error: SluiceError {
            SluiceError(.invalidToken, details: ["reason": english, "reason_mn": mongolian])
        }
    }

    /// The shortest HS256 secret taken (RFC 7518: at least the hash's size).
    public static let minimumSecretBytes = 32
    /// The longest token read.
    public static let maxTokenBytes = 32 * 1024

    public let settings: Settings
    private let keySet: KeySet?
    /// The HS256 secret, when one of a usable length is configured.
    private let hmacSecret: String?

    /// - Parameters:
    ///   - settings: how tokens are verified and read.
    ///   - httpClient: the client for the JWKS URL.
    ///   - logger: where key loading problems are told.
    public init(settings: Settings, httpClient: HTTPClient, logger: Logger = Logger(label: "sluice.identity")) {
        self.settings = settings
        keySet = settings.jwksFile == nil && settings.jwksURL == nil
            ? nil
            : KeySet(file: settings.jwksFile, url: settings.jwksURL, client: httpClient, logger: logger)
        if let secret = settings.hmacSecret, secret.utf8.count < TokenVerifier.minimumSecretBytes {
            logger.error("The HMAC secret is shorter than \(TokenVerifier.minimumSecretBytes) bytes; HS256 tokens are refused")
            hmacSecret = nil
        } else {
            hmacSecret = settings.hmacSecret
        }
    }

    /// Verifies a token and reads who it names.
    /// - Throws: `SluiceError(.invalidToken)` with the reason (see ``Refusal``).
    public func verify(_ token: String) async throws -> VerifiedToken {
        let header = try Self.header(of: token)
        let claims: TokenClaims
        if header.alg.hasPrefix("HS") {
            guard let secret = hmacSecret else {
                throw (keySet == nil ? Refusal.unsupportedAlgorithm : .algorithmConfusion).error
            }
            guard header.alg == "HS256" else { throw Refusal.unsupportedAlgorithm.error }
            claims = try await Self.checked {
                let keys = JWTKeyCollection()
                await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
                return try await keys.verify(token, as: TokenClaims.self)
            }
        } else {
            guard KeySet.algorithms.contains(header.alg), let keySet else { throw Refusal.unsupportedAlgorithm.error }
            guard let match = await keySet.match(kid: header.kid) else { throw Refusal.unknownKey.error }
            guard match.algorithm == header.alg else { throw Refusal.algorithmMismatch.error }
            claims = try await Self.checked { try await match.keys.verify(token, as: TokenClaims.self) }
        }
        return try identity(of: claims, now: Date())
    }

    /// What the header says, before any key is used.
    private struct Header {
        var alg: String
        var kid: String?
    }

    private struct HeaderFields: Decodable {
        var alg: JSONValue?
        var kid: JSONValue?
        var crit: JSONValue?
    }

    /// The header of a compact JWT: three base64url parts, a JSON object with a string `alg` that is not
    /// `none`, a string `kid` if any, no `crit` (no extension is understood), and a signature.
    private static func header(of token: String) throws -> Header {
        guard token.utf8.count <= maxTokenBytes else { throw Refusal.malformed.error }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[1].isEmpty, parts.allSatisfy(isBase64URL),
              let data = base64URLDecoded(parts[0]),
              let fields = try? JSONDecoder().decode(HeaderFields.self, from: data),
              case .string(let alg)? = fields.alg
        else { throw Refusal.malformed.error }
        guard alg.lowercased() != "none" else { throw Refusal.algorithmNone.error }
        guard fields.crit == nil else { throw Refusal.malformed.error }
        let kid: String?
        switch fields.kid {
        case nil, .null?: kid = nil
        case .string(let value)?: kid = value
        default: throw Refusal.malformed.error
        }
        guard !parts[2].isEmpty else { throw Refusal.badSignature.error }
        return Header(alg: alg, kid: kid)
    }

    private static func isBase64URL(_ part: Substring) -> Bool {
        part.utf8.allSatisfy { (byte: UInt8) -> Bool in
            switch byte {
            case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x2D, 0x5F: true  // A-Z a-z 0-9 - _
            default: false
            }
        }
    }

    private static func base64URLDecoded(_ part: Substring) -> Data? {
        var base64 = String(part.map { (character: Character) -> Character in
            character == "-" ? "+" : (character == "_" ? "/" : character)
        })
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        return Data(base64Encoded: base64)
    }

    /// Runs jwt-kit's verification, turning its errors into refusals.
    private static func checked(_ verify: () async throws -> TokenClaims) async throws -> TokenClaims {
        do {
            return try await verify()
        } catch let error as JWTError where error.errorType == .malformedToken {
            throw Refusal.malformed.error
        } catch {
            // `signatureVerificationFailed`, or swift-crypto refusing a signature of the wrong size.
            throw Refusal.badSignature.error
        }
    }

    /// Checks the registered claims of a token whose signature holds, then reads who it names.
    private func identity(of claims: TokenClaims, now: Date) throws -> VerifiedToken {
        let leeway = settings.leewaySeconds.isFinite ? max(0, settings.leewaySeconds) : 0
        guard let expiry = claims.exp else { throw Refusal.missingExpiry.error }
        do { try expiry.verifyNotExpired(currentDate: now.addingTimeInterval(-leeway)) } catch { throw Refusal.expired.error }
        if let notBefore = claims.nbf {
            do { try notBefore.verifyNotBefore(currentDate: now.addingTimeInterval(leeway)) } catch { throw Refusal.notYetValid.error }
        }
        if let issuedAt = claims.iat, issuedAt.value > now.addingTimeInterval(leeway) { throw Refusal.notYetValid.error }
        if let issuer = settings.issuer, claims.iss?.value != issuer { throw Refusal.wrongIssuer.error }
        if let audience = settings.audience {
            guard let intended = claims.aud else { throw Refusal.wrongAudience.error }
            do { try intended.verifyIntendedAudience(includes: audience) } catch { throw Refusal.wrongAudience.error }
        }
        guard let user = try Self.name(claims.all[settings.userClaim], claim: settings.userClaim, limit: 256) else {
            throw Refusal.missingSubject(claim: settings.userClaim).error
        }
        var tenant = settings.tenant
        if tenant == nil, let claim = settings.tenantClaim {
            tenant = try Self.name(claims.all[claim], claim: claim, limit: 256)
        }
        let role = try Self.name(claims.all[settings.roleClaim], claim: settings.roleClaim, limit: 64)
        let plan = try Self.name(claims.all[settings.planClaim], claim: settings.planClaim, limit: 64)
        return VerifiedToken(tenant: tenant, user: user, role: role, plan: plan)
    }

    /// A name from a claim: nil when absent, null or empty; refused when not a string, longer than `limit`
    /// characters or holding control characters (never silently cut).
    private static func name(_ value: JSONValue?, claim: String, limit: Int) throws -> String? {
        switch value {
        case nil, .null?:
            return nil
        case .string(let text)?:
            guard !text.isEmpty else { return nil }
            guard text.count <= limit, !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw Refusal.invalidClaim(claim, limit: limit).error
            }
            return text
        default:
            throw Refusal.invalidClaim(claim, limit: limit).error
        }
    }
}

/// A token's payload: the registered claims jwt-kit reads, and every claim as JSON.
private struct TokenClaims: JWTPayload {
    var exp: ExpirationClaim?
    var nbf: NotBeforeClaim?
    var iat: IssuedAtClaim?
    var iss: IssuerClaim?
    var aud: AudienceClaim?
    var all: [String: JSONValue]

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        exp = try container.decodeIfPresent(ExpirationClaim.self, forKey: AnyKey("exp"))
        nbf = try container.decodeIfPresent(NotBeforeClaim.self, forKey: AnyKey("nbf"))
        iat = try container.decodeIfPresent(IssuedAtClaim.self, forKey: AnyKey("iat"))
        iss = try container.decodeIfPresent(IssuerClaim.self, forKey: AnyKey("iss"))
        aud = try container.decodeIfPresent(AudienceClaim.self, forKey: AnyKey("aud"))
        all = try [String: JSONValue](from: decoder)
    }

    func encode(to encoder: any Encoder) throws {
        try all.encode(to: encoder)
    }

    /// Nothing here: the claims are checked by ``TokenVerifier`` with its settings (issuer, audience, leeway).
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
