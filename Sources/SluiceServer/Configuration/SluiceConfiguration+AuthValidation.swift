import Foundation
import SluiceCore

extension SluiceConfiguration {
    /// The problems of who may call: malformed key entries, a JWT setup that cannot verify tokens,
    /// tenants' roles, plans, ceilings, origins and calendars, variables named for keys but empty, and a
    /// key given to two holders. A problem names a key by its place, never the key itself.
    func checkAuth(_ list: inout ProblemList) {
        Self.checkKeyEntries("auth.apiKeys", auth.apiKeys, &list)
        Self.checkKeyEntries("auth.adminKeys", auth.adminKeys, &list)
        checkJWT(&list)
        for tenant in tenants where tenant.name.contains(where: { !($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
            list.add("tenants.names", """
                \(ConfigurationProblem.quoted(tenant.name)) may hold only letters, digits, - and _ (keys name their tenant as tenant:key, \
                and its settings are under tenants.<name>)
                """)
        }
        for tenant in tenants { checkTenant(tenant, &list) }
        checkKeyHolders(&list)
    }

    /// Entries of `auth.apiKeys` or `auth.adminKeys`: `tenant:key` or a bare key, neither part empty.
    private static func checkKeyEntries(_ path: String, _ entries: [String], _ list: inout ProblemList) {
        for (index, entry) in entries.enumerated() where !entry.isEmpty && splitKeyEntry(entry) == nil {
            list.add(path, "entry \(index + 1) must be \"tenant:key\" or a bare key, with neither part empty")
        }
    }

    private func checkJWT(_ list: inout ProblemList) {
        let jwt = auth.jwt
        guard jwt.isConfigured else {
            let named: [(String, String?)] = [("issuer", jwt.issuer), ("audience", jwt.audience), ("tenant", jwt.tenant), ("tenantClaim", jwt.tenantClaim)]
            let set = named.filter { $0.1 != nil }.map { $0.0 }
            if !set.isEmpty {
                list.add("auth.jwt", "sets \(set.joined(separator: ", ")) but no keys to verify tokens with: set jwksFile, jwksURL or secretEnv")
            }
            return
        }
        if let file = jwt.jwksFile, let problem = Self.jwksFileProblem(file) {
            list.add("auth.jwt.jwksFile", problem)
        }
        if let url = jwt.jwksURL {
            list.webURL("auth.jwt.jwksURL", url, example: "https://your-app.example/.well-known/jwks.json")
        }
        if let variable = jwt.secretEnv {
            if let secret = jwt.secret {
                if secret.utf8.count < 32 {
                    list.add("auth.jwt.secretEnv", "names \(variable), whose secret is \(secret.utf8.count) bytes: an HS256 secret must be at least 32 bytes (256 bits)")
                }
            } else {
                list.add("auth.jwt.secretEnv", "names \(variable), which is not set in the environment or is empty: it must hold the HS256 secret")
            }
        }
        if !(0...300).contains(jwt.leewaySeconds) {
            list.add("auth.jwt.leewaySeconds", "must be from 0 to 300 seconds, not \(ProblemList.show(jwt.leewaySeconds))")
        }
        if jwt.tenant != nil, jwt.tenantClaim != nil {
            list.add("auth.jwt.tenantClaim", "is set with auth.jwt.tenant: set tenant (the tenant of every token) or tenantClaim (the claim naming it), not both")
        }
        list.notEmpty("auth.jwt.userClaim", jwt.userClaim, "the claim naming the user, like sub")
        list.notEmpty("auth.jwt.roleClaim", jwt.roleClaim, "the claim naming the role, like role")
        list.notEmpty("auth.jwt.planClaim", jwt.planClaim, "the claim naming the plan, like plan")
    }

    /// What is wrong with a JSON Web Key Set file, or nil: it must exist and be a JSON object with a
    /// non-empty `keys` list.
    static func jwksFileProblem(_ path: String) -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return "there is no file at \(path)" }
        guard let data = FileManager.default.contents(atPath: path) else { return "\(path) cannot be read" }
        guard let json = try? JSONSerialization.jsonObject(with: data) else { return "\(path) is not JSON" }
        guard let object = json as? [String: Any], let keys = object["keys"] as? [Any] else {
            return "\(path) is not a JSON Web Key Set: a JSON object with a \"keys\" list"
        }
        return keys.isEmpty ? "\(path) holds no keys (its \"keys\" list is empty)" : nil
    }

