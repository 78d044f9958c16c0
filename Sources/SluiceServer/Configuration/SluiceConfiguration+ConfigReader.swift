public import Configuration
import Foundation
import SluiceCore
import SluiceCache
import SluiceProviders
import SluiceStore

extension SluiceConfiguration {
    /// Reads the configuration; keys are those of `sluice.example.yaml` (environment: `SLUICE_` plus the key
    /// in upper case with `_`, e.g. `SLUICE_SERVER_PORT`, `SLUICE_QUEUE_WORKERS`). A value it cannot use
    /// keeps its default; `SluiceConfiguration.check` reports every such value.
    /// - Parameter config: the reader.
    public init(config: ConfigReader) {
        var problems: [ConfigurationProblem] = []
        self.init(config: config, problems: &problems)
    }

    /// Reads the configuration, adding to `problems` each value it cannot use (an unknown choice, a
    /// malformed calendar line, a negative limit); such a value keeps its default. The keys read here are
    /// the keys Sluice knows: the check compares a file's keys with them.
    /// - Parameters:
    ///   - config: the reader.
    ///   - environment: where the variables named by `…Env` settings (tenants' keys, the JWT secret) are read.
    ///   - problems: where a problem goes.
    init(config: ConfigReader, environment: [String: String] = ProcessInfo.processInfo.environment, problems: inout [ConfigurationProblem]) {
        self.init()
        server.host = config.string(forKey: "server.host", default: server.host)
        server.port = config.int(forKey: "server.port", default: server.port)
        server.maxBodyBytes = config.int(forKey: "server.maxBodyBytes", default: server.maxBodyBytes)
        server.heartbeatSeconds = config.double(forKey: "server.heartbeatSeconds", default: server.heartbeatSeconds)
        server.shutdownGraceSeconds = config.double(forKey: "server.shutdownGraceSeconds", default: server.shutdownGraceSeconds)
        server.idleTimeoutSeconds = config.double(forKey: "server.idleTimeoutSeconds", default: server.idleTimeoutSeconds)
        server.maxConnections = config.int(forKey: "server.maxConnections", default: server.maxConnections)
        server.maxConnectionsPerAddress = config.int(forKey: "server.maxConnectionsPerAddress", default: server.maxConnectionsPerAddress)
        server.backlog = config.int(forKey: "server.backlog", default: server.backlog)
        server.writeStallSeconds = config.double(forKey: "server.writeStallSeconds", default: server.writeStallSeconds)
        server.trustedProxies = config.stringArray(forKey: "server.trustedProxies", default: server.trustedProxies)
        auth.apiKeys = config.stringArray(forKey: "auth.apiKeys", isSecret: true, default: auth.apiKeys)
        auth.adminKeys = config.stringArray(forKey: "auth.adminKeys", isSecret: true, default: auth.adminKeys)
        auth.jwt = JWTSettings(config: config.scoped(to: "auth.jwt"), environment: environment)
        storage.directory = config.string(forKey: "storage.dataDir", default: storage.directory)
        storage.synchronous = config.choice(
            forKey: "storage.synchronous", default: storage.synchronous, allowed: ["full", "normal"], problems: &problems)
        // Both are read, so that both are known keys.
        let postgresURL = config.string(forKey: "storage.postgres.url", isSecret: true)
        let legacyURL = config.string(forKey: "database.url", isSecret: true)
        databaseURL = (postgresURL ?? legacyURL).flatMap { $0.isEmpty ? nil : $0 }
        cluster.leaseSeconds = config.double(forKey: "cluster.leaseSeconds", default: cluster.leaseSeconds)
        cluster.pollSeconds = config.double(forKey: "cluster.pollSeconds", default: cluster.pollSeconds)
        cluster.advertiseURL = config.string(forKey: "cluster.advertiseURL").flatMap { $0.isEmpty ? nil : $0 }
        cluster.internalPort = config.int(forKey: "cluster.internalPort")
        // All three are read, so that all three are known keys; any of them set makes a TLS block.
        let clusterTLS = SluiceConfiguration.Cluster.TLS(
            certFile: config.nonEmptyString(forKey: "cluster.tls.certFile"), keyFile: config.nonEmptyString(forKey: "cluster.tls.keyFile"),
            caFile: config.nonEmptyString(forKey: "cluster.tls.caFile"))
        if clusterTLS.certFile != nil || clusterTLS.keyFile != nil || clusterTLS.caFile != nil { cluster.tls = clusterTLS }
        queue.workers = config.int(forKey: "queue.workers", default: queue.workers)
        queue.maxRunningPerUser = config.int(forKey: "queue.maxRunningPerUser", default: queue.maxRunningPerUser)
        queue.deadlineSeconds = config.double(forKey: "queue.deadlineSeconds", default: queue.deadlineSeconds)
        queue.maxAttempts = config.int(forKey: "queue.maxAttempts", default: queue.maxAttempts)
        queue.backoffBaseMs = config.double(forKey: "queue.backoffBaseMs", default: queue.backoffBaseMs)
        queue.backoffMaxMs = config.double(forKey: "queue.backoffMaxMs", default: queue.backoffMaxMs)
        limits.maxMessages = config.int(forKey: "limits.maxMessages", default: limits.maxMessages)
        limits.maxTokens = config.int(forKey: "limits.maxTokens", default: limits.maxTokens)
        retention.streamSeconds = config.double(forKey: "retention.streamSeconds", default: retention.streamSeconds)
        retention.sweepSeconds = config.double(forKey: "retention.sweepSeconds", default: retention.sweepSeconds)
        retention.historyDays = config.double(forKey: "retention.historyDays", default: retention.historyDays)
        webhooks = WebhookSettings(config: config)
        batches = BatchSettings(config: config)
        mock.ttftMs = config.int(forKey: "mock.ttftMs", default: mock.ttftMs)
        mock.tokensPerSecond = config.double(forKey: "mock.tokensPerSecond", default: mock.tokensPerSecond)
        mock.tokens = config.int(forKey: "mock.tokens", default: mock.tokens)
        providers.maxRetryAfterSeconds = config.double(forKey: "providers.maxRetryAfterSeconds", default: providers.maxRetryAfterSeconds)
        for name in config.names(forKey: "deployments.names", problems: &problems) {
            deployments.append(Deployment(config: config.scoped(to: ["deployments", name]), name: name, problems: &problems))
        }
        for name in config.names(forKey: "models.aliases", problems: &problems) {
            aliases.append(ModelAlias(config: config.scoped(to: ["models", name]), name: name, problems: &problems))
        }
        admission = AdmissionPolicy(config: config, problems: &problems)
        for name in config.names(forKey: "tenants.names", problems: &problems) {
            tenants.append(Tenant(
                config: config.scoped(to: ["tenants", name]), name: name, timeZone: admission.calendar.timeZone.identifier,
                environment: environment, problems: &problems))
        }
        cache.enabled = config.bool(forKey: "cache.enabled", default: cache.enabled)
        cache.ttlSeconds = config.double(forKey: "cache.ttlSeconds", default: cache.ttlSeconds)
        cache.maxEntries = config.int(forKey: "cache.maxEntries", default: cache.maxEntries)
        cache.maxBytes = config.int(forKey: "cache.maxBytes", default: cache.maxBytes)
        semantic.enabled = config.bool(forKey: "cache.semantic.enabled", default: semantic.enabled)
        embedder.kind = config.choice(
            forKey: "cache.semantic.embedder", default: embedder.kind, allowed: EmbedderConfiguration.kinds, problems: &problems)
        embedder.baseURL = config.string(forKey: "cache.semantic.baseURL", default: embedder.baseURL)
        embedder.model = config.string(forKey: "cache.semantic.model", default: embedder.model)
        embedder.path = config.string(forKey: "cache.semantic.path", default: embedder.path)
        let embedderKey = config.string(forKey: "cache.semantic.apiKey", isSecret: true)
        let embedderKeyVariable = config.string(forKey: "cache.semantic.apiKeyEnv")
        embedder.apiKey = embedderKey ?? embedderKeyVariable.flatMap { ProcessInfo.processInfo.environment[$0] }
        if embedder.kind != "hashing" {
            // Thresholds are per embedder: another embedder starts from the seeds' values.
            semantic.namespaceThreshold = 0.88
            semantic.globalThreshold = 0.92
        }
        semantic.namespaceThreshold = config.double(forKey: "cache.semantic.namespaceThreshold", default: semantic.namespaceThreshold)
        semantic.globalThreshold = config.double(forKey: "cache.semantic.globalThreshold", default: semantic.globalThreshold)
    }
}

