import Configuration
import Foundation
import NIOHTTP1
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore
import SluiceServer
import SluiceTesting
import Testing

@Suite struct ConfigurationTests {
    @Test func noConfigurationAtAllGivesTheDocumentedDefaults() async throws {
        // Run from the package root, which holds no sluice.yaml.
        #expect(!FileManager.default.fileExists(atPath: "sluice.yaml"))
        let configuration = try await SluiceConfiguration.load(configFile: nil, environment: [:])
        #expect(configuration.server.host == "127.0.0.1")
        #expect(configuration.server.port == 8080)
        #expect(configuration.storage.directory == ".sluice")
        #expect(configuration.storage.synchronous == "full")
        #expect(configuration.server.maxBodyBytes == 1 << 20)
        #expect(configuration.retention.streamSeconds == 3600)
        #expect(configuration.auth.apiKeys.isEmpty)
    }

    @Test func flagsWinOverEnvironmentWhichWinsOverTheFile() async throws {
        let file = TemporaryDirectory.make() + "/sluice.yaml"
        try """
            server:
              host: 127.0.0.2
              port: 7001
              heartbeatSeconds: 5
            queue:
              workers: 3
              deadlineSeconds: 30
            storage:
              dataDir: /tmp/from-file
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let configuration = try await SluiceConfiguration.load(
            configFile: file,
            flags: ["server.port": ConfigValue(.int(7003), isSecret: false)],
            environment: ["SLUICE_SERVER_PORT": "7002", "SLUICE_QUEUE_WORKERS": "9", "SLUICE_AUTH_API_KEYS": "a:k1,b:k2"])
        #expect(configuration.server.port == 7003)
        #expect(configuration.queue.workers == 9)
        #expect(configuration.server.host == "127.0.0.2")
        #expect(configuration.server.heartbeatSeconds == 5)
        #expect(configuration.queue.deadlineSeconds == 30)
        #expect(configuration.storage.directory == "/tmp/from-file")
        #expect(configuration.auth.apiKeys == ["a:k1", "b:k2"])
    }

    @Test func aNamedConfigFileMustExist() async throws {
        await #expect(throws: (any Error).self) {
            _ = try await SluiceConfiguration.load(configFile: "/nonexistent/sluice.yaml", environment: [:])
        }
    }
}

@Suite struct ProviderConfigurationTests {
    @Test func deploymentsAndAliasesAreReadFromYAMLWithKeysFromTheEnvironment() async throws {
        let file = TemporaryDirectory.make() + "/sluice.yaml"
        try """
            deployments:
              names: [openrouter, openai, gemini]
              openrouter:
                provider: openai
                baseURL: https://openrouter.ai/api/v1
                model: openai/gpt-4o-mini
                maxInFlight: 24
                warmConnections: 4
                requestsPerMinute: 500
                timeouts:
                  firstToken: 8
                prices:
                  input: 0.15
                  output: 0.6
                breaker:
                  consecutiveFailures: 4
              openai:
                provider: openai
                baseURL: https://api.openai.com/v1
                model: gpt-4o-mini
                apiKeyEnv: MY_OPENAI_KEY
              gemini:
                provider: openai
                baseURL: https://generativelanguage.googleapis.com/v1beta/openai
                model: gemini-2.0-flash
                weight: 2
            models:
              aliases: [tutor]
              tutor:
                deployments: [openrouter, openai, gemini]
                strategy: ordered
                onInterrupt: error
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let configuration = try await SluiceConfiguration.load(
            configFile: file, environment: ["SLUICE_DEPLOYMENTS_OPENROUTER_API_KEY": "sk-or-1"])
        #expect(configuration.deployments.map(\.name) == ["openrouter", "openai", "gemini"])
        let openrouter = configuration.deployments[0]
        #expect(openrouter.kind == .openai)
        #expect(openrouter.baseURL == "https://openrouter.ai/api/v1")
        #expect(openrouter.model == "openai/gpt-4o-mini")
        #expect(openrouter.apiKey == "sk-or-1")
        #expect(openrouter.requestsPerMinute == 500)
        #expect(openrouter.warmConnections == 4)
        #expect(configuration.deployments[1].warmConnections == 2, "the default")
        #expect(openrouter.timeouts.firstToken == 8)
        #expect(openrouter.timeouts.idle == 30)
        #expect(openrouter.prices.outputPerMillion == 0.6)
        #expect(openrouter.breaker.consecutiveFailures == 4)
        #expect(configuration.deployments[2].weight == 2)
        #expect(configuration.aliases.map(\.name) == ["tutor"])
        #expect(configuration.aliases[0].deployments == ["openrouter", "openai", "gemini"])
        #expect(configuration.aliases[0].onInterrupt == .error)
    }
}

