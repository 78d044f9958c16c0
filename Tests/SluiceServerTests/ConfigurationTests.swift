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
