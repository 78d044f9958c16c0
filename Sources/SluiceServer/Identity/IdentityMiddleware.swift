import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore

/// Establishes who is calling and what they may assert. With credentials configured: an app key (its
/// tenant's server, asserting a user, and a role and plan its tenant allows), a tenant's admin key, the
/// operator's key, or an end user's own token (JWT) whose claims name the user, role and plan. Keys are
/// looked up by their SHA-256, never held in the clear. With none configured: anonymous callers on this
/// machine only (local development). The end user comes from `X-Sluice-User`, except for a token, whose
/// subject is the user.
struct IdentityMiddleware: RouterMiddleware {
    typealias Context = SluiceRequestContext

    /// Who each key belongs to and what each tenant allows.
    let directory: TenantDirectory
    /// Verifies end users' tokens, when `auth.jwt` is configured.
    let verifier: TokenVerifier?
    /// The tenant of tokens that name none (`auth.jwt.tenant`).
    let tokenTenant: String?
    /// No credentials at all: anonymous local use.
    let anonymous: Bool
    /// The plan of anonymous callers who name none.
    let defaultPlan: String
    /// Proxies whose `X-Forwarded-For` is believed for the client's address.
    let trustedProxies: [AddressRange]
    /// Records refused credentials.
    let audit: AuditTrail?
    /// Checks the dashboard's session cookies (admin routes only).
    let sessions: AdminSessionSigner

    init(
        directory: TenantDirectory, verifier: TokenVerifier? = nil, tokenTenant: String? = nil, anonymous: Bool, defaultPlan: String,
        trustedProxies: [AddressRange] = [], audit: AuditTrail? = nil, sessions: AdminSessionSigner = AdminSessionSigner()
    ) {
        self.directory = directory
        self.verifier = verifier
        self.tokenTenant = tokenTenant
        self.anonymous = anonymous
        self.defaultPlan = defaultPlan
        self.trustedProxies = trustedProxies
        self.audit = audit
        self.sessions = sessions
    }

