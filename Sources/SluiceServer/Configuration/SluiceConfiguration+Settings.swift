import Foundation
import SluiceCache
import SluiceCore
import SluiceProviders
import SluiceStore

extension SluiceConfiguration {
    /// Every setting in force, as key paths and values for people (`sluice check-config`). Secrets are
    /// never shown: API keys are `<set>` or `<not set>`, and a database URL's password is `<set>`.
    public var effectiveSettings: [(key: String, value: String)] {
        var settings: [(key: String, value: String)] = []
        func add(_ key: String, _ value: String) { settings.append((key: key, value: value)) }
        func number(_ key: String, _ value: Double) { add(key, ProblemList.show(value)) }
        func whole(_ key: String, _ value: Int) { add(key, String(value)) }
        func flag(_ key: String, _ value: Bool) { add(key, value ? "true" : "false") }
        func limit(_ key: String, _ value: Int?) { add(key, value.map { String($0) } ?? "none") }
        func list(_ key: String, _ values: [String]) { add(key, "[" + values.joined(separator: ", ") + "]") }
        func secret(_ key: String, _ isSet: Bool) { add(key, isSet ? "<set>" : "<not set>") }

        add("server.host", server.host)
        whole("server.port", server.port)
        whole("server.maxBodyBytes", server.maxBodyBytes)
        number("server.heartbeatSeconds", server.heartbeatSeconds)
        number("server.idleTimeoutSeconds", server.idleTimeoutSeconds)
        whole("server.maxConnections", server.maxConnections)
        whole("server.maxConnectionsPerAddress", server.maxConnectionsPerAddress)
        whole("server.backlog", server.backlog)
        number("server.writeStallSeconds", server.writeStallSeconds)
        number("server.shutdownGraceSeconds", server.shutdownGraceSeconds)
        list("server.trustedProxies", server.trustedProxies)
        settings += authSettings
        add("storage.dataDir", storage.directory)
        add("storage.synchronous", storage.synchronous)
        add("storage.postgres.url", databaseURL.map { Self.redacted(databaseURL: $0) } ?? "<not set>")
        number("cluster.leaseSeconds", cluster.leaseSeconds)
        number("cluster.pollSeconds", cluster.pollSeconds)
        add("cluster.advertiseURL", cluster.advertiseURL ?? (cluster.internalPort == nil ? "<the bound address>" : "<the internal listener's address>"))
        add("cluster.internalPort", cluster.internalPort.map { $0 == 0 ? "0 (a free port)" : String($0) } ?? "<none: the internal routes are on server.port>")
        if let tls = cluster.tls {
            add("cluster.tls.certFile", tls.certFile ?? "<not set>")
            add("cluster.tls.keyFile", tls.keyFile ?? "<not set>")
            add("cluster.tls.caFile", tls.caFile ?? "<the system's>")
        } else {
            add("cluster.tls", "<not set: plain HTTP between nodes>")
        }
        whole("queue.workers", queue.workers)
        add("queue.reservedBypassWorkers", admission.reservedBypassWorkers.map { String($0) } ?? "<a tenth of the workers, at least 1>")
        whole("queue.maxRunningPerUser", queue.maxRunningPerUser)
        number("queue.deadlineSeconds", queue.deadlineSeconds)
        whole("queue.maxAttempts", queue.maxAttempts)
        number("queue.backoffBaseMs", queue.backoffBaseMs)
        number("queue.backoffMaxMs", queue.backoffMaxMs)
        whole("limits.maxMessages", limits.maxMessages)
        whole("limits.maxTokens", limits.maxTokens)
        number("retention.streamSeconds", retention.streamSeconds)
        number("retention.sweepSeconds", retention.sweepSeconds)
        number("retention.historyDays", retention.historyDays)
        secret("webhooks.secret", !webhooks.secrets.isEmpty)
        list("webhooks.allowedHosts", webhooks.allowedHosts)
        number("webhooks.maxAgeSeconds", webhooks.maxAgeSeconds)
        number("webhooks.timeoutSeconds", webhooks.timeoutSeconds)
        number("webhooks.backoffBaseMs", webhooks.backoffBaseMs)
        number("webhooks.backoffMaxMs", webhooks.backoffMaxMs)
        whole("batches.maxFileBytes", batches.maxFileBytes)
        whole("batches.maxLines", batches.maxLines)
        number("batches.fileRetentionDays", batches.fileRetentionDays)
        add("batches.concurrency", batches.concurrency.map { String($0) } ?? "<a quarter of the workers, at least 1: \(batches.lines(workers: queue.workers))>")
        whole("batches.batchesPerNode", batches.batchesPerNode)
        whole("mock.ttftMs", mock.ttftMs)
        number("mock.tokensPerSecond", mock.tokensPerSecond)
        whole("mock.tokens", mock.tokens)

        number("providers.maxRetryAfterSeconds", providers.maxRetryAfterSeconds)
        list("deployments.names", deployments.map(\.name))
        for deployment in deployments {
            let path = "deployments.\(deployment.name)."
            add(path + "provider", deployment.kind.rawValue)
            add(path + "baseURL", deployment.baseURL)
            add(path + "model", deployment.model)
            secret(path + "apiKey", deployment.apiKey != nil)
            number(path + "weight", deployment.weight)
            whole(path + "maxInFlight", deployment.maxInFlight)
            whole(path + "warmConnections", deployment.warmConnections)
            limit(path + "requestsPerMinute", deployment.requestsPerMinute)
            limit(path + "tokensPerMinute", deployment.tokensPerMinute)
            flag(path + "streaming", deployment.streaming)
            whole(path + "maxAnswerBytes", deployment.maxAnswerBytes)
            add(path + "caFile", deployment.caFile ?? "<the system's>")
            number(path + "timeouts.connect", deployment.timeouts.connect)
            number(path + "timeouts.firstToken", deployment.timeouts.firstToken)
            number(path + "timeouts.idle", deployment.timeouts.idle)
            number(path + "timeouts.total", deployment.timeouts.total)
            number(path + "prices.input", deployment.prices.inputPerMillion)
            number(path + "prices.output", deployment.prices.outputPerMillion)
            number(path + "breaker.failureRate", deployment.breaker.failureRate)
            whole(path + "breaker.minimumCalls", deployment.breaker.minimumCalls)
            whole(path + "breaker.window", deployment.breaker.window)
            whole(path + "breaker.consecutiveFailures", deployment.breaker.consecutiveFailures)
            number(path + "breaker.openSeconds", deployment.breaker.openSeconds)
            whole(path + "breaker.halfOpenProbes", deployment.breaker.halfOpenProbes)
        }
        if aliases.isEmpty {
            add("models.aliases", "[default, mock] (the built-in mock)")
        } else {
            list("models.aliases", aliases.map(\.name))
        }
        for alias in aliases {
            let path = "models.\(alias.name)."
            list(path + "deployments", alias.deployments)
            add(path + "strategy", alias.strategy.rawValue)
            add(path + "onInterrupt", alias.onInterrupt.rawValue)
            number(path + "maxEjectedShare", alias.maxEjectedShare)
        }

        list("plans.names", admission.plans.keys.sorted())
        add("plans.default", admission.defaultPlan)
        for name in admission.plans.keys.sorted() {
            guard let plan = admission.plans[name] else { continue }
            let path = "plans.\(name)."
            limit(path + "requestsPerMinute", plan.requestsPerMinute)
            for tier in [Tier.high, .peak] { limit(path + "tiers.\(tier.name).requestsPerMinute", plan.tierRequestsPerMinute[tier]) }
            limit(path + "tokensPerMinute", plan.tokensPerMinute)
            limit(path + "messagesPerDay", plan.messagesPerDay)
            limit(path + "tokensPerDay", plan.tokensPerDay)
            whole(path + "maxTokens", plan.maxTokens)
            whole(path + "maxPromptBytes", plan.maxPromptBytes)
            whole(path + "maxStreams", plan.maxStreams)
            if let running = plan.maxRunning { whole(path + "maxRunning", running) }
            whole(path + "reconnectsPerMinute", plan.reconnectsPerMinute)
            if let days = plan.historyDays { number(path + "historyDays", days) }
            if let dollars = plan.spendPerMonthUSD { number(path + "spendPerMonthUSD", dollars) }
        }
        let tiers = admission.tiers
        whole("tiers.highAt", tiers.highAt)
        whole("tiers.peakAt", tiers.peakAt)
        whole("tiers.overloadAt", tiers.overloadAt)
        whole("tiers.overloadRetryAfter", tiers.overloadRetryAfter)
        add("tiers.simpleModeFrom", tiers.simpleModeFrom.name)
        whole("tiers.simpleMaxTokens", tiers.simpleMaxTokens)
        add("tiers.brevityInstruction", tiers.brevityInstruction)
        for tier in Tier.allCases {
            if let threshold = tiers.semanticThreshold[tier] { number("tiers.\(tier.name).semanticThreshold", threshold) }
        }
        list("modes.names", admission.modes.keys.sorted())
        for name in admission.modes.keys.sorted() {
            guard let mode = admission.modes[name] else { continue }
            let path = "modes.\(name)."
            limit(path + "requestsPerMinute", mode.requestsPerMinute)
            limit(path + "overloadAt", mode.overloadAt)
            add(path + "semanticThreshold", mode.semanticThreshold.map { ProblemList.show($0) } ?? "none")
            flag(path + "simpleMode", mode.simpleMode)
        }
        let calendar = admission.calendar
        add("calendar.timeZone", calendar.timeZone.identifier)
        list("calendar.examPeriods", calendar.periods.map { "\($0.first)..\($0.last) (\($0.mode))" })
        list("calendar.peakHours", calendar.hours.map { Self.describe($0) })
        settings += tenantSettings

        flag("cache.enabled", cache.enabled)
        number("cache.ttlSeconds", cache.ttlSeconds)
        whole("cache.maxEntries", cache.maxEntries)
        whole("cache.maxBytes", cache.maxBytes)
        flag("cache.semantic.enabled", semantic.enabled)
        add("cache.semantic.embedder", embedder.kind)
        if embedder.kind == "static" {
            add("cache.semantic.path", embedder.path)
        } else if embedder.kind != "hashing" {
            add("cache.semantic.baseURL", embedder.baseURL)
            add("cache.semantic.model", embedder.model)
            secret("cache.semantic.apiKey", embedder.apiKey != nil)
        }
        number("cache.semantic.namespaceThreshold", semantic.namespaceThreshold)
        number("cache.semantic.globalThreshold", semantic.globalThreshold)
        return settings
    }