    private func checkTenant(_ tenant: Tenant, _ list: inout ProblemList) {
        let path = "tenants.\(tenant.name)."
        if let variable = tenant.webhookSecretEnv, tenant.webhookSecrets.isEmpty {
            list.add(path + "webhooks.secretEnv", "names \(variable), which is not set in the environment or holds no secret: set it to whsec_… (two, comma-separated, during a rotation)")
        }
        var hooks = WebhookSettings()
        hooks.secrets = tenant.webhookSecrets
        hooks.allowedHosts = tenant.webhookAllowedHosts ?? []
        hooks.check(&list, path: path + "webhooks")
        for schedule in tenant.schedules { schedule.check(&list, path: path + "schedules." + schedule.name) }
        if let variable = tenant.apiKeysEnv, tenant.apiKeys.isEmpty {
            list.add(path + "apiKeysEnv", "names \(variable), which is not set in the environment or holds no keys: set it to the tenant's app keys, comma-separated")
        }
        if let variable = tenant.adminKeysEnv, tenant.adminKeys.isEmpty {
            list.add(path + "adminKeysEnv", "names \(variable), which is not set in the environment or holds no keys: set it to the tenant's admin keys, comma-separated")
        }
        if tenant.roles.isEmpty {
            list.add(path + "roles", "lists no roles: name one or more of \(Tenant.knownRoles.joined(separator: ", ")) (or leave it out for student and teacher)")
        }
        for role in tenant.roles where !Tenant.knownRoles.contains(role) {
            list.problems.append(.notOneOf(path + "roles", role, Tenant.knownRoles))
        }
        checkTenantPlans(tenant, &list)
        let counts: [(String, Int?)] = [
            ("requestsPerMinute", tenant.ceilings.requestsPerMinute), ("runningJobs", tenant.ceilings.runningJobs),
            ("tokensPerDay", tenant.ceilings.tokensPerDay),
        ]
        for (key, value) in counts {
            if let value, value < 0 {
                list.add(path + "ceilings." + key, "must be 0 (none allowed) or more, not \(value); leave it out for no ceiling")
            }
        }
        if let spend = tenant.ceilings.spendPerMonthUSD {
            list.notNegative(path + "ceilings.spendPerMonthUSD", spend)
        }
        for origin in tenant.corsOrigins {
            if let problem = Self.originProblem(origin) { list.add(path + "corsOrigins", problem) }
        }
        if let calendar = tenant.calendar {
            admission.checkCalendarModes(
                Set(calendar.periods.map(\.mode)), key: path + "calendar.examMode", lines: path + "calendar.examPeriods", &list)
            admission.checkCalendarModes(
                Set(calendar.hours.map(\.mode)), key: path + "calendar.peakMode", lines: path + "calendar.peakHours", &list)
        }
    }

    /// A tenant's plans must be defined, and its default plan one of them.
    private func checkTenantPlans(_ tenant: Tenant, _ list: inout ProblemList) {
        let path = "tenants.\(tenant.name)."
        let defined = admission.plans.keys.sorted()
        if let plans = tenant.plans {
            if plans.isEmpty {
                list.add(path + "plans", "lists no plans: name one or more of \(defined.joined(separator: ", ")), or leave it out for every plan")
            }
            for plan in plans where admission.plans[plan] == nil {
                list.problems.append(.notOneOf(path + "plans", plan, defined))
            }
        }
        // Only the plans that exist: a plan nobody defined is reported above, once.
        let allowed = (tenant.plans ?? defined).filter { admission.plans[$0] != nil }
        guard !allowed.isEmpty else { return }
        if let plan = tenant.defaultPlan {
            if admission.plans[plan] == nil {
                list.problems.append(.notOneOf(path + "defaultPlan", plan, defined))
            } else if !allowed.contains(plan) {
                list.add(path + "defaultPlan", "\(ConfigurationProblem.quoted(plan)) is not one of \(path)plans (\(allowed.joined(separator: ", ")))")
            }
        } else if admission.plans[admission.defaultPlan] != nil, !allowed.contains(admission.defaultPlan) {
            list.add(path + "defaultPlan", """
                is needed: the default plan \(ConfigurationProblem.quoted(admission.defaultPlan)) (plans.default) is not one of \(path)plans \
                (\(allowed.joined(separator: ", ")))
                """)
        }
    }

    /// What is wrong with an allowed browser origin, or nil: `*`, or `scheme://host[:port]` alone.
    static func originProblem(_ text: String) -> String? {
        if text == "*" { return nil }
        let quoted = ConfigurationProblem.quoted(text)
        guard let url = URLComponents(string: text), let scheme = url.scheme, !scheme.isEmpty, let host = url.host, !host.isEmpty else {
            return "\(quoted) is not an origin: write scheme://host[:port], like https://app.example.com or http://localhost:3000, or * for any"
        }
        if host.contains("*") {
            return "\(quoted) has a wildcard in its host: list each origin, or * for any"
        }
        if url.path == "/", url.query == nil, url.fragment == nil, url.user == nil {
            return "\(quoted) ends with \"/\": an origin has no path; write \(ConfigurationProblem.quoted(String(text.dropLast())))"
        }
        if !url.path.isEmpty || url.query != nil || url.fragment != nil || url.user != nil || url.password != nil {
            return "\(quoted) has more than scheme://host[:port] (a path, query or user): browsers send the origin alone, like https://app.example.com"
        }
        return nil
    }

    /// Each key has one holder: not two tenants', nor an app key and an admin key at once.
    private func checkKeyHolders(_ list: inout ProblemList) {
        var first: [String: Credentials.Entry] = [:]
        for entry in keyEntries {
            guard let earlier = first[entry.key] else {
                first[entry.key] = entry
                continue
            }
            if earlier.holder != entry.holder {
                list.add(entry.keyPath, """
                    \(entry.place) is \(entry.holder), but the same key is already \(earlier.holder) (\(earlier.keyPath), \(earlier.place)): \
                    a key belongs to one tenant, as an app key or an admin key
                    """)
            }
        }
    }
}