extension AdmissionPolicy {
    /// Reads `plans`, `tiers`, `modes`, `calendar` and `queue.reservedBypassWorkers`.
    init(config: ConfigReader, problems: inout [ConfigurationProblem]) {
        self.init()
        let planNames = config.names(forKey: "plans.names", problems: &problems)
        if !planNames.isEmpty {
            plans = [:]
            for name in planNames {
                plans[name] = Plan(config: config.scoped(to: ["plans", name]), name: name, problems: &problems)
            }
            defaultPlan = planNames[0]
        } else {
            plans = ["free": Plan(config: config.scoped(to: ["plans", "free"]), name: "free", problems: &problems)]
        }
        defaultPlan = config.string(forKey: "plans.default", default: defaultPlan)
        tiers.highAt = config.int(forKey: "tiers.highAt", default: tiers.highAt)
        tiers.peakAt = config.int(forKey: "tiers.peakAt", default: tiers.peakAt)
        tiers.overloadAt = config.int(forKey: "tiers.overloadAt", default: tiers.overloadAt)
        let simpleFrom = config.choice(
            forKey: "tiers.simpleModeFrom", default: tiers.simpleModeFrom.name, allowed: Tier.allCases.map(\.name) + ["never"],
            problems: &problems)
        // "never": only in overload, where students are refused anyway.
        tiers.simpleModeFrom = Tier.allCases.first { $0.name == simpleFrom } ?? .overload
        tiers.simpleMaxTokens = config.int(forKey: "tiers.simpleMaxTokens", default: tiers.simpleMaxTokens)
        tiers.brevityInstruction = config.string(forKey: "tiers.brevityInstruction", default: tiers.brevityInstruction)
        tiers.overloadRetryAfter = config.int(forKey: "tiers.overloadRetryAfter", default: tiers.overloadRetryAfter)
        for tier in Tier.allCases {
            if let threshold = config.double(forKey: ConfigKey(["tiers", tier.name, "semanticThreshold"])) { tiers.semanticThreshold[tier] = threshold }
        }
        for name in config.names(forKey: "modes.names", problems: &problems) {
            let section = config.scoped(to: ["modes", name])
            var mode = Mode(name: name)
            mode.requestsPerMinute = section.int(forKey: "requestsPerMinute")
            mode.overloadAt = section.int(forKey: "overloadAt")
            mode.semanticThreshold = section.double(forKey: "semanticThreshold")
            mode.simpleMode = section.bool(forKey: "simpleMode", default: false)
            modes[name] = mode
        }
        calendar = SchoolCalendar(config: config.scoped(to: "calendar"), path: "calendar", timeZone: "UTC", problems: &problems)
        reservedBypassWorkers = config.int(forKey: "queue.reservedBypassWorkers")
    }
}