/// A configuration file holding `yaml`, checked the way `sluice serve` loads it (no environment unless given).
private func checked(_ yaml: String, environment: [String: String] = [:]) async throws -> ConfigurationCheck {
    let file = TemporaryDirectory.make() + "/sluice.yaml"
    try yaml.write(toFile: file, atomically: true, encoding: .utf8)
    return await SluiceConfiguration.check(configFile: file, environment: environment)
}

/// The folder of `Package.swift`.
private let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
/// The committed test certificate and its key.
private let fixtureCertificate = packageRoot + "/Tests/Fixtures/test-upstream.cert.pem"
private let fixtureKey = packageRoot + "/Tests/Fixtures/test-upstream.key.pem"

/// One mistake in a configuration file, where it must be reported, and words the report must contain.
struct ConfigurationMistake: Sendable, CustomTestStringConvertible {
    var yaml: String
    var keyPath: String
    var says: String
    var testDescription: String { "\(keyPath): \(yaml)" }
}

@Suite struct ConfigurationValidationTests {
    static let mistakes: [ConfigurationMistake] = [
        // Choices nobody offers.
        .init(yaml: #"deployments: {names: [openrouter], openrouter: {provider: opnai, baseURL: "https://openrouter.ai/api/v1", model: m}}"#,
              keyPath: "deployments.openrouter.provider", says: #""opnai" is not one of openai, anthropic, mock"#),
        .init(yaml: "deployments: {names: [d], d: {provider: mock}}\nmodels: {aliases: [tutor], tutor: {deployments: [d], strategy: fastest}}",
              keyPath: "models.tutor.strategy", says: #""fastest" is not one of ordered, weighted"#),
        .init(yaml: "deployments: {names: [d], d: {provider: mock}}\nmodels: {aliases: [tutor], tutor: {deployments: [d], onInterrupt: ignore}}",
              keyPath: "models.tutor.onInterrupt", says: #""ignore" is not one of retry, error"#),
        .init(yaml: "cache: {semantic: {embedder: bert}}", keyPath: "cache.semantic.embedder", says: #""bert" is not one of hashing, openai"#),
        .init(yaml: "storage: {synchronous: sometimes}", keyPath: "storage.synchronous", says: #""sometimes" is not one of full, normal"#),
        .init(yaml: "tiers: {simpleModeFrom: later}", keyPath: "tiers.simpleModeFrom", says: "is not one of normal, high, peak, overload, never"),
        // The calendar.
        .init(yaml: "calendar: {timeZone: Mars/Olympus}", keyPath: "calendar.timeZone", says: #""Mars/Olympus" is not a time zone"#),
        .init(yaml: #"calendar: {peakHours: ["mon-fry 18:00-22:00"]}"#, keyPath: "calendar.peakHours", says: #"has "fry", which is not a day (mon, tue"#),
        .init(yaml: #"calendar: {peakHours: ["mon-fri 22:00-02:00"]}"#, keyPath: "calendar.peakHours", says: "ends before it starts"),
        .init(yaml: #"calendar: {peakHours: ["weekdays evenings"]}"#, keyPath: "calendar.peakHours", says: "which is not a day"),
        .init(yaml: #"calendar: {examPeriods: ["2026-02-30"]}"#, keyPath: "calendar.examPeriods", says: #"has "2026-02-30", which is not a day"#),
        // A mode the calendar switches on that nobody defines (as the README's example once did).
        .init(yaml: "modes: {names: [exam], exam: {requestsPerMinute: 3}}\ncalendar: {peakHours: [\"mon-fri 18:00-22:00\"], peakMode: evening}",
              keyPath: "calendar.peakMode", says: #""evening" is switched on by calendar.peakHours but is not one of the modes defined (exam)"#),
        .init(yaml: #"calendar: {examPeriods: ["2026-12-14..2026-12-20"]}"#, keyPath: "calendar.examMode", says: "no modes are defined"),
        // References.
        .init(yaml: "deployments: {names: [openrouter], openrouter: {provider: mock}}\nmodels: {aliases: [tutor], tutor: {deployments: [opnrouter]}}",
              keyPath: "models.tutor.deployments", says: #""opnrouter" is not one of openrouter"#),
        .init(yaml: "plans: {names: [free], default: paid}", keyPath: "plans.default", says: #""paid" is not one of free"#),
        .init(yaml: "plans: {names: [free, free]}", keyPath: "plans.names", says: #"lists "free" twice"#),
        .init(yaml: "deployments: {names: [d], d: {provider: openai, model: m}}", keyPath: "deployments.d.baseURL", says: "is required"),
        // Ranges.
        .init(yaml: "server: {port: 70000}", keyPath: "server.port", says: "from 0 to 65535"),
        .init(yaml: "server: {idleTimeoutSeconds: 1e300}", keyPath: "server.idleTimeoutSeconds", says: "at most 1000000000"),
        .init(yaml: "queue: {workers: 0}", keyPath: "queue.workers", says: "must be at least 1, not 0"),
        .init(yaml: "queue: {maxAttempts: 0}", keyPath: "queue.maxAttempts", says: "must be at least 1, not 0"),
        .init(yaml: "queue: {workers: 4, reservedBypassWorkers: 4}", keyPath: "queue.reservedBypassWorkers", says: "fewer than queue.workers"),
        .init(yaml: "cluster: {leaseSeconds: 0}", keyPath: "cluster.leaseSeconds", says: "must be more than 0, not 0"),
        .init(yaml: "cache: {semantic: {namespaceThreshold: 1.5}}", keyPath: "cache.semantic.namespaceThreshold", says: "between 0 and 1, not 1.5"),
        .init(yaml: "tiers: {peak: {semanticThreshold: 2}}", keyPath: "tiers.peak.semanticThreshold", says: "between 0 and 1"),
        .init(yaml: "tiers: {highAt: 6000}", keyPath: "tiers.peakAt", says: "must be at least tiers.highAt (6000), not 5000"),
        .init(yaml: "deployments: {names: [d], d: {provider: mock, prices: {input: -1}}}", keyPath: "deployments.d.prices.input", says: "must be 0 or more, not -1"),
        .init(yaml: "deployments: {names: [d], d: {provider: mock, timeouts: {total: 0}}}", keyPath: "deployments.d.timeouts.total", says: "must be more than 0"),
        .init(yaml: "deployments: {names: [d], d: {provider: mock, requestsPerMinute: -3}}", keyPath: "deployments.d.requestsPerMinute", says: "0 (no limit) or a positive number"),
        .init(yaml: "deployments: {names: [d], d: {provider: mock, warmConnections: -1}}", keyPath: "deployments.d.warmConnections", says: "must be 0 or more, not -1"),
        .init(yaml: "plans: {names: [free], free: {requestsPerMinute: -5}}", keyPath: "plans.free.requestsPerMinute", says: "0 (no limit) or a positive number"),
        .init(yaml: "plans: {names: [free], free: {maxRunning: 0}}", keyPath: "plans.free.maxRunning", says: "must be at least 1, not 0"),
        .init(yaml: "modes: {names: [exam], exam: {requestsPerMinute: -1}}", keyPath: "modes.exam.requestsPerMinute", says: "must be 0 or more, not -1"),
        .init(yaml: "server: {host: 0.0.0.0}", keyPath: "server.host", says: "without API keys"),
        .init(yaml: #"storage: {postgres: {url: "mysql://root:hunter2@db/x"}}"#, keyPath: "storage.postgres.url", says: "postgres://user:password@host"),
        .init(yaml: #"storage: {postgres: {url: "postgres://u:hunter2@db/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"}}"#,
              keyPath: "storage.postgres.url", says: "there is no file at /nonexistent/ca.pem"),
        // The cluster's own listener and its TLS.
        .init(yaml: "cluster: {internalPort: 70000}", keyPath: "cluster.internalPort", says: "from 0 to 65535"),
        .init(yaml: "server: {port: 8080}\ncluster: {internalPort: 8080}", keyPath: "cluster.internalPort", says: "need a port of their own"),
        .init(yaml: #"cluster: {tls: {certFile: "\#(fixtureCertificate)", keyFile: "\#(fixtureKey)"}}"#, keyPath: "cluster.tls", says: "set cluster.internalPort"),
        .init(yaml: #"cluster: {internalPort: 0, tls: {certFile: "\#(fixtureCertificate)"}}"#, keyPath: "cluster.tls.keyFile", says: "is required"),
        .init(yaml: #"cluster: {internalPort: 0, tls: {certFile: "/nonexistent/node.pem", keyFile: "\#(fixtureKey)"}}"#,
              keyPath: "cluster.tls.certFile", says: "there is no file at /nonexistent/node.pem"),
        .init(yaml: #"cluster: {internalPort: 0, tls: {certFile: "\#(fixtureKey)", keyFile: "\#(fixtureKey)"}}"#,
              keyPath: "cluster.tls.certFile", says: "holds no PEM certificate"),
        .init(yaml: #"cluster: {internalPort: 0, tls: {certFile: "\#(fixtureCertificate)", keyFile: "\#(fixtureCertificate)"}}"#,
              keyPath: "cluster.tls.keyFile", says: "holds no PEM private key"),
        .init(yaml: #"cluster: {internalPort: 0, tls: {certFile: "\#(fixtureCertificate)", keyFile: "\#(fixtureKey)"}, advertiseURL: "http://10.0.0.5:8443"}"#,
              keyPath: "cluster.advertiseURL", says: "write https://"),
        // Callbacks, batches and schedules.
        .init(yaml: "webhooks: {secret: whsec_c2hvcnQ=}", keyPath: "webhooks.secret", says: "not written whsec_ followed by 24 to 64 bytes"),
        .init(yaml: #"webhooks: {allowedHosts: ["http://hooks.example.org/"]}"#, keyPath: "webhooks.allowedHosts", says: "is not a host name"),
        .init(yaml: "batches: {concurrency: 0}", keyPath: "batches.concurrency", says: "must be at least 1, not 0"),
        .init(yaml: "server: {backlog: 3000000000}", keyPath: "server.backlog", says: "must be at most 65535, not 3000000000"),
        .init(yaml: "server: {backlog: 0}", keyPath: "server.backlog", says: "must be at least 1, not 0"),
        .init(yaml: "batches: {maxFileBytes: 9223372036854775000}", keyPath: "batches.maxFileBytes", says: "must be at most 1073741824"),
        .init(yaml: #"tenants: {names: [a], a: {schedules: {names: [s], s: {cron: "61 * * * *", kind: warm, trendingHours: 24}}}}"#,
              keyPath: "tenants.a.schedules.s.cron", says: "minute: 61"),
        .init(yaml: #"tenants: {names: [a], a: {schedules: {names: [s], s: {cron: "0 14 * * *", kind: cook}}}}"#,
              keyPath: "tenants.a.schedules.s.kind", says: #""cook" is not one of warm, extendTTL, batch"#),
        .init(yaml: #"tenants: {names: [a], a: {schedules: {names: [s], s: {cron: "0 14 * * *", kind: extendTTL}}}}"#,
              keyPath: "tenants.a.schedules.s.namespaces", says: "names the namespaces"),
        .init(yaml: #"tenants: {names: [a], a: {schedules: {names: [s], s: {cron: "0 1 * * *", kind: batch, file: /nonexistent/essays.jsonl}}}}"#,
              keyPath: "tenants.a.schedules.s.file", says: "cannot be read"),
        .init(yaml: #"tenants: {names: [a], a: {schedules: {names: [s], s: {cron: "0 1 * * *", kind: warm, trendingHours: 24, tpo: 5}}}}"#,
              keyPath: "tenants.a.schedules.s.tpo", says: "did you mean top?"),
        // Keys the reader never reads, and values of the wrong type.
        .init(yaml: "server: {prot: 8080}", keyPath: "server.prot", says: #""prot" is not a setting of server; allowed: host, port"#),
        .init(yaml: "srever: {port: 8080, host: 127.0.0.1}", keyPath: "srever", says: "did you mean server?"),
        .init(yaml: "deployments: {names: [d], d: {provider: mock}, gemini: {provider: mock}}", keyPath: "deployments.gemini", says: "is not named in deployments.names"),
        .init(yaml: "deployments: {names: [d], d: {provider: mock, timeouts: {conect: 3}}}", keyPath: "deployments.d.timeouts.conect", says: "did you mean connect?"),
        .init(yaml: "queue: {workers: {count: 3}}", keyPath: "queue.workers", says: "takes a value"),
        .init(yaml: "server: {port: eighty}", keyPath: "server.port", says: "in the configuration file is not a whole number"),
    ]

    @Test(arguments: ConfigurationValidationTests.mistakes)
    func eachMistakeIsOneProblemNamingItsKeyPath(_ mistake: ConfigurationMistake) async throws {
        let check = try await checked(mistake.yaml)
        #expect(!check.isValid)
        #expect(check.problems.map(\.keyPath) == [mistake.keyPath], "\(check.problems)")
        #expect(check.problems.first?.message.contains(mistake.says) == true, "\(check.problems)")
        #expect(!check.problems.description.contains("hunter2"))
    }

    @Test func theExampleFileAndTheREADMEsExamplesHaveNoProblems() async throws {
        let example = await SluiceConfiguration.check(configFile: packageRoot + "/sluice.example.yaml", environment: [:])
        #expect(example.problems == [])
        #expect(example.file == packageRoot + "/sluice.example.yaml")
        let readme = try String(contentsOfFile: packageRoot + "/README.md", encoding: .utf8)
        let blocks = readme.components(separatedBy: "```yaml\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        #expect(blocks.count >= 3)
        // The README's examples name variables that hold keys; here they are set.
        let environment = ["SCHOOL_A_KEYS": "sk-a-1,sk-a-2", "SCHOOL_A_ADMIN_KEYS": "sk-a-admin", "SCHOOL_B_KEYS": "sk-b-1"]
        for block in blocks {
            let check = try await checked(block, environment: environment)
            #expect(check.problems == [], "\(block)")
        }
    }

    @Test func aFileThatIsNotYAMLSettingsIsAProblemNotACrash() async throws {
        for text in ["server: [unclosed\n", "- a list\n- at the top\n"] {
            let check = try await checked(text)
            #expect(check.problems.count == 1 && check.problems.first?.message.contains("cannot be read as YAML settings") == true, "\(check.problems)")
        }
    }

    @Test func zeroLimitsAndEmptySectionsAreFine() async throws {
        let check = try await checked("""
            cluster:
              # leaseSeconds: 2
            plans: {names: [free], free: {requestsPerMinute: 0, reconnectsPerMinute: 0}}
            modes: {names: [exam], exam: {requestsPerMinute: 0}}
            deployments: {names: [d], d: {provider: mock, requestsPerMinute: 0}}
            """)
        #expect(check.problems == [])
        #expect(check.configuration.admission.modes["exam"]?.requestsPerMinute == 0)
        #expect(check.configuration.admission.plans["free"]?.requestsPerMinute == nil)
        #expect(check.configuration.deployments.first?.requestsPerMinute == nil)
    }

    @Test func everyMistakeIsReportedAtOnceAndTheEnvironmentIsCheckedToo() async throws {
        let check = try await checked(
            "server: {prot: 1}\nqueue: {workers: 0}\ncalendar: {timeZone: Nowhere}", environment: ["SLUICE_QUEUE_MAX_ATTEMPTS": "many"])
        #expect(Set(check.problems.map(\.keyPath)) == ["server.prot", "queue.workers", "calendar.timeZone", "queue.maxAttempts"], "\(check.problems)")
        #expect(check.problems.first { $0.keyPath == "queue.maxAttempts" }?.message.contains("from the environment") == true)
        await #expect(throws: ConfigurationError.self) {
            _ = try await SluiceConfiguration.load(configFile: nil, environment: ["SLUICE_SERVER_PORT": "-1"])
        }
    }

    @Test func theSettingsInForceNeverShowSecrets() async throws {
        let check = try await checked("""
            storage: {postgres: {url: "postgres://sluice:hunter2@db.internal:5432/sluice"}}
            deployments: {names: [d], d: {provider: openai, baseURL: "https://api.openai.com/v1", apiKey: sk-file-secret}}
            models: {aliases: [tutor], tutor: {deployments: [d]}}
            """, environment: ["SLUICE_AUTH_API_KEYS": "school-a:sk-env-secret"])
        #expect(check.problems == [])
        let settings = Dictionary(check.configuration.effectiveSettings.map { ($0.key, $0.value) }) { $1 }
        #expect(settings["storage.postgres.url"] == "postgres://sluice:<set>@db.internal:5432/sluice")
        #expect(settings["deployments.d.apiKey"] == "<set>")
        #expect(settings["auth.apiKeys"]?.hasPrefix("<set>") == true)
        #expect(settings["models.tutor.strategy"] == "ordered")
        let all = check.configuration.effectiveSettings.map { "\($0.key): \($0.value)" }.joined(separator: "\n")
        for secret in ["hunter2", "sk-file-secret", "sk-env-secret"] { #expect(!all.contains(secret)) }
    }
}

@Suite struct ConfigurationCommandTests {
    @Test func checkConfigExitsWith1AndPrintsEveryProblemOneALine() async throws {
        let file = TemporaryDirectory.make() + "/sluice.yaml"
        try #"""
            server: {prot: 8080}
            deployments: {names: [d], d: {provider: opnai, baseURL: "https://api.example.com/v1"}}
            """#.write(toFile: file, atomically: true, encoding: .utf8)
        let (status, output) = try await SluiceProcess.run(["check-config", "--config", file])
        #expect(status == 1, "\(output)")
        let lines = output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.contains { $0.hasPrefix("server.prot: ") }, "\(output)")
        #expect(lines.contains(#"deployments.d.provider: "opnai" is not one of openai, anthropic, mock"#), "\(output)")
        // serve refuses the same file, printing the same problems, without a crash.
        let (served, log) = try await SluiceProcess.run(["serve", "--config", file, "--port", "0", "--data-dir", TemporaryDirectory.make()])
        #expect(served == 1, "\(log)")
        #expect(log.contains("server.prot: ") && log.contains(#"deployments.d.provider: "opnai""#), "\(log)")
    }

    @Test func checkConfigPrintsTheSettingsOfAValidFileWithSecretsHidden() async throws {
        let file = TemporaryDirectory.make() + "/sluice.yaml"
        try "server: {port: 9123}\nstorage: {postgres: {url: \"postgres://sluice:hunter2@db:5432/sluice\"}}\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        let (status, output) = try await SluiceProcess.run(["check-config", "--config", file], environment: ["SLUICE_AUTH_API_KEYS": "a:sk-secret-1"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("server.port: 9123"))
        #expect(output.contains("storage.postgres.url: postgres://sluice:<set>@db:5432/sluice"))
        #expect(!output.contains("hunter2") && !output.contains("sk-secret-1"))
    }
}

@Suite struct ZeroLimitTests {
    @Test func aModeAllowingNoRequestsRefusesStudentsInsteadOfTrapping() async throws {
        let check = try await checked("modes: {names: [exam], exam: {requestsPerMinute: 0}}")
        #expect(check.problems == [])
        try await TestNode.with(configure: { $0.admission.modes = check.configuration.admission.modes }) { node in
            let admin = ["X-Sluice-Role": "admin"]
            _ = try await node.client.send(.PUT, "/admin/api/mode", body: Data(#"{"mode": "exam"}"#.utf8), headers: admin)
            #expect(try await node.client.get("/admin/api/status", headers: admin).json["mode"] as? String == "exam")
            let refused = try await node.client.post("/v1/chat/completions", json: chatBody("may I ask?"))
            #expect(refused.status == 429 && refused.errorCode == "rate_limited", "\(refused.text)")
            // Teachers keep their plan's limits in a mode; and the node still serves.
            let teacher = try await node.client.post("/v1/chat/completions", json: chatBody("a question"), headers: ["X-Sluice-Role": "teacher"])
            #expect(teacher.status == 200)
        }
    }

    @Test func aPlanAllowingNoReconnectsRefusesAResumeInsteadOfTrapping() async throws {
        try await TestNode.with(configure: { $0.admission.plans["free"]?.reconnectsPerMinute = 0 }) { node in
            let id = try await node.client.submit(chatBody("short", mock: ["tokens": 3]))
            _ = try await node.client.waitForJob(id, states: ["succeeded"])
            let resumed = try await node.client.get("/v1/jobs/\(id)/stream", headers: ["Last-Event-ID": "1"])
            #expect(resumed.status == 429 && resumed.errorCode == "too_many_reconnects", "\(resumed.text)")
        }
    }
}
