import ArgumentParser
import Foundation
import SluiceServer
import SluiceStore

/// `sluice bench-queue`: the queue's jobs per second and enqueue-to-start latency, in-process.
struct BenchQueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-queue",
        abstract: "Measure the queue on the store: jobs per second (enqueue to completion) and enqueue-to-start latency at a fixed rate.")

    @Option(name: .customLong("data-dir"), help: "The embedded store's folder (a fresh one is best).")
    var dataDir: String

    @Option(help: "Jobs in the throughput phase.")
    var jobs = 20_000

    @Option(help: "Concurrent submitters in the throughput phase.")
    var submitters = 256

    @Option(help: "Jobs per second in the latency phase.")
    var rate = 500.0

    @Option(help: "Seconds of the latency phase.")
    var seconds = 10.0

    @Option(name: .customLong("database-url"), help: "Measure the PostgreSQL queue in this (empty) database instead of the embedded store.")
    var databaseURL: String?

    @Option(help: "Workers.")
    var workers = 64

    @Option(help: "full or normal.")
    var synchronous = "full"

    func run() async throws {
        var configuration = SluiceConfiguration()
        configuration.storage = .init(directory: dataDir, synchronous: synchronous)
        configuration.queue.workers = workers
        configuration.databaseURL = databaseURL
        let result = try await QueueBenchmark.run(configuration: configuration, jobs: jobs, submitters: submitters, rate: rate, seconds: seconds)
        let sorted = result.startLatencies.sorted()
        func percentile(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        print(String(format: "throughput: %.0f jobs/s (%d jobs, %d submitters)", result.jobsPerSecond, jobs, submitters))
        print(String(format: "enqueue to start at %.0f jobs/s: p50 %.2f ms, p99 %.2f ms (%d jobs)", rate, percentile(0.5), percentile(0.99), sorted.count))
    }
}
