import ArgumentParser
import Configuration
import Foundation
import Logging
import SluiceServer

/// `sluice export`: a tenant's history as JSON Lines on standard output.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a tenant's history (every kept job: question, answer, state, usage, cost) as JSON Lines, newest first.",
        discussion: "Reads the store the configuration names (PostgreSQL, else the embedded store). Local development's tenant is `local`.")

    @Option(help: "The tenant whose jobs to write.")
    var tenant: String

    @Option(help: "Only jobs made on or after this day (yyyy-mm-dd, UTC) or time (seconds since 1970).")
    var since: String?

    @Option(help: "A YAML configuration file (default: ./sluice.yaml when it exists).")
    var config: String?

    @Option(name: .customLong("data-dir"), help: "Folder of the embedded store (default ./.sluice).")
    var dataDir: String?

    func run() async throws {
        var flags: [AbsoluteConfigKey: ConfigValue] = [:]
        if let dataDir { flags["storage.dataDir"] = ConfigValue(.string(dataDir), isSecret: false) }
        let configuration = try await SluiceConfiguration.load(configFile: config, flags: flags)
        let since: Date?
        do {
            since = try self.since.map(HistoryExport.date)
        } catch {
            throw ValidationError("--since must be a day (yyyy-mm-dd) or seconds since 1970")
        }
        var logger = Logger(label: "sluice")
        logger.logLevel = .warning
        let count = try await HistoryExport.run(configuration: configuration, tenant: tenant, since: since, logger: logger) { print($0) }
        FileHandle.standardError.write(Data("exported \(count) jobs of \(tenant)\n".utf8))
    }
}
