import ArgumentParser
import Foundation
import SluiceCore
import SluiceStore

/// `sluice bench-history`: what history and usage cost on the embedded store — one page of a user's
/// history (and of a tenant's, and a deep page) with a million jobs stored, and the usage rollup's
/// cost per request (a job's ending save, which rolls its usage up, against a save that does not).
struct BenchHistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-history",
        abstract: "Measure history pages at a given number of stored jobs, and the usage rollup's cost per ended job.")

    @Option(name: .customLong("data-dir"), help: "The embedded store's folder (a fresh one).")
    var dataDir: String

    @Option(help: "Jobs to store.")
    var jobs = 1_000_000

    @Option(help: "Users they belong to.")
    var users = 10_000

    @Option(help: "Pages to time, per kind.")
    var pages = 500

    @Option(help: "Jobs ended (and, as a baseline, saved without ending) to time the rollup.")
    var rollups = 5_000

    func run() async throws {
        let store = try EmbeddedStore(configuration: .init(directory: dataDir, synchronous: "full"))
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        func job(_ index: Int, state: JobState) -> Job {
            var job = Job(
                id: String(format: "job_%048x", index), owner: Principal(tenant: "school", user: "user-\(index % users)"), priority: .interactive,
                request: ChatRequest(model: "default", messages: [ChatMessage(role: "user", content: "question \(index)")]),
                createdAt: start.addingTimeInterval(Double(index) / 100), deadline: start.addingTimeInterval(3600))
            job.state = state
            if state.isTerminal {
                job.finishedAt = job.createdAt.addingTimeInterval(2)
                job.deployment = "mock"
                job.result = JobResult(text: "answer \(index)", finishReason: "stop", usage: Usage(promptTokens: 12, completionTokens: 40), cost: 0.0001)
            }
            return job
        }
        // Filled through the store's own group commit, many writers at once.
        let filling = ContinuousClock.now
        let writers = 64
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for index in stride(from: writer, to: jobs, by: writers) { try await store.insert(job(index, state: .succeeded)) }
                }
            }
            try await group.waitForAll()
        }
        print(String(format: "stored %d jobs of %d users in %.1f s", jobs, users, (ContinuousClock.now - filling).seconds))

        func time(_ body: () async throws -> Void) async rethrows -> Double {
            let began = ContinuousClock.now
            try await body()
            return (ContinuousClock.now - began).seconds * 1000
        }
        func report(_ name: String, _ samples: [Double]) {
            let sorted = samples.sorted()
            func at(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
            print(String(format: "%@: p50 %.3f ms, p99 %.3f ms (%d)", name, at(0.5), at(0.99), sorted.count))
        }
        var first: [Double] = [], deep: [Double] = [], tenant: [Double] = []
        for page in 0..<pages {
            let user = "school\u{1F}user-\((page * 7919) % users)"
            var listed: [Job] = []
            first.append(try await time { listed = try await store.history(.user(user), before: nil, since: nil, limit: 20) })
            let cursor = listed.last?.id
            deep.append(try await time { _ = try await store.history(.user(user), before: cursor, since: nil, limit: 20) })
            let middle = String(format: "job_%048x", (page * 104_729) % jobs)
            tenant.append(try await time { _ = try await store.history(.tenant("school"), before: middle, since: nil, limit: 20) })
        }
        report("a user's first page of 20", first)
        report("a user's next page of 20", deep)
        report("a tenant's page of 20 from the middle", tenant)

        // The rollup: an ending save (reads the row's state, adds the usage) against a running save.
        var running: [Double] = [], ending: [Double] = []
        for index in 0..<rollups {
            var fresh = job(jobs + index, state: .queued)
            try await store.insert(fresh)
            fresh.state = .running
            running.append(try await time { try await store.save(fresh, appending: []) })
            let ended = job(jobs + index, state: .succeeded)
            ending.append(try await time { try await store.save(ended, appending: []) })
        }
        report("a save that does not end a job", running)
        report("a save that ends a job (with its usage rollup)", ending)
        let rows = try await store.usage(tenant: "school", user: nil, from: "2000-01-01", to: "2100-01-01")
        print("usage rows: \(rows.count), requests \(rows.reduce(0) { $0 + $1.requests })")
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