extension SchoolCalendar {
    /// Reads a calendar section (the global `calendar`, or a tenant's): the time zone, exam periods and
    /// peak hours, each line checked.
    /// - Parameters:
    ///   - config: the reader of the section.
    ///   - path: the section's key path, for problems (`calendar`, `tenants.school-a.calendar`).
    ///   - timeZone: the time zone when the section names none.
    ///   - problems: where a problem goes.
    init(config: ConfigReader, path: String, timeZone defaultZone: String, problems: inout [ConfigurationProblem]) {
        self.init()
        let zone = config.string(forKey: "timeZone", default: defaultZone)
        if let timeZone = TimeZone(identifier: zone) {
            self.timeZone = timeZone
        } else {
            problems.append(ConfigurationProblem(
                path + ".timeZone", "\(ConfigurationProblem.quoted(zone)) is not a time zone; use a name like UTC, Asia/Ulaanbaatar or Europe/London"))
        }
        let examMode = config.string(forKey: "examMode", default: "exam")
        for text in config.stringArray(forKey: "examPeriods", default: []) {
            if let message = CalendarLines.periodProblem(text) {
                problems.append(ConfigurationProblem(path + ".examPeriods", "\(ConfigurationProblem.quoted(text)) \(message)"))
                continue
            }
            let days = CalendarLines.dayRange(text)
            periods.append(Period(first: days[0], last: days[days.count - 1], mode: examMode))
        }
        let peakMode = config.string(forKey: "peakMode", default: "peak-hours")
        for text in config.stringArray(forKey: "peakHours", default: []) {
            if let message = CalendarLines.hoursProblem(text) {
                problems.append(ConfigurationProblem(path + ".peakHours", "\(ConfigurationProblem.quoted(text)) \(message)"))
            } else if let hours = Hours(text, mode: peakMode) {
                self.hours.append(hours)
            }
        }
    }

    /// Whether a calendar section sets anything (a tenant without one follows the global calendar).
    static func isSet(in config: ConfigReader) -> Bool {
        config.string(forKey: "timeZone") != nil || config.string(forKey: "examMode") != nil
            || config.stringArray(forKey: "examPeriods") != nil || config.string(forKey: "peakMode") != nil
            || config.stringArray(forKey: "peakHours") != nil
    }
}

