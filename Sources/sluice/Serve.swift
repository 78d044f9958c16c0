import ArgumentParser
import Configuration
import Foundation
import Logging
import ServiceLifecycle
import SluiceServer

/// `sluice serve`: runs a node until SIGTERM or SIGINT.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway.")

    @Option(help: "A YAML configuration file (default: ./sluice.yaml when it exists).")
    var config: String?

    @Option(help: "Address to bind (default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to bind (default 8080).")
    var port: Int?

    @Option(name: .customLong("data-dir"), help: "Folder of the embedded store (default ./.sluice).")
    var dataDir: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    @Option(name: .customLong("log-format"), help: "text (default) or json: one JSON object a line, with the request, job and trace ids.")
    var logFormat: String?

    func run() async throws {
        var flags: [AbsoluteConfigKey: ConfigValue] = [:]
        if let host { flags["server.host"] = ConfigValue(.string(host), isSecret: false) }
        if let port { flags["server.port"] = ConfigValue(.int(port), isSecret: false) }
        if let dataDir { flags["storage.dataDir"] = ConfigValue(.string(dataDir), isSecret: false) }
        // Invalid configuration never starts a node: every problem is printed, one a line, and the exit status is 1.
        let check = await SluiceConfiguration.check(configFile: config, flags: flags)
        guard check.isValid else {
            let error = ConfigurationError(problems: check.problems)
            FileHandle.standardError.write(Data("sluice did not start: \(error)\n".utf8))
            throw ExitCode.failure
        }
        let configuration = check.configuration
        let format = logFormat ?? ProcessInfo.processInfo.environment["SLUICE_LOG_FORMAT"] ?? "text"
        guard format == "text" || format == "json" else {
            FileHandle.standardError.write(Data("sluice did not start: --log-format must be text or json, not \(format.prefix(32))\n".utf8))
            throw ExitCode.failure
        }
        // Every record carries the current trace and span ids, when a request is traced.
        LoggingSystem.bootstrap({ label, provider in
            format == "json"
                ? JSONLogHandler(label: label, metadataProvider: provider) as any LogHandler
                : StreamLogHandler.standardError(label: label, metadataProvider: provider)
        }, metadataProvider: Observability.logMetadata)
        var logger = Logger(label: "sluice")
        logger.logLevel = logLevel.flatMap(Logger.Level.init(rawValue:)) ?? .info
        let observability: (any Service)?
        do {
            observability = try Observability.bootstrap()
        } catch {
            FileHandle.standardError.write(Data("sluice did not start: tracing: \(error)\n".utf8))
            throw ExitCode.failure
        }
        let node = try await SluiceNode(configuration: configuration, logger: logger)
        try await node.run(observability: observability)
    }
}
