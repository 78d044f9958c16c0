import Crypto
import Foundation

/// The keys Sluice accepts, each with who holds it: an app of a tenant, a tenant's admin, or the
/// operator (every tenant, the node). Keys are held only as their SHA-256 digests, never in the clear.
public struct Credentials: Sendable {
    /// Who holds a key.
    public enum Holder: Sendable, Hashable, CustomStringConvertible {
        /// An app of the tenant: its callers name their users, roles and plans within what it allows.
        case app(tenant: String)
        /// The tenant's admin: its mode, its usage, its cache.
        case admin(tenant: String)
        /// The operator: every tenant, and the node.
        case `operator`

        /// The tenant the key belongs to; nil for the operator.
        public var tenant: String? {
            switch self {
            case .app(let tenant), .admin(let tenant): tenant
            case .operator: nil
            }
        }

        /// Whether the key reaches the admin API (a tenant's admin or the operator).
        public var isAdmin: Bool {
            switch self {
            case .app: false
            case .admin, .operator: true
            }
        }

        /// In words, for problems: `an app key of tenant "school-a"`.
        public var description: String {
            switch self {
            case .app(let tenant): "an app key of tenant \(ConfigurationProblem.quoted(tenant))"
            case .admin(let tenant): "an admin key of tenant \(ConfigurationProblem.quoted(tenant))"
            case .operator: "an operator key"
            }
        }
    }

    /// One key as configured, with where it is configured (for problems, which name the place, never
    /// the key).
    struct Entry: Sendable {
        /// The key itself: a secret.
        var key: String
        /// Who holds it.
        var holder: Holder
        /// The setting it comes from: `auth.apiKeys`, `tenants.school-a.apiKeysEnv`.
        var keyPath: String
        /// Its place there: `entry 2`, `entry 1 of SCHOOL_A_KEYS`.
        var place: String
    }

    /// Holders by the SHA-256 of their keys (lowercase hex).
    private let holders: [String: Holder]

    /// - Parameter keys: each key with its holder; when a key is listed twice, the first holder counts
    ///   (the configuration check reports such a key).
    public init(keys: [(key: String, holder: Holder)]) {
        var holders: [String: Holder] = [:]
        for (key, holder) in keys where !key.isEmpty {
            let digest = Self.digest(key)
            if holders[digest] == nil { holders[digest] = holder }
        }
        self.holders = holders
    }

    /// The keys of configuration entries.
    init(entries: [Entry]) {
        self.init(keys: entries.map { (key: $0.key, holder: $0.holder) })
    }

    /// Who holds a key, or nil when Sluice does not know it.
    public func holder(ofKey key: String) -> Holder? {
        key.isEmpty ? nil : holders[Self.digest(key)]
    }

    /// Who holds the key of a digest (as `digest(_:)` makes it), or nil.
    public func holder(ofDigest digest: String) -> Holder? {
        holders[digest]
    }

    /// Whether no key is configured.
    public var isEmpty: Bool { holders.isEmpty }

    /// How many keys there are.
    public var count: Int { holders.count }

    /// The SHA-256 of a key, in lowercase hex.
    public static func digest(_ key: String) -> String {
        SHA256.hash(data: Data(key.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