    /// `auth`: how many keys, never the keys; the JWT secret only as set or not.
    private var authSettings: [(key: String, value: String)] {
        var settings: [(key: String, value: String)] = []
        func add(_ key: String, _ value: String) { settings.append((key: key, value: value)) }
        add("auth.apiKeys", auth.apiKeys.isEmpty ? "<not set>" : "<set> (\(auth.apiKeys.count))")
        let operators = keyEntries.filter { $0.keyPath == "auth.adminKeys" && $0.holder == .operator }.count
        add("auth.adminKeys", auth.adminKeys.isEmpty
            ? "<not set>" : "<set> (\(auth.adminKeys.count): \(operators) operator, \(auth.adminKeys.count - operators) of tenants)")
        let jwt = auth.jwt
        guard jwt.isConfigured else {
            add("auth.jwt", "<not configured>")
            return settings
        }
        add("auth.jwt.issuer", jwt.issuer ?? "<not checked>")
        add("auth.jwt.audience", jwt.audience ?? "<not checked>")
        add("auth.jwt.jwksFile", jwt.jwksFile ?? "<not set>")
        add("auth.jwt.jwksURL", jwt.jwksURL ?? "<not set>")
        add("auth.jwt.secretEnv", jwt.secretEnv.map { "\($0) (\(jwt.secret == nil ? "<not set>" : "<set>"))" } ?? "<not set>")
        add("auth.jwt.leewaySeconds", ProblemList.show(jwt.leewaySeconds))
        if let claim = jwt.tenantClaim {
            add("auth.jwt.tenantClaim", claim)
        } else {
            add("auth.jwt.tenant", jwt.fixedTenant ?? "default")
        }
        add("auth.jwt.userClaim", jwt.userClaim)
        add("auth.jwt.roleClaim", jwt.roleClaim)
        add("auth.jwt.planClaim", jwt.planClaim)
        return settings
    }

