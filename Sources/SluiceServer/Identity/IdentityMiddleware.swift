import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore

/// Establishes who is calling: an app key (`Authorization: Bearer …`, compared by its SHA-256 so keys are
/// never held in the clear), or, with no keys configured, an anonymous caller on loopback. The end user,
/// role and plan come from `X-Sluice-User`, `X-Sluice-Role`, `X-Sluice-Plan`.
struct IdentityMiddleware: RouterMiddleware {
    typealias Context = SluiceRequestContext

    /// Tenant by SHA-256 of the key; empty means anonymous use.
    let tenants: [String: String]
    /// The plan of callers who name none.
    let defaultPlan: String

    /// - Parameters:
    ///   - apiKeys: entries `tenant:key` or bare keys (tenant `default`).
    ///   - defaultPlan: the plan of callers who name none.
    init(apiKeys: [String], defaultPlan: String = "free") {
        self.defaultPlan = defaultPlan
        var tenants: [String: String] = [:]
        for entry in apiKeys where !entry.isEmpty {
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            let (tenant, key) = parts.count == 2 ? (parts[0], parts[1]) : ("default", parts[0])
            tenants[Self.digest(key)] = tenant
        }
        self.tenants = tenants
    }

    static func digest(_ key: String) -> String {
        Credentials.digest(key)
    }

    static let roles: Set<String> = ["student", "teacher", "admin"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let tenant: String
        if tenants.isEmpty {
            // Anonymous use is for local development: a loopback peer, a loopback Host (not a page doing
            // DNS rebinding against localhost), and no proxy in front (its callers are not local).
            guard Self.isLocal(request, peer: context.remoteAddress) else { throw SluiceError(.localOnly) }
            tenant = "local"
        } else {
            guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer "),
                  let found = tenants[Self.digest(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces))]
            else { throw SluiceError(.invalidAPIKey) }
            tenant = found
        }
        let user = try Self.identifier(request.headers[.sluiceUser], field: "X-Sluice-User", limit: 256) ?? "anonymous"
        let role = request.headers[.sluiceRole]?.lowercased() ?? "student"
        guard Self.roles.contains(role) else {
            throw SluiceError(.invalidParameter, details: ["field": "X-Sluice-Role", "reason": "one of student, teacher, admin"])
        }
        let plan = try Self.identifier(request.headers[.sluicePlan], field: "X-Sluice-Plan", limit: 64) ?? defaultPlan
        context.principal = Principal(tenant: tenant, user: user, role: role, plan: plan)
        return try await next(request, context)
    }

    /// Whether a request comes from this machine, straight: its peer is a loopback address, its `Host`
    /// a loopback name (any port), and it carries no `Forwarded`, `X-Forwarded-For` or `X-Real-IP`.
    static func isLocal(_ request: Request, peer: SocketAddress?) -> Bool {
        guard let ip = peer?.ipAddress, ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.") else { return false }
        for name in ["Forwarded", "X-Forwarded-For", "X-Real-IP"] {
            if let field = HTTPField.Name(name), request.headers[field] != nil { return false }
        }
        guard let authority = request.head.authority?.lowercased() else { return false }
        let host: Substring = authority.hasPrefix("[")
            ? authority.prefix { $0 != "]" }.dropFirst()
            : authority.split(separator: ":", maxSplits: 1).first ?? ""
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        let loopbackIPv4 = octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
        return host == "localhost" || host == "::1" || loopbackIPv4
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
    static let sluiceJobID = Self("X-Sluice-Job-Id")!
    static let sluiceCache = Self("X-Sluice-Cache")!
    static let accelBuffering = Self("X-Accel-Buffering")!
    static let lastEventID = Self("Last-Event-ID")!
    static let sluiceNamespace = Self("X-Sluice-Namespace")!
    static let sluiceCacheTags = Self("X-Sluice-Cache-Tags")!
    static let sluicePriority = Self("X-Sluice-Priority")!
    static let sluiceSingleFlight = Self("X-Sluice-Single-Flight")!
}
