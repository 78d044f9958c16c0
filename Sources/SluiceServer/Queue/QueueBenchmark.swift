import Foundation
import Logging
import ServiceLifecycle
import SluiceCache
import SluiceCore
import SluiceProviders
import SluiceStore

/// Measures the queue on a node's store, in-process (no HTTP): jobs enqueued durably, claimed by the
/// workers, answered by a mock that answers at once with one token, and committed as finished.
/// For `sluice bench-queue`.
public enum QueueBenchmark {
    /// What a run measured.
    public struct Result: Sendable {
        /// Jobs completed per second, enqueue to completion, with `submitters` submitting at once.
        public var jobsPerSecond: Double
        /// Enqueue-to-start latency, milliseconds, of the jobs of the fixed-rate phase.
        public var startLatencies: [Double]
    }

    /// Runs `jobs` jobs as fast as `submitters` concurrent submitters can (each waits for its job's
    /// end before submitting the next), then `rate` jobs a second for `seconds` seconds to measure the
    /// enqueue-to-start latency.
    /// - Parameters:
    ///   - configuration: the node's configuration (its store; the mock, cache and plans are set here).
    public static func run(configuration: SluiceConfiguration, jobs: Int, submitters: Int, rate: Double, seconds: Double) async throws -> Result {
        var configuration = configuration
        configuration.server.port = 0
        configuration.mock = .init(ttftMs: 0, tokensPerSecond: 0, tokens: 1)
        configuration.cache.enabled = false
        configuration.semantic.enabled = false
        configuration.queue.maxRunningPerUser = 1000
        for name in configuration.admission.plans.keys { configuration.admission.plans[name]?.requestsPerMinute = nil }
        var logger = Logger(label: "sluice.bench")
        logger.logLevel = .error
        let node = try await SluiceNode(configuration: configuration, logger: logger)
        let group = ServiceGroup(configuration: .init(services: try await node.services(), logger: logger))
        let running = Task { try await group.run() }
        defer { running.cancel() }
        let service = node.jobs
        let request = ChatRequest(model: "default", messages: [ChatMessage(role: "user", content: "One token, please.")])

        @Sendable func complete(_ owner: Principal) async throws -> Job {
            let job = try await service.submit(request, owner: owner)
            for await chunk in try await service.hub.subscribe(job.id, after: 0) where chunk.event.isTerminal { break }
            return job
        }

        let clock = ContinuousClock()
        let elapsed = try await clock.measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for submitter in 0..<submitters {
                    group.addTask {
                        let owner = Principal(tenant: "bench", user: "submitter-\(submitter)")
                        for _ in stride(from: submitter, to: jobs, by: submitters) { _ = try await complete(owner) }
                    }
                }
                try await group.waitForAll()
            }
        }
        let throughput = Double(jobs) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)

        let latencies = try await withThrowingTaskGroup(of: Double?.self) { group in
            var next = clock.now
            let end = next + .seconds(seconds)
            var count = 0
            while next < end {
                try await Task.sleep(until: next)
                let owner = Principal(tenant: "bench", user: "paced-\(count % 1000)")
                count += 1
                group.addTask {
                    let job = try await complete(owner)
                    guard let started = try await service.store.job(id: job.id)?.startedAt else { return nil }
                    return started.timeIntervalSince(job.createdAt) * 1000
                }
                next = next + .seconds(1 / rate)
            }
            var latencies: [Double] = []
            for try await latency in group { if let latency { latencies.append(latency) } }
            return latencies
        }
        await group.triggerGracefulShutdown()
        _ = await running.result
        return Result(jobsPerSecond: throughput, startLatencies: latencies)
    }
}