    /// Each tenant's settings, with the global defaults filled in; its keys only counted.
    private var tenantSettings: [(key: String, value: String)] {
        var settings: [(key: String, value: String)] = []
        func add(_ key: String, _ value: String) { settings.append((key: key, value: value)) }
        func list(_ values: [String]) -> String { "[" + values.joined(separator: ", ") + "]" }
        func keys(_ variable: String?, _ count: Int) -> String {
            guard let variable else { return "<not set>" }
            return "\(variable) (\(count == 0 ? "<not set>" : "<set> (\(count))"))"
        }
        func ceiling(_ value: Int?) -> String {
            value.map { $0 == 0 ? "0 (none allowed)" : String($0) } ?? "no ceiling"
        }
        let all = effectiveTenants
        let keyOnly = all.dropFirst(tenants.count).map(\.name)
        add("tenants.names", list(tenants.map(\.name)) + (keyOnly.isEmpty ? "" : " (and, named by keys only, with the defaults: \(keyOnly.joined(separator: ", ")))"))
        for tenant in all {
            let path = "tenants.\(tenant.name)."
            let resolved = policy(of: tenant)
            add(path + "apiKeysEnv", keys(tenant.apiKeysEnv, tenant.apiKeys.count))
            add(path + "adminKeysEnv", keys(tenant.adminKeysEnv, tenant.adminKeys.count))
            add(path + "roles", list(tenant.roles))
            add(path + "plans", list(resolved.plans.sorted()) + (tenant.plans == nil ? " (every plan)" : ""))
            add(path + "defaultPlan", resolved.defaultPlan)
            add(path + "ceilings.requestsPerMinute", ceiling(tenant.ceilings.requestsPerMinute))
            add(path + "ceilings.runningJobs", ceiling(tenant.ceilings.runningJobs))
            add(path + "ceilings.tokensPerDay", ceiling(tenant.ceilings.tokensPerDay))
            add(path + "ceilings.spendPerMonthUSD", tenant.ceilings.spendPerMonthUSD.map {
                $0 == 0 ? "0 (none allowed)" : ProblemList.show($0)
            } ?? "no ceiling")
            add(path + "corsOrigins", tenant.corsOrigins.isEmpty ? "[] (no cross-origin access)" : list(tenant.corsOrigins))
            add(path + "webhooks.secretEnv", tenant.webhookSecretEnv.map { keys($0, tenant.webhookSecrets.count) } ?? "<the global webhooks.secret>")
            add(path + "webhooks.allowedHosts", tenant.webhookAllowedHosts.map { list($0) } ?? "<the global webhooks.allowedHosts>")
            add(path + "schedules.names", list(tenant.schedules.map(\.name)))
            for schedule in tenant.schedules {
                add(path + "schedules.\(schedule.name)", "\(schedule.kind?.rawValue ?? "?") at \(schedule.cron)")
            }
            if let calendar = tenant.calendar {
                add(path + "calendar.timeZone", calendar.timeZone.identifier)
                add(path + "calendar.examPeriods", list(calendar.periods.map { "\($0.first)..\($0.last) (\($0.mode))" }))
                add(path + "calendar.peakHours", list(calendar.hours.map { Self.describe($0) }))
            } else {
                add(path + "calendar", "<the global calendar>")
            }
        }
        return settings
    }