    static let roles: Set<String> = ["student", "teacher", "admin"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.clientAddress = Self.clientAddress(request, peer: context.remoteAddress, trusting: anonymous ? [] : trustedProxies)
        do {
            (context.caller, context.principal) = try await identify(request, context: context)
            if Self.carriesSession(request), let cookie = AdminSessionSigner.cookie(in: request.headers) {
                context.sessionExpires = sessions.session(fromCookie: cookie)?.expires
            }
        } catch let error as SluiceError where [.invalidAPIKey, .invalidToken, .forbidden, .localOnly].contains(error.code) {
            audit?.refused(code: error.code.rawValue, from: context.clientAddress)
            throw error
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as SluiceError where error.code == .forbidden {
            // A caller reaching for what it may not (an app key on the admin routes, say) is recorded too.
            audit?.refused(code: "forbidden to \(context.caller?.description ?? "none") at \(request.uri.path.prefix(200))", from: context.clientAddress)
            throw error
        }
        if let origin = request.headers[.origin], let tenant = context.principal?.tenant, directory.policy(for: tenant).allowsOrigin(origin) {
            response.headers[.accessControlAllowOrigin] = origin
            response.headers[.vary] = "Origin"
        }
        return response
    }

    /// The caller and the principal a request proves.
    func identify(_ request: Request, context: Context) async throws -> (Caller, Principal) {
        let user = try Self.identifier(request.headers[.sluiceUser], field: "X-Sluice-User", limit: 256)
        let plan = try Self.identifier(request.headers[.sluicePlan], field: "X-Sluice-Plan", limit: 64)
        if Self.carriesSession(request), let cookie = AdminSessionSigner.cookie(in: request.headers) {
            return try signedIn(cookie, request: request, context: context)
        }
        if anonymous {
            // Anonymous use is for local development: a loopback peer, a loopback Host (not a page doing
            // DNS rebinding against localhost), and no proxy in front (its callers are not local).
            guard Self.isLocal(request, peer: context.remoteAddress) else { throw SluiceError(.localOnly) }
            let role = try Self.role(request) ?? "student"
            return (.local, Principal(tenant: "local", user: user ?? "anonymous", role: role, plan: plan ?? defaultPlan))
        }
        guard let token = Self.bearer(request) else { throw SluiceError(.invalidAPIKey) }
        switch directory.holder(ofKey: token) {
        case .app(let tenant):
            let policy = directory.policy(for: tenant)
            let role = try Self.role(request) ?? "student"
            guard role != "admin" else {
                throw Self.forbidden("an app key cannot assert the admin role: use an admin key", "апп-ын түлхүүрээр админ эрх авах боломжгүй: админы түлхүүр ашиглана уу")
            }
            try Self.check(role: role, plan: plan ?? policy.defaultPlan, against: policy)
            return (.app(tenant: tenant), Principal(tenant: tenant, user: user ?? "anonymous", role: role, plan: plan ?? policy.defaultPlan))
        case .admin(let tenant):
            let policy = directory.policy(for: tenant)
            if let plan, !policy.plans.contains(plan) { try Self.check(role: "student", plan: plan, against: policy) }
            return (.tenantAdmin(tenant: tenant), Principal(tenant: tenant, user: user ?? "admin", role: "admin", plan: plan ?? policy.defaultPlan))
        case .operator:
            let tenant = try Self.identifier(request.headers[.sluiceTenant], field: "X-Sluice-Tenant", limit: 128) ?? "operator"
            return (.operator, Principal(tenant: tenant, user: user ?? "operator", role: "admin", plan: plan ?? directory.policy(for: tenant).defaultPlan))
        case nil:
            guard let verifier, token.split(separator: ".", omittingEmptySubsequences: false).count == 3 else {
                throw SluiceError(.invalidAPIKey)
            }
            let verified = try await verifier.verify(token)
            guard let tenant = verified.tenant ?? tokenTenant, tenant == tokenTenant || directory.policies[tenant] != nil else {
                throw SluiceError(.invalidToken, details: [
                    "reason": "it names no tenant this server knows", "reason_mn": "энэ сервер мэдэхгүй түрээслэгчийг заасан байна",
                ])
            }
            let policy = directory.policy(for: tenant)
            let role = verified.role ?? "student"
            let tokenPlan = verified.plan ?? policy.defaultPlan
            try Self.check(role: role, plan: tokenPlan, against: policy)
            return (.user(tenant: tenant), Principal(tenant: tenant, user: verified.user, role: role, plan: tokenPlan))
        }
    }

    /// Whether a request is identified by the dashboard's session cookie: an admin route, with no key.
    static func carriesSession(_ request: Request) -> Bool {
        request.uri.path.hasPrefix("/admin/api/") && bearer(request) == nil
    }

    /// The dashboard's caller, from its session cookie. A write needs the session's `X-CSRF-Token` too.
    func signedIn(_ cookie: String, request: Request, context: Context) throws -> (Caller, Principal) {
        guard let session = sessions.session(fromCookie: cookie), let caller = session.caller(in: directory.credentials, anonymous: anonymous) else {
            throw SluiceError(.invalidAPIKey, details: [
                "reason": "the dashboard's session has ended: sign in again", "reason_mn": "самбарын холболт дууссан: дахин нэвтэрнэ үү",
            ])
        }
        if caller == .local, !Self.isLocal(request, peer: context.remoteAddress) { throw SluiceError(.localOnly) }
        if request.method != .get, request.method != .head, !sessions.checksCSRF(request.headers[.csrfToken], for: session) {
            throw Self.forbidden(
                "a change made from a signed-in page needs its X-CSRF-Token", "нэвтэрсэн хуудаснаас хийх өөрчлөлтөд X-CSRF-Token шаардлагатай")
        }
        let tenant: String
        switch caller {
        case .tenantAdmin(let own): tenant = own
        case .operator: tenant = try Self.identifier(request.headers[.sluiceTenant], field: "X-Sluice-Tenant", limit: 128) ?? "operator"
        default: tenant = "local"
        }
        return (caller, Principal(tenant: tenant, user: "admin", role: "admin", plan: directory.policy(for: tenant).defaultPlan))
    }

    /// Refuses a role or plan the tenant does not allow, naming what it allows.
    static func check(role: String, plan: String, against policy: TenantPolicy) throws {
        guard policy.roles.contains(role) else {
            let allowed = policy.roles.sorted().joined(separator: ", ")
            throw forbidden(
                "tenant '\(policy.name)' may assert the roles \(allowed), not '\(role)'",
                "'\(policy.name)' зөвхөн \(allowed) үүргийг зааж болно, '\(role)' биш")
        }
        guard policy.plans.contains(plan) else {
            let allowed = policy.plans.sorted().joined(separator: ", ")
            throw forbidden(
                "tenant '\(policy.name)' may assert the plans \(allowed), not '\(plan)'",
                "'\(policy.name)' зөвхөн \(allowed) багцыг зааж болно, '\(plan)' биш")
        }
    }

    static func forbidden(_ english: String, _ mongolian: String) -> SluiceError {
        SluiceError(.forbidden, details: ["reason": english, "reason_mn": mongolian])
    }

    /// `X-Sluice-Role`, checked to be a role at all.
    static func role(_ request: Request) throws -> String? {
        guard let role = request.headers[.sluiceRole]?.lowercased() else { return nil }
        guard roles.contains(role) else {
            throw SluiceError(.invalidParameter, details: ["field": "X-Sluice-Role", "reason": "one of student, teacher, admin"])
        }
        return role
    }

    /// The credential of `Authorization: Bearer …`, or of `x-api-key` (as Anthropic's clients send it).
    static func bearer(_ request: Request) -> String? {
        guard let header = request.headers[.authorization], header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            let key = request.headers[.xAPIKey]?.trimmingCharacters(in: .whitespaces) ?? ""
            return key.isEmpty ? nil : key
        }
        let token = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    /// The client's address: the peer's, or — when the peer is a trusted proxy — the nearest address in
    /// `X-Forwarded-For` that is not itself a trusted proxy.
    static func clientAddress(_ request: Request, peer: SocketAddress?, trusting proxies: [AddressRange]) -> String? {
        guard let peerIP = peer?.ipAddress else { return nil }
        guard !proxies.isEmpty, proxies.contains(where: { $0.contains(peerIP) }),
              let forwarded = request.headers[.xForwardedFor]
        else { return peerIP }
        let hops = forwarded.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for hop in hops.reversed() where !proxies.contains(where: { $0.contains(hop) }) {
            // A plain address only: no range, zone or brackets (it is recorded, and keys the audit's collapsing).
            return !hop.contains(where: { "/%[]".contains($0) }) && AddressRange(cidr: hop) != nil ? hop : peerIP
        }
        return hops.first ?? peerIP
    }

    /// Whether a request comes from this machine, straight: its peer is a loopback address, its `Host`
    /// a loopback name (any port), and it carries no `Forwarded`, `X-Forwarded-For` or `X-Real-IP`.
    static func isLocal(_ request: Request, peer: SocketAddress?) -> Bool {
        guard let ip = peer?.ipAddress, ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.") else { return false }
        for field in [HTTPField.Name.forwarded, .xForwardedFor, .xRealIP] where request.headers[field] != nil { return false }
        // A page from another site, in a browser on this machine, is not a local caller either.
        if let origin = request.headers[.origin], !isLoopback(host: URLComponents(string: origin)?.host?.lowercased() ?? "") { return false }
        if request.headers[.secFetchSite] == "cross-site" { return false }
        guard let authority = request.head.authority?.lowercased() else { return false }
        let host: Substring = authority.hasPrefix("[")
            ? authority.prefix { $0 != "]" }.dropFirst()
            : authority.split(separator: ":", maxSplits: 1).first ?? ""
        return isLoopback(host: host)
    }

    /// Whether a host name (without port or brackets) names this machine.
    static func isLoopback(host: some StringProtocol) -> Bool {
        let bare = host.hasPrefix("[") ? Substring(host.dropFirst().prefix { $0 != "]" }) : Substring(host)
        let octets = bare.split(separator: ".", omittingEmptySubsequences: false)
        let loopbackIPv4 = octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
        return bare == "localhost" || bare == "::1" || loopbackIPv4
    }

    /// A name from outside (a user, a plan, a namespace): nil when absent or empty; refused when longer
    /// than `limit` characters or holding control characters, never silently cut.
    static func identifier(_ value: String?, field: String, limit: Int) throws -> String? {
        guard let value, !value.isEmpty else { return nil }
        guard value.count <= limit, !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw SluiceError(.invalidParameter, details: ["field": field, "reason": "must be at most \(limit) characters, without control characters"])
        }
        return value
    }
}

extension HTTPField.Name {
    static let sluiceUser = Self("X-Sluice-User")!
    static let sluiceRole = Self("X-Sluice-Role")!
    static let sluicePlan = Self("X-Sluice-Plan")!
    static let sluiceTenant = Self("X-Sluice-Tenant")!
    static let sluiceJobID = Self("X-Sluice-Job-Id")!
    static let xAPIKey = Self("x-api-key")!
    static let sluiceCache = Self("X-Sluice-Cache")!
    static let accelBuffering = Self("X-Accel-Buffering")!
    static let lastEventID = Self("Last-Event-ID")!
    static let csrfToken = Self("X-CSRF-Token")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let sluiceNamespace = Self("X-Sluice-Namespace")!
    static let sluiceCacheTags = Self("X-Sluice-Cache-Tags")!
    static let sluicePriority = Self("X-Sluice-Priority")!
    static let sluiceSingleFlight = Self("X-Sluice-Single-Flight")!
    static let forwarded = Self("Forwarded")!
    static let xForwardedFor = Self("X-Forwarded-For")!
    static let xForwardedProto = Self("X-Forwarded-Proto")!
    static let xRealIP = Self("X-Real-IP")!
    static let secFetchSite = Self("Sec-Fetch-Site")!
}
