import ArgumentParser
import Foundation
import SluiceCache

/// `sluice bench-semantic`: the semantic cache as a request meets it (embedding cost, memory per entry,
/// whole lookups), then the vector index alone (latency and recall@1 against exact search).
struct BenchSemanticCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-semantic", abstract: "Measure semantic lookup latency (p50, p99), recall@1 against exact search, embedding cost and memory.")

    @Option(help: "Index sizes, comma-separated (memory is measured best with one size per process).")
    var entries = "10000,100000"

    @Option(help: "Lookups per size.")
    var queries = 1000

    func run() async throws {
        let sizes = entries.split(separator: ",").compactMap { Int($0) }
        // The cache first: its memory is measured from this process's resident size.
        print("The whole semantic lookup (vector search, then the term check), one partition:\n")
        print("| entries | embed one question (p50) | resident memory per entry | lookup p50 | lookup p99 | paraphrases found |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: |")
        for size in sizes {
            let result = try await SemanticCacheBenchmark.run(entries: size, queries: queries)
            print(String(
                format: "| %d | %.1f µs | %.0f B | %.3f ms | %.3f ms | %.3f |", result.entries, result.embedMicroseconds, result.bytesPerEntry,
                result.p50, result.p99, result.hitRate))
        }
        print("\nThe vector index alone:\n")
        print("| entries | build | lookup p50 | lookup p99 | recall@1 |")
        print("| ---: | ---: | ---: | ---: | ---: |")
        for size in sizes {
            let result = SemanticBenchmark.run(entries: size, queries: queries)
            print(String(
                format: "| %d | %.1f s | %.3f ms | %.3f ms | %.3f |", result.entries, result.buildSeconds, result.p50, result.p99, result.recall))
        }
    }
}
