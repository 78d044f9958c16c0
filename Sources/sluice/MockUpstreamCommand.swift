import ArgumentParser
import Logging
import ServiceLifecycle
import SluiceProviders
import SluiceServer
import UnixSignals

/// `sluice mock-upstream`: the mock provider as an OpenAI-compatible server.
struct MockUpstreamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock-upstream", abstract: "Serve the mock provider as an OpenAI-compatible upstream.")

    @Option(help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(help: "Port to bind.")
    var port = 9090

    @Option(name: .customLong("ttft-ms"), help: "Time to first token in milliseconds.")
    var ttftMs = 0

    @Option(name: .customLong("tokens-per-second"), help: "Token rate; 0 is as fast as possible.")
    var tokensPerSecond = 0.0

    @Option(help: "Tokens per answer.")
    var tokens = 32

    @Option(help: "Fail every request: status:CODE before the first token, or after:N tokens.")
    var fail: String?

    func run() async throws {
        let logger = Logger(label: "sluice.mock-upstream")
        let upstream = MockUpstream(
            host: host, port: port,
            configuration: .init(ttftMs: ttftMs, tokensPerSecond: tokensPerSecond, tokens: tokens, fail: fail), logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: upstream.service())], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
