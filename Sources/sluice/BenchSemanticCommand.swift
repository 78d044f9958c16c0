import ArgumentParser
import Foundation
import SluiceCache

/// `sluice bench-semantic`: semantic lookup latency and recall@1 at several index sizes.
struct BenchSemanticCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-semantic", abstract: "Measure semantic lookup latency (p50, p99), recall@1 against exact search, embedding cost and memory.")

    @Option(help: "Index sizes, comma-separated.")
    var entries = "10000,100000"

    @Option(help: "Lookups per size.")
    var queries = 1000

    func run() async throws {
        print("| entries | build | lookup p50 | lookup p99 | recall@1 |")
        print("| ---: | ---: | ---: | ---: | ---: |")
        for size in entries.split(separator: ",").compactMap({ Int($0) }) {
            let result = SemanticBenchmark.run(entries: size, queries: queries)
            print(String(
                format: "| %d | %.1f s | %.3f ms | %.3f ms | %.3f |", result.entries, result.buildSeconds, result.p50, result.p99, result.recall))
        }
        print("\nThe whole semantic lookup (vector search, then the term check), one partition:\n")
        print("| entries | embed one question (p50) | memory per entry | lookup p50 | lookup p99 | paraphrases found |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: |")
        for size in entries.split(separator: ",").compactMap({ Int($0) }) {
            let result = try await SemanticCacheBenchmark.run(entries: size, queries: queries)
            print(String(
                format: "| %d | %.1f µs | %.0f B | %.3f ms | %.3f ms | %.3f |", result.entries, result.embedMicroseconds, result.bytesPerEntry,
                result.p50, result.p99, result.hitRate))
        }
    }
}
