import ArgumentParser
import Configuration
import Logging
import SluiceServer
import SluiceStore

/// `sluice migrate`: brings the store's schema up to date (nodes also do this at start).
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the store's schema migrations (PostgreSQL from SLUICE_DATABASE_URL / storage.postgres.url, else the embedded store).",
        discussion: "Safe to run while nodes start or run: migrations are versioned, and applied once under a lock.")

    @Option(help: "A YAML configuration file (default: ./sluice.yaml when it exists).")
    var config: String?

    @Option(name: .customLong("data-dir"), help: "Folder of the embedded store (default ./.sluice).")
    var dataDir: String?

    func run() async throws {
        var flags: [AbsoluteConfigKey: ConfigValue] = [:]
        if let dataDir { flags["storage.dataDir"] = ConfigValue(.string(dataDir), isSecret: false) }
        let configuration = try await SluiceConfiguration.load(configFile: config, flags: flags)
        var logger = Logger(label: "sluice")
        logger.logLevel = .warning
        if let url = configuration.databaseURL {
            let store = try await PostgresStore(configuration: .init(url: url, maxConnections: 2), logger: logger)
            let versions = try await store.appliedMigrations()
            await store.shutdown()
            print("PostgreSQL schema at version \(versions.last ?? 0) (\(versions.count) migrations applied)")
        } else {
            _ = try EmbeddedStore(configuration: configuration.storage)
            print("embedded store in \(configuration.storage.directory) is up to date")
        }
    }
}