    /// A database URL with its password (and any password in its query) shown as `<set>`.
    static func redacted(databaseURL url: String) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host else { return "<set>" }
        var text = scheme + "://"
        if let user = components.user { text += user + (components.password == nil ? "" : ":<set>") + "@" }
        text += host
        if let port = components.port { text += ":\(port)" }
        text += components.path
        if let items = components.queryItems, !items.isEmpty {
            text += "?" + items.map { item in
                item.name.lowercased().contains("password") ? "\(item.name)=<set>" : "\(item.name)=\(item.value ?? "")"
            }.joined(separator: "&")
        }
        return text
    }

    /// Peak hours as written in the configuration: `mon,tue,wed 18:00-22:00 (evening)`.
    static func describe(_ hours: SchoolCalendar.Hours) -> String {
        let names = hours.weekdays.sorted().compactMap { CalendarLines.days.indices.contains($0 - 1) ? CalendarLines.days[$0 - 1] : nil }
        func time(_ minutes: Int) -> String {
            let hour = String(minutes / 60), minute = String(minutes % 60)
            return String(repeating: "0", count: 2 - hour.count) + hour + ":" + String(repeating: "0", count: 2 - minute.count) + minute
        }
        return "\(names.joined(separator: ",")) \(time(hours.start))-\(time(hours.end)) (\(hours.mode))"
    }
}
