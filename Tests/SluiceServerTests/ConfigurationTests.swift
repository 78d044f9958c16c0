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
