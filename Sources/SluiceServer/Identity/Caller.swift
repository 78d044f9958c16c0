import SluiceCore

/// What a request proved about who sends it, apart from the end user it names.
enum Caller: Sendable, Equatable {
    /// No credentials are configured: a caller on this machine (local development). It may assert any
    /// role, admin included.
    case local
    /// An app's key: the tenant's server, speaking for its users within what the tenant allows.
    case app(tenant: String)
    /// A tenant's admin key: that tenant's mode, usage and cache.
    case tenantAdmin(tenant: String)
    /// The operator's key: every tenant and the node.
    case `operator`
    /// An end user's own token, verified.
    case user(tenant: String)

    /// Whether it may use the admin routes for `tenant` (`role` is what the request asserts, or a token's claim).
    func administers(_ tenant: String, role: String) -> Bool {
        switch self {
        case .local: role == "admin"
        case .operator: true
        case .tenantAdmin(let own): own == tenant
        case .user(let own): own == tenant && role == "admin"
        case .app: false
        }
    }

    /// Whether the request may name its end user (`X-Sluice-User`, the body's `user`): not with an end
    /// user's own token, whose subject is the user.
    var namesItsUser: Bool {
        if case .user = self { return false }
        return true
    }

    /// The tenant its admin powers are limited to; nil for the operator (and local development).
    var adminTenant: String? {
        switch self {
        case .local, .operator: nil
        case .tenantAdmin(let tenant), .user(let tenant), .app(let tenant): tenant
        }
    }

    /// How it appears in the audit trail (never a key or token).
    var description: String {
        switch self {
        case .local: "local"
        case .app(let tenant): "app key of \(tenant)"
        case .tenantAdmin(let tenant): "admin key of \(tenant)"
        case .operator: "operator key"
        case .user(let tenant): "token of \(tenant)"
        }
    }
}
