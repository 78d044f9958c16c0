import SluiceCore

extension SluiceConfiguration {
    /// Whether callers must prove who they are: some app key, admin key or JWT key source is configured.
    /// When not, Sluice serves anonymous callers on this machine only.
    public var hasCredentials: Bool {
        !keyEntries.isEmpty || auth.jwt.isConfigured
    }

    /// The tenants of `tenants.names`, then those named only by a key (`auth.apiKeys`, `auth.adminKeys`),
    /// which have the default settings.
    public var effectiveTenants: [Tenant] {
        var all = tenants
        var names = Set(tenants.map(\.name))
        for entry in keyEntries {
            if let tenant = entry.holder.tenant, names.insert(tenant).inserted { all.append(Tenant(name: tenant)) }
        }
        return all
    }

    /// Who each key belongs to and what each tenant allows, for the identity checks.
    public var tenantDirectory: TenantDirectory {
        TenantDirectory(
            credentials: Credentials(entries: keyEntries), policies: effectiveTenants.map { policy(of: $0) },
            fallback: policy(of: Tenant(name: "")))
    }

    /// The tenants with a calendar of their own.
    var tenantCalendars: [String: SchoolCalendar] {
        Dictionary(tenants.compactMap { tenant in tenant.calendar.map { (tenant.name, $0) } }, uniquingKeysWith: { first, _ in first })
    }

    /// A tenant's settings with the global defaults filled in: every plan when it lists none, and
    /// `plans.default` when it names no default plan.
    public func policy(of tenant: Tenant) -> TenantPolicy {
        TenantPolicy(
            name: tenant.name, roles: Set(tenant.roles), plans: Set(tenant.plans ?? Array(admission.plans.keys)),
            defaultPlan: tenant.defaultPlan ?? admission.defaultPlan, ceilings: tenant.ceilings, corsOrigins: tenant.corsOrigins,
            calendar: tenant.calendar)
    }

    /// Every key configured, in order: `auth.apiKeys`, `auth.adminKeys`, then each tenant's keys from its
    /// variables. An entry with an empty tenant or key (a problem the check reports) is left out.
    var keyEntries: [Credentials.Entry] {
        var entries: [Credentials.Entry] = []
        for (index, text) in auth.apiKeys.enumerated() {
            guard let entry = Self.splitKeyEntry(text) else { continue }
            entries.append(Credentials.Entry(
                key: entry.key, holder: .app(tenant: entry.tenant ?? "default"), keyPath: "auth.apiKeys", place: "entry \(index + 1)"))
        }
        for (index, text) in auth.adminKeys.enumerated() {
            guard let entry = Self.splitKeyEntry(text) else { continue }
            let holder: Credentials.Holder = if let tenant = entry.tenant { .admin(tenant: tenant) } else { .operator }
            entries.append(Credentials.Entry(key: entry.key, holder: holder, keyPath: "auth.adminKeys", place: "entry \(index + 1)"))
        }
        for tenant in tenants {
            let path = "tenants.\(tenant.name)."
            for (index, key) in tenant.apiKeys.enumerated() {
                entries.append(Credentials.Entry(
                    key: key, holder: .app(tenant: tenant.name), keyPath: path + "apiKeysEnv",
                    place: "entry \(index + 1) of \(tenant.apiKeysEnv ?? "its variable")"))
            }
            for (index, key) in tenant.adminKeys.enumerated() {
                entries.append(Credentials.Entry(
                    key: key, holder: .admin(tenant: tenant.name), keyPath: path + "adminKeysEnv",
                    place: "entry \(index + 1) of \(tenant.adminKeysEnv ?? "its variable")"))
            }
        }
        return entries
    }

    /// An entry of `auth.apiKeys` or `auth.adminKeys`: `tenant:key` (split at the first colon) or a bare
    /// key (tenant nil). nil for an empty entry, or one with an empty tenant or key.
    static func splitKeyEntry(_ text: String) -> (tenant: String?, key: String)? {
        guard !text.isEmpty else { return nil }
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { return (tenant: nil, key: text) }
        guard !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return (tenant: parts[0], key: parts[1])
    }
}
