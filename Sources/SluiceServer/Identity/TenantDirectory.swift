/// Who a key belongs to and what each tenant allows: everything the identity checks need from the
/// configuration, read once (`SluiceConfiguration.tenantDirectory`).
public struct TenantDirectory: Sendable {
    /// The keys and their holders.
    public let credentials: Credentials
    /// The policies of the tenants the configuration names (in `tenants.names` or by a key), by name.
    public let policies: [String: TenantPolicy]
    /// The policy of a tenant the configuration does not name (its name aside).
    public let fallback: TenantPolicy

    /// - Parameters:
    ///   - credentials: the keys.
    ///   - policies: the tenants' policies; when a name comes twice, the first counts.
    ///   - fallback: the policy of any other tenant.
    public init(credentials: Credentials, policies: [TenantPolicy], fallback: TenantPolicy) {
        self.credentials = credentials
        self.policies = Dictionary(policies.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.fallback = fallback
    }

    /// A tenant's policy; a tenant the configuration does not name gets the defaults (roles student and
    /// teacher, every plan, the global default plan, no ceilings, no cross-origin access, the global calendar).
    public func policy(for tenant: String) -> TenantPolicy {
        if let policy = policies[tenant] { return policy }
        var policy = fallback
        policy.name = tenant
        return policy
    }

    /// Who holds a key, or nil when Sluice does not know it.
    public func holder(ofKey key: String) -> Credentials.Holder? {
        credentials.holder(ofKey: key)
    }
}