extension Plan {
    /// Reads one plan's section; absent keys keep the defaults (10 a minute, 5 in high, 3 in peak).
    init(config: ConfigReader, name: String, problems: inout [ConfigurationProblem]) {
        self.init(name: name)
        let path = "plans.\(name)"
        // 0 means no limit here, as documented.
        requestsPerMinute = config.limit(forKey: ["requestsPerMinute"], path: path, default: requestsPerMinute, problems: &problems)
        for tier in [Tier.high, .peak] {
            tierRequestsPerMinute[tier] = config.limit(
                forKey: ["tiers", tier.name, "requestsPerMinute"], path: path, default: tierRequestsPerMinute[tier], problems: &problems)
        }
        tokensPerMinute = config.int(forKey: "tokensPerMinute")
        messagesPerDay = config.int(forKey: "messagesPerDay")
        tokensPerDay = config.int(forKey: "tokensPerDay")
        maxTokens = config.int(forKey: "maxTokens", default: maxTokens)
        maxPromptBytes = config.int(forKey: "maxPromptBytes", default: maxPromptBytes)
        maxStreams = config.int(forKey: "maxStreams", default: maxStreams)
        maxRunning = config.int(forKey: "maxRunning")
        reconnectsPerMinute = config.int(forKey: "reconnectsPerMinute", default: reconnectsPerMinute)
        historyDays = config.double(forKey: "historyDays")
        spendPerMonthUSD = config.double(forKey: "spendPerMonthUSD")
    }
}

extension Deployment {
    /// Reads one deployment's section. The key comes from `apiKey` (e.g. `SLUICE_DEPLOYMENTS_OPENAI_API_KEY`)
    /// or from the environment variable named by `apiKeyEnv`; it is read as a secret.
    init(config: ConfigReader, name: String, problems: inout [ConfigurationProblem]) {
        let path = "deployments.\(name)"
        let kind = config.choice(forKey: "provider", path: path + ".provider", default: Kind.openai.rawValue, allowed: Kind.names, problems: &problems)
        self.init(
            name: name, kind: Kind(rawValue: kind) ?? .openai, baseURL: config.string(forKey: "baseURL", default: ""),
            model: config.string(forKey: "model", default: name))
        // Both are read, so that both are known keys.
        let key = config.string(forKey: "apiKey", isSecret: true)
        let keyVariable = config.string(forKey: "apiKeyEnv")
        apiKey = key ?? keyVariable.flatMap { ProcessInfo.processInfo.environment[$0] }
        weight = config.double(forKey: "weight", default: weight)
        maxInFlight = config.int(forKey: "maxInFlight", default: maxInFlight)
        warmConnections = config.int(forKey: "warmConnections", default: warmConnections)
        // 0 (or unset) means the account has no such cap.
        requestsPerMinute = config.limit(forKey: ["requestsPerMinute"], path: path, default: nil, problems: &problems)
        tokensPerMinute = config.limit(forKey: ["tokensPerMinute"], path: path, default: nil, problems: &problems)
        streaming = config.bool(forKey: "streaming", default: streaming)
        maxAnswerBytes = config.int(forKey: "maxAnswerBytes", default: maxAnswerBytes)
        caFile = config.string(forKey: "caFile")
        timeouts.connect = config.double(forKey: "timeouts.connect", default: timeouts.connect)
        timeouts.firstToken = config.double(forKey: "timeouts.firstToken", default: timeouts.firstToken)
        timeouts.idle = config.double(forKey: "timeouts.idle", default: timeouts.idle)
        timeouts.total = config.double(forKey: "timeouts.total", default: timeouts.total)
        prices.inputPerMillion = config.double(forKey: "prices.input", default: prices.inputPerMillion)
        prices.outputPerMillion = config.double(forKey: "prices.output", default: prices.outputPerMillion)
        breaker.failureRate = config.double(forKey: "breaker.failureRate", default: breaker.failureRate)
        breaker.minimumCalls = config.int(forKey: "breaker.minimumCalls", default: breaker.minimumCalls)
        breaker.window = config.int(forKey: "breaker.window", default: breaker.window)
        breaker.consecutiveFailures = config.int(forKey: "breaker.consecutiveFailures", default: breaker.consecutiveFailures)
        breaker.openSeconds = config.double(forKey: "breaker.openSeconds", default: breaker.openSeconds)
        breaker.halfOpenProbes = config.int(forKey: "breaker.halfOpenProbes", default: breaker.halfOpenProbes)
    }
}

extension ModelAlias {
    /// Reads one alias's section.
    init(config: ConfigReader, name: String, problems: inout [ConfigurationProblem]) {
        let path = "models.\(name)"
        self.init(name: name, deployments: config.stringArray(forKey: "deployments", default: []))
        let strategy = config.choice(
            forKey: "strategy", path: path + ".strategy", default: self.strategy.rawValue, allowed: Strategy.names, problems: &problems)
        self.strategy = Strategy(rawValue: strategy) ?? .ordered
        let onInterrupt = config.choice(
            forKey: "onInterrupt", path: path + ".onInterrupt", default: self.onInterrupt.rawValue, allowed: InterruptPolicy.names,
            problems: &problems)
        self.onInterrupt = InterruptPolicy(rawValue: onInterrupt) ?? .retry
        maxEjectedShare = config.double(forKey: "maxEjectedShare", default: maxEjectedShare)
    }
}
