import ArgumentParser
import Foundation
import SluiceCache

/// `sluice bench-semantic`: semantic lookup latency and recall@1 at several index sizes.
struct BenchSemanticCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-semantic", abstract: "Measure semantic lookup latency (p50, p99) and recall@1 against exact search.")

    @Option(help: "Index sizes, comma-separated.")
    var entries = "10000,100000"

    @Option(help: "Lookups per size.")
    var queries = 1000

    func run() {
        print("| entries | build | lookup p50 | lookup p99 | recall@1 |")
        print("| ---: | ---: | ---: | ---: | ---: |")
        for size in entries.split(separator: ",").compactMap({ Int($0) }) {
            let result = SemanticBenchmark.run(entries: size, queries: queries)
            print(String(
                format: "| %d | %.1f s | %.3f ms | %.3f ms | %.3f |", result.entries, result.buildSeconds, result.p50, result.p99, result.recall))
        }
    }
}
