import Foundation
import SluiceCache
import SluiceCore
import SluiceProviders
import SluiceStore

extension SluiceConfiguration {
    /// The problems of values that were read but cannot work: numbers out of range, URLs that are not
    /// URLs, aliases naming deployments nobody defined, plans, modes and the calendar (see
    /// `AdmissionPolicy.validationProblems`). Empty when the configuration can be used.
    public func validationProblems() -> [ConfigurationProblem] {
        var list = ProblemList()
        checkServer(&list)
        checkAuth(&list)
        checkStorage(&list)
        list.atLeast("queue.workers", queue.workers, 1)
        list.atLeast("queue.maxRunningPerUser", queue.maxRunningPerUser, 1)
        list.positive("queue.deadlineSeconds", queue.deadlineSeconds)
        list.atLeast("queue.maxAttempts", queue.maxAttempts, 1)
        list.notNegative("queue.backoffBaseMs", queue.backoffBaseMs)
        list.notNegative("queue.backoffMaxMs", queue.backoffMaxMs)
        list.atLeast("limits.maxMessages", limits.maxMessages, 1)
        list.atLeast("limits.maxTokens", limits.maxTokens, 1)
        list.notNegative("retention.streamSeconds", retention.streamSeconds)
        list.positive("retention.sweepSeconds", retention.sweepSeconds)
        list.notNegative("retention.historyDays", retention.historyDays)
        webhooks.check(&list, path: "webhooks")
        batches.check(&list)
        list.atLeast("mock.ttftMs", mock.ttftMs, 0)
        list.notNegative("mock.tokensPerSecond", mock.tokensPerSecond)
        list.atLeast("mock.tokens", mock.tokens, 0)
        checkCache(&list)
        list.positive("providers.maxRetryAfterSeconds", providers.maxRetryAfterSeconds)
        for deployment in deployments { Self.checkDeployment(deployment, &list) }
        checkAliases(&list)
        list.problems += admission.validationProblems(workers: queue.workers)
        return list.problems
    }

    private func checkServer(_ list: inout ProblemList) {
        list.notEmpty("server.host", server.host, "the address to listen on, like 127.0.0.1")
        if !(0...65535).contains(server.port) {
            list.add("server.port", "must be a port number from 0 to 65535 (0 picks a free one), not \(server.port)")
        }
        list.atLeast("server.maxBodyBytes", server.maxBodyBytes, 1)
        list.positive("server.heartbeatSeconds", server.heartbeatSeconds)
        list.positive("server.idleTimeoutSeconds", server.idleTimeoutSeconds)
        list.atLeast("server.maxConnections", server.maxConnections, 1)
        list.atLeast("server.maxConnectionsPerAddress", server.maxConnectionsPerAddress, 1)
        list.atLeast("server.backlog", server.backlog, 1)
        list.atMost("server.backlog", server.backlog, 65_535)
        list.positive("server.writeStallSeconds", server.writeStallSeconds)
        list.notNegative("server.shutdownGraceSeconds", server.shutdownGraceSeconds)
        if !hasCredentials, !bindsLoopbackOnly, !server.host.isEmpty {
            list.add("server.host", """
                \(ConfigurationProblem.quoted(server.host)) is beyond loopback, and Sluice does not listen there without API keys: \
                set auth.apiKeys (SLUICE_AUTH_API_KEYS), a tenant's apiKeysEnv, auth.adminKeys or auth.jwt, or bind 127.0.0.1
                """)
        }
        for entry in server.trustedProxies {
            if let problem = AddressRange.problem(cidr: entry) {
                list.add("server.trustedProxies", "\(ConfigurationProblem.quoted(entry)) \(problem)")
            }
        }
    }

    private func checkStorage(_ list: inout ProblemList) {
        if let url = databaseURL {
            if let problem = Self.databaseURLProblem(url) { list.add("storage.postgres.url", problem) }
        } else {
            list.notEmpty("storage.dataDir", storage.directory, "the folder of the embedded store, like .sluice")
        }
        checkCluster(&list)
    }

