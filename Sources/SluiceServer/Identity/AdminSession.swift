import Crypto
import Foundation
import HTTPTypes

/// The dashboard's sign-in: an admin key exchanged once for a session cookie (`sluice_admin`, HttpOnly,
/// SameSite=Strict, path `/admin`), so the page never holds the key. A session is signed, not stored: it
/// names the key's holder and the key's digest (the key itself never), expires after `lifetime`, and
/// ends early when its key is no longer configured. Writes made with it carry `X-CSRF-Token`, derived
/// from the session, which a page of another site cannot read. Sessions are signed with a secret made at
/// start, so they end when the node restarts and hold on the node that issued them.
struct AdminSession: Sendable, Equatable {
    /// Who signed in: `operator`, `admin` (of `tenant`) or `local` (no credentials configured).
    var holder: String
    var tenant: String?
    /// The SHA-256 of the key signed in with (nil for local development).
    var digest: String?
    var expires: Date
    var nonce: String

    static let cookieName = "sluice_admin"
    static let lifetime: TimeInterval = 8 * 3600

    /// The caller a session stands for, if its key still holds that power.
    func caller(in credentials: Credentials, anonymous: Bool) -> Caller? {
        switch (holder, digest.flatMap { credentials.holder(ofDigest: $0) }) {
        case ("local", _): anonymous ? .local : nil
        case ("operator", .operator?): .operator
        case ("admin", .admin(let own)?) where own == tenant: .tenantAdmin(tenant: own)
        default: nil
        }
    }
}

/// Issues and checks `AdminSession` cookies and their CSRF tokens.
struct AdminSessionSigner: Sendable {
    private let key: SymmetricKey

    init(key: SymmetricKey = SymmetricKey(size: .bits256)) {
        self.key = key
    }

    /// A new session for a caller who proved an admin key (or is local).
    func issue(for caller: Caller, digest: String?, now: Date = Date()) -> AdminSession? {
        let nonce = Self.base64URL(Data(SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) }))
        let expires = Date(timeIntervalSince1970: (now.timeIntervalSince1970 + AdminSession.lifetime).rounded(.down))
        switch caller {
        case .local: return AdminSession(holder: "local", tenant: nil, digest: nil, expires: expires, nonce: nonce)
        case .operator: return AdminSession(holder: "operator", tenant: nil, digest: digest, expires: expires, nonce: nonce)
        case .tenantAdmin(let tenant): return AdminSession(holder: "admin", tenant: tenant, digest: digest, expires: expires, nonce: nonce)
        case .app, .user: return nil
        }
    }

    /// The cookie's value: the session's fields, then their HMAC.
    func cookieValue(_ session: AdminSession) -> String {
        let fields = [session.holder, session.tenant ?? "", session.digest ?? "", String(Int(session.expires.timeIntervalSince1970)), session.nonce]
        let payload = Self.base64URL(Data(fields.joined(separator: "\n").utf8))
        return payload + "." + mac(payload)
    }

    /// The session a cookie value proves, when its signature holds and it has not expired.
    func session(fromCookie value: String, now: Date = Date()) -> AdminSession? {
        guard value.utf8.count <= 1024 else { return nil }
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, Self.equal(mac(String(parts[0])), String(parts[1])),
              let data = Self.data(base64URL: String(parts[0])), let text = String(data: data, encoding: .utf8)
        else { return nil }
        let fields = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 5, let expiry = Int(fields[3]) else { return nil }
        let session = AdminSession(
            holder: fields[0], tenant: fields[1].isEmpty ? nil : fields[1], digest: fields[2].isEmpty ? nil : fields[2],
            expires: Date(timeIntervalSince1970: TimeInterval(expiry)), nonce: fields[4])
        return session.expires > now ? session : nil
    }

    /// The token a session's writes carry in `X-CSRF-Token`.
    func csrfToken(for session: AdminSession) -> String {
        mac("csrf\n" + session.nonce)
    }

    /// Whether a request's `X-CSRF-Token` belongs to the session.
    func checksCSRF(_ token: String?, for session: AdminSession) -> Bool {
        guard let token else { return false }
        return Self.equal(token, csrfToken(for: session))
    }

    /// `Set-Cookie` for a session, or one that removes the cookie.
    static func setCookie(_ value: String?, secure: Bool) -> String {
        let attributes = "; Path=/admin; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
        guard let value else { return AdminSession.cookieName + "=" + attributes + "; Max-Age=0" }
        return AdminSession.cookieName + "=" + value + attributes + "; Max-Age=\(Int(AdminSession.lifetime))"
    }

    /// The session cookie's value in a request's `Cookie` header.
    static func cookie(in headers: HTTPFields) -> String? {
        for header in headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let trimmed = pair.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix(AdminSession.cookieName + "=") { return String(trimmed.dropFirst(AdminSession.cookieName.count + 1)) }
            }
        }
        return nil
    }

    private func mac(_ text: String) -> String {
        Self.base64URL(Data(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key)))
    }

    /// Compares in time independent of where the strings differ.
    private static func equal(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func data(base64URL text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
