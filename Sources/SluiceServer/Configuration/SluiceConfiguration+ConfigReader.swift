public import Configuration
import Foundation
import SluiceCore
import SluiceCache
import SluiceProviders
import SluiceStore

extension SluiceConfiguration {
    /// Reads the configuration; keys are those of `sluice.example.yaml` (environment: `SLUICE_` plus the key
    /// in upper case with `_`, e.g. `SLUICE_SERVER_PORT`, `SLUICE_QUEUE_WORKERS`).
    /// - Parameter config: the reader.
    public init(config: ConfigReader) {
        self.init()
        server.host = config.string(forKey: "server.host", default: server.host)
        server.port = config.int(forKey: "server.port", default: server.port)
        server.maxBodyBytes = config.int(forKey: "server.maxBodyBytes", default: server.maxBodyBytes)
        server.heartbeatSeconds = config.double(forKey: "server.heartbeatSeconds", default: server.heartbeatSeconds)
        server.shutdownGraceSeconds = config.double(forKey: "server.shutdownGraceSeconds", default: server.shutdownGraceSeconds)
        auth.apiKeys = config.stringArray(forKey: "auth.apiKeys", isSecret: true, default: auth.apiKeys)
        storage.directory = config.string(forKey: "storage.dataDir", default: storage.directory)
        storage.synchronous = config.string(forKey: "storage.synchronous", default: storage.synchronous)
        databaseURL = (config.string(forKey: "storage.postgres.url", isSecret: true) ?? config.string(forKey: "database.url", isSecret: true))
            .flatMap { $0.isEmpty ? nil : $0 }
        cluster.leaseSeconds = config.double(forKey: "cluster.leaseSeconds", default: cluster.leaseSeconds)
        cluster.pollSeconds = config.double(forKey: "cluster.pollSeconds", default: cluster.pollSeconds)
        cluster.advertiseURL = config.string(forKey: "cluster.advertiseURL").flatMap { $0.isEmpty ? nil : $0 }
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
        mock.ttftMs = config.int(forKey: "mock.ttftMs", default: mock.ttftMs)
        mock.tokensPerSecond = config.double(forKey: "mock.tokensPerSecond", default: mock.tokensPerSecond)
        mock.tokens = config.int(forKey: "mock.tokens", default: mock.tokens)
        deployments = config.stringArray(forKey: "deployments.names", default: []).map { name in
            Deployment(config: config.scoped(to: ["deployments", name]), name: name)
        }
        aliases = config.stringArray(forKey: "models.aliases", default: []).map { name in
            ModelAlias(config: config.scoped(to: ["models", name]), name: name)
        }
        admission = AdmissionPolicy(config: config)
        cache.enabled = config.bool(forKey: "cache.enabled", default: cache.enabled)
        cache.ttlSeconds = config.double(forKey: "cache.ttlSeconds", default: cache.ttlSeconds)
        cache.maxEntries = config.int(forKey: "cache.maxEntries", default: cache.maxEntries)
        cache.maxBytes = config.int(forKey: "cache.maxBytes", default: cache.maxBytes)
        semantic.enabled = config.bool(forKey: "cache.semantic.enabled", default: semantic.enabled)
        embedder.kind = config.string(forKey: "cache.semantic.embedder", default: embedder.kind)
        embedder.baseURL = config.string(forKey: "cache.semantic.baseURL", default: embedder.baseURL)
        embedder.model = config.string(forKey: "cache.semantic.model", default: embedder.model)
        embedder.apiKey = config.string(forKey: "cache.semantic.apiKey", isSecret: true)
            ?? config.string(forKey: "cache.semantic.apiKeyEnv").flatMap { ProcessInfo.processInfo.environment[$0] }
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
    init(config: ConfigReader) {
        self.init()
        let planNames = config.stringArray(forKey: "plans.names", default: [])
        if !planNames.isEmpty {
            plans = Dictionary(uniqueKeysWithValues: planNames.map { ($0, Plan(config: config.scoped(to: ["plans", $0]), name: $0)) })
            defaultPlan = planNames[0]
        } else {
            plans = ["free": Plan(config: config.scoped(to: ["plans", "free"]), name: "free")]
        }
        defaultPlan = config.string(forKey: "plans.default", default: defaultPlan)
        tiers.highAt = config.int(forKey: "tiers.highAt", default: tiers.highAt)
        tiers.peakAt = config.int(forKey: "tiers.peakAt", default: tiers.peakAt)
        tiers.overloadAt = config.int(forKey: "tiers.overloadAt", default: tiers.overloadAt)
        let simpleFrom = config.string(forKey: "tiers.simpleModeFrom", default: tiers.simpleModeFrom.name)
        tiers.simpleModeFrom = Tier.allCases.first { $0.name == simpleFrom } ?? (simpleFrom == "never" ? .overload : tiers.simpleModeFrom)
        tiers.simpleMaxTokens = config.int(forKey: "tiers.simpleMaxTokens", default: tiers.simpleMaxTokens)
        tiers.brevityInstruction = config.string(forKey: "tiers.brevityInstruction", default: tiers.brevityInstruction)
        tiers.overloadRetryAfter = config.int(forKey: "tiers.overloadRetryAfter", default: tiers.overloadRetryAfter)
        for tier in Tier.allCases {
            if let threshold = config.double(forKey: ConfigKey(["tiers", tier.name, "semanticThreshold"])) { tiers.semanticThreshold[tier] = threshold }
        }
        for name in config.stringArray(forKey: "modes.names", default: []) {
            let section = config.scoped(to: ["modes", name])
            var mode = Mode(name: name)
            mode.requestsPerMinute = section.int(forKey: "requestsPerMinute")
            mode.overloadAt = section.int(forKey: "overloadAt")
            mode.semanticThreshold = section.double(forKey: "semanticThreshold")
            mode.simpleMode = section.bool(forKey: "simpleMode", default: false)
            modes[name] = mode
        }
        let zone = config.string(forKey: "calendar.timeZone", default: "UTC")
        calendar.timeZone = TimeZone(identifier: zone) ?? calendar.timeZone
        let examMode = config.string(forKey: "calendar.examMode", default: "exam")
        calendar.periods = config.stringArray(forKey: "calendar.examPeriods", default: []).compactMap { text in
            let days = text.components(separatedBy: "..")
            guard let first = days.first, let last = days.last else { return nil }
            return SchoolCalendar.Period(first: first.trimmingCharacters(in: .whitespaces), last: last.trimmingCharacters(in: .whitespaces), mode: examMode)
        }
        let peakMode = config.string(forKey: "calendar.peakMode", default: "peak-hours")
        calendar.hours = config.stringArray(forKey: "calendar.peakHours", default: []).compactMap { SchoolCalendar.Hours($0, mode: peakMode) }
        reservedBypassWorkers = config.int(forKey: "queue.reservedBypassWorkers")
    }
}

extension Plan {
    /// Reads one plan's section; absent keys keep the defaults (10 a minute, 5 in high, 3 in peak).
    init(config: ConfigReader, name: String) {
        self.init(name: name)
        let perMinute = config.int(forKey: "requestsPerMinute", default: requestsPerMinute ?? 0)
        requestsPerMinute = perMinute > 0 ? perMinute : nil
        for tier in [Tier.high, .peak] {
            let value = config.int(forKey: ConfigKey(["tiers", tier.name, "requestsPerMinute"]), default: tierRequestsPerMinute[tier] ?? 0)
            tierRequestsPerMinute[tier] = value > 0 ? value : nil
        }
        tokensPerMinute = config.int(forKey: "tokensPerMinute")
        messagesPerDay = config.int(forKey: "messagesPerDay")
        tokensPerDay = config.int(forKey: "tokensPerDay")
        maxTokens = config.int(forKey: "maxTokens", default: maxTokens)
        maxPromptBytes = config.int(forKey: "maxPromptBytes", default: maxPromptBytes)
        maxStreams = config.int(forKey: "maxStreams", default: maxStreams)
        reconnectsPerMinute = config.int(forKey: "reconnectsPerMinute", default: reconnectsPerMinute)
    }
}

extension Deployment {
    /// Reads one deployment's section. The key comes from `apiKey` (e.g. `SLUICE_DEPLOYMENTS_OPENAI_API_KEY`)
    /// or from the environment variable named by `apiKeyEnv`; it is read as a secret.
    init(config: ConfigReader, name: String) {
        let kind = Deployment.Kind(rawValue: config.string(forKey: "provider", default: "openai")) ?? .openai
        self.init(name: name, kind: kind, baseURL: config.string(forKey: "baseURL", default: ""), model: config.string(forKey: "model", default: name))
        apiKey = config.string(forKey: "apiKey", isSecret: true)
            ?? config.string(forKey: "apiKeyEnv").flatMap { ProcessInfo.processInfo.environment[$0] }
        weight = config.double(forKey: "weight", default: weight)
        maxInFlight = config.int(forKey: "maxInFlight", default: maxInFlight)
        requestsPerMinute = config.int(forKey: "requestsPerMinute")
        tokensPerMinute = config.int(forKey: "tokensPerMinute")
        streaming = config.bool(forKey: "streaming", default: streaming)
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
    init(config: ConfigReader, name: String) {
        self.init(name: name, deployments: config.stringArray(forKey: "deployments", default: []))
        strategy = Strategy(rawValue: config.string(forKey: "strategy", default: strategy.rawValue)) ?? .ordered
        onInterrupt = InterruptPolicy(rawValue: config.string(forKey: "onInterrupt", default: onInterrupt.rawValue)) ?? .retry
        maxEjectedShare = config.double(forKey: "maxEjectedShare", default: maxEjectedShare)
    }
}
