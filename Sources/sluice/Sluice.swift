import ArgumentParser

/// The `sluice` command line.
@main
struct Sluice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "A gateway that queues, rate-limits, caches and streams LLM requests.",
        subcommands: [Serve.self, MockUpstreamCommand.self, WarmCommand.self, LoadTestCommand.self, EvalCacheCommand.self, BenchAdmissionCommand.self, BenchSemanticCommand.self, BenchQueueCommand.self, MigrateCommand.self, CheckConfigCommand.self, ExportCommand.self, BenchHistoryCommand.self],
        defaultSubcommand: Serve.self)
}