    /// What is wrong with a PostgreSQL URL, or nil; never quotes it (it may hold a password).
    static func databaseURLProblem(_ url: String) -> String? {
        let shape = "must look like postgres://user:password@host:5432/database (the value is not shown: it may hold a password)"
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme?.lowercased() ?? ""),
              let host = components.host, !host.isEmpty
        else { return shape }
        let modes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
        if let mode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value, !modes.contains(mode) {
            return "has sslmode=\(mode), which is not one of \(modes.joined(separator: ", "))"
        }
        // libpq's name for the authority the server's certificate is checked against ("system": the system's).
        if let file = components.queryItems?.first(where: { $0.name == "sslrootcert" })?.value, file != "system" {
            if file.isEmpty { return "has an empty sslrootcert: name the PEM file of the authority that signed the server's certificate" }
            if let problem = pemFileProblem(file, holding: .certificates) { return "has sslrootcert=\(file), but \(problem)" }
        }
        return nil
    }

    private func checkCache(_ list: inout ProblemList) {
        list.positive("cache.ttlSeconds", cache.ttlSeconds)
        list.atLeast("cache.maxEntries", cache.maxEntries, 1)
        list.atLeast("cache.maxBytes", cache.maxBytes, 1)
        list.fraction("cache.semantic.namespaceThreshold", semantic.namespaceThreshold)
        list.fraction("cache.semantic.globalThreshold", semantic.globalThreshold)
        if semantic.enabled, embedder.kind == "openai" {
            list.webURL("cache.semantic.baseURL", embedder.baseURL, example: "https://api.openai.com/v1 (for the openai embedder)")
            list.notEmpty("cache.semantic.model", embedder.model, "the embedding model, like text-embedding-3-small")
        }
        if semantic.enabled, embedder.kind == "static" {
            do { _ = try StaticEmbedder(directory: embedder.path) } catch {
                list.add("cache.semantic.path", "\(error); allowed: a directory with model.safetensors, tokenizer.json and config.json (Model2Vec)")
            }
        }
    }

    private static func checkDeployment(_ deployment: Deployment, _ list: inout ProblemList) {
        let path = "deployments.\(deployment.name)"
        switch deployment.kind {
        case .openai:
            list.webURL(path + ".baseURL", deployment.baseURL, example: "https://api.openai.com/v1 (for provider openai)")
        case .anthropic:
            list.webURL(path + ".baseURL", deployment.baseURL, example: "https://api.anthropic.com (for provider anthropic)")
        case .mock:
            break
        }
        list.notEmpty(path + ".model", deployment.model, "the provider's model name")
        list.notNegative(path + ".weight", deployment.weight)
        list.atLeast(path + ".maxInFlight", deployment.maxInFlight, 1)
        list.atLeast(path + ".warmConnections", deployment.warmConnections, 0)
        list.atLeast(path + ".maxAnswerBytes", deployment.maxAnswerBytes, 1)
        if let caFile = deployment.caFile, !FileManager.default.fileExists(atPath: caFile) {
            list.add(path + ".caFile", "there is no file at \(caFile)")
        }
        list.positive(path + ".timeouts.connect", deployment.timeouts.connect)
        list.positive(path + ".timeouts.firstToken", deployment.timeouts.firstToken)
        list.positive(path + ".timeouts.idle", deployment.timeouts.idle)
        list.positive(path + ".timeouts.total", deployment.timeouts.total)
        list.notNegative(path + ".prices.input", deployment.prices.inputPerMillion)
        list.notNegative(path + ".prices.output", deployment.prices.outputPerMillion)
        list.fraction(path + ".breaker.failureRate", deployment.breaker.failureRate)
        list.atLeast(path + ".breaker.minimumCalls", deployment.breaker.minimumCalls, 0)
        list.atLeast(path + ".breaker.window", deployment.breaker.window, 1)
        list.atLeast(path + ".breaker.consecutiveFailures", deployment.breaker.consecutiveFailures, 1)
        list.positive(path + ".breaker.openSeconds", deployment.breaker.openSeconds)
        list.atLeast(path + ".breaker.halfOpenProbes", deployment.breaker.halfOpenProbes, 1)
    }

    private func checkAliases(_ list: inout ProblemList) {
        let defined = deployments.map(\.name)
        for alias in aliases {
            let path = "models.\(alias.name)"
            if alias.deployments.isEmpty {
                list.add(path + ".deployments", defined.isEmpty
                    ? "lists no deployments, and none are defined: add them to deployments.names, each with its section"
                    : "lists no deployments; name one or more of \(defined.joined(separator: ", "))")
            }
            for name in alias.deployments where !defined.contains(name) {
                if defined.isEmpty {
                    list.add(path + ".deployments", "names \(ConfigurationProblem.quoted(name)), but no deployments are defined (deployments.names is empty)")
                } else {
                    list.problems.append(.notOneOf(path + ".deployments", name, defined))
                }
            }
            list.fraction(path + ".maxEjectedShare", alias.maxEjectedShare)
        }
    }
}
