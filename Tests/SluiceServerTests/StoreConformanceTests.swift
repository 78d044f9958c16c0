import Foundation
import Logging
import SluiceCore
import SluiceStore
import SluiceTesting
import Testing

/// The store backends a node can run on.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case embedded, postgres
    var testDescription: String { rawValue }
}

typealias AnyStore = JobStore & StreamLog & CacheStore & JobHistory

/// Runs `body` with a fresh store of a kind: a new SQLite folder, or a new database on the test PostgreSQL.
func withStore(_ kind: StoreKind, _ body: (any AnyStore) async throws -> Void) async throws {
    switch kind {
    case .embedded:
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-store-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await body(EmbeddedStore(configuration: .init(directory: directory, synchronous: "normal")))
    case .postgres:
        var pgLogger = Logger(label: "test")
        pgLogger.logLevel = ProcessInfo.processInfo.environment["SLUICE_TEST_PG_LOG"] == nil ? .info : .trace
        let store = try await PostgresStore(configuration: .init(url: try await TestPostgres.makeDatabase()), logger: pgLogger)
        do {
            try await body(store)
        } catch {
            await store.shutdown()
            throw error
        }
        await store.shutdown()
    }
}

func storeJob(_ id: String, user: String = "alice", state: JobState = .queued, finishedAt: Date? = nil) -> Job {
    var job = Job(
        id: id, owner: Principal(tenant: "school", user: user), priority: .interactive,
        request: ChatRequest(model: "default", messages: [ChatMessage(role: "user", content: "Why is the sky blue? \(id)")]),
        createdAt: Date(timeIntervalSince1970: 1_800_000_000), deadline: Date(timeIntervalSince1970: 1_800_000_120))
    job.state = state
    job.finishedAt = finishedAt
    return job
}

/// One suite, run against every backend: what the node relies on from its store.
@Suite struct StoreConformanceTests {
    @Test(arguments: StoreKind.allCases) func jobsRoundTripAndOnlyUnfinishedOnesComeBackAfterARestart(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.insert(storeJob("job_a"))
            try await store.insert(storeJob("job_b"))
            try await store.insert(storeJob("job_c"))
            var b = try #require(try await store.job(id: "job_b"))
            #expect(b.request.messages.first?.content == "Why is the sky blue? job_b")
            b.state = .running
            b.attempt = 1
            try await store.save(b, appending: [])
            var c = storeJob("job_c", state: .succeeded, finishedAt: Date())
            c.result = JobResult(text: "Rayleigh scattering.", finishReason: "stop", usage: Usage(promptTokens: 5, completionTokens: 3))
            try await store.save(c, appending: [])
            #expect(try await store.job(id: "job_b")?.attempt == 1)
            #expect(try await store.job(id: "job_c")?.result?.text == "Rayleigh scattering.")
            #expect(try await store.job(id: "job_missing") == nil)
            #expect(Set(try await store.unfinishedJobs().map(\.id)) == ["job_a", "job_b"])
        }
    }

    /// What the watchdog reads every few seconds: the running jobs this node or nobody holds, and on a
    /// shared store the queued ones this node holds — never the queue's backlog, another node's work or
    /// an ended job, and without reading the jobs themselves.
    @Test(arguments: StoreKind.allCases) func theWatchdogSeesOnlyTheJobsThisNodeMustKeepGoing(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            func job(_ id: String, _ state: JobState, node: String?) -> Job {
                var job = storeJob(id, state: state, finishedAt: state.isTerminal ? Date() : nil)
                job.node = node
                return job
            }
            let jobs = [
                job("job_queued", .queued, node: nil), job("job_queued_here", .queued, node: "here"), job("job_queued_there", .queued, node: "there"),
                job("job_running_here", .running, node: "here"), job("job_running_there", .running, node: "there"),
                job("job_running_nowhere", .running, node: nil), job("job_done", .succeeded, node: "here"),
            ]
            for job in jobs { try await store.insert(job) }
            let seen = Dictionary(uniqueKeysWithValues: try await store.watchedJobs(node: "here").map { ($0.id, $0.state) })
            switch kind {
            case .embedded:
                // One node: every running job is its own, and its queued ones are its scheduler's.
                #expect(seen == ["job_running_here": .running, "job_running_there": .running, "job_running_nowhere": .running])
            case .postgres:
                #expect(seen == ["job_running_here": .running, "job_running_nowhere": .running, "job_queued_here": .queued])
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func streamChunksComeBackInOrderAfterAnySequenceNumber(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.insert(storeJob("job_s"))
            try await store.append((1...3).map { StreamChunk(seq: $0, event: .delta("w\($0) ")) }, to: "job_s")
            var job = storeJob("job_s", state: .succeeded, finishedAt: Date())
            let done = StreamEvent.done(finishReason: "stop", usage: Usage(promptTokens: 1, completionTokens: 4), cache: "miss", queueMs: 7)
            try await store.save(job, appending: [StreamChunk(seq: 4, event: .delta("w4")), StreamChunk(seq: 5, event: done)])
            #expect(try await store.chunks(of: "job_s", after: 0).map(\.seq) == [1, 2, 3, 4, 5])
            let tail = try await store.chunks(of: "job_s", after: 3)
            #expect(tail.map(\.event) == [.delta("w4"), done])
            #expect(try await store.chunks(of: "job_s", after: 5).isEmpty)
            #expect(try await store.chunks(of: "job_other", after: 0).isEmpty)
            // A batch written again after a crash replaces what it wrote before.
            try await store.append([StreamChunk(seq: 4, event: .delta("w4 again"))], to: "job_s")
            #expect(try await store.chunks(of: "job_s", after: 3).first?.event == .delta("w4 again"))
            job.state = .succeeded
        }
    }

    @Test(arguments: StoreKind.allCases) func concurrentCounterChangesAddUpExactly(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 0..<100 {
                    group.addTask {
                        let delta = DailyCounterDelta(user: "school/u\(n % 4)", day: "2026-12-14", messages: 1, tokens: 10)
                        if n % 2 == 0 {
                            try await store.addCounters([delta])
                        } else {
                            try await store.insert(storeJob("job_\(n)"), counters: [delta])
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await store.addCounters([DailyCounterDelta(user: "school/u0", day: "2026-12-14", messages: -1, tokens: -5)])
            try await store.addCounters([DailyCounterDelta(user: "school/u0", day: "2026-12-15", messages: 1, tokens: 1)])
            let counters = try await store.dailyCounters(day: "2026-12-14").sorted { $0.user < $1.user }
            #expect(counters.map(\.user) == ["school/u0", "school/u1", "school/u2", "school/u3"])
            #expect(counters.map(\.messages) == [24, 25, 25, 25])
            #expect(counters.map(\.tokens) == [245, 250, 250, 250])
        }
    }

    @Test(arguments: StoreKind.allCases) func followersAreRecordedOnceAndOnlyForTheirJob(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.insert(storeJob("job_f"))
            try await store.addFollower(jobID: "job_f", tenant: "school", user: "bob")
            try await store.addFollower(jobID: "job_f", tenant: "school", user: "bob")
            #expect(try await store.isFollower(jobID: "job_f", tenant: "school", user: "bob"))
            #expect(try await !store.isFollower(jobID: "job_f", tenant: "other-school", user: "bob"))
            #expect(try await !store.isFollower(jobID: "job_g", tenant: "school", user: "bob"))
        }
    }

    @Test(arguments: StoreKind.allCases) func retentionDeletesEndedJobsWithTheirStreamsAndKeepsTheRest(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let now = Date()
            try await store.insert(storeJob("job_old", state: .succeeded, finishedAt: now.addingTimeInterval(-7200)))
            try await store.append([StreamChunk(seq: 1, event: .delta("old"))], to: "job_old")
            try await store.addFollower(jobID: "job_old", tenant: "school", user: "bob")
            try await store.insert(storeJob("job_recent", state: .succeeded, finishedAt: now.addingTimeInterval(-60)))
            try await store.insert(storeJob("job_waiting"))
            #expect(try await store.deleteFinished(before: now.addingTimeInterval(-3600)) == 1)
            #expect(try await store.job(id: "job_old") == nil)
            #expect(try await store.chunks(of: "job_old", after: 0).isEmpty)
            #expect(try await !store.isFollower(jobID: "job_old", tenant: "school", user: "bob"))
            #expect(try await store.job(id: "job_recent") != nil)
            #expect(try await store.job(id: "job_waiting") != nil)
        }
    }

    @Test(arguments: StoreKind.allCases) func historyPagesNewestFirstByOwnerAndTenant(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            for index in 0..<7 {
                var job = storeJob("job_a\(index)", user: index.isMultiple(of: 3) ? "bob" : "alice", state: .succeeded, finishedAt: Date())
                job.createdAt = Date(timeIntervalSince1970: 1_800_000_000 + Double(index / 2))  // pairs made in the same second
                try await store.insert(job)
            }
            var other = storeJob("job_other", user: "alice")
            other.owner.tenant = "other-school"
            try await store.insert(other)
            let alice = Principal(tenant: "school", user: "alice").userKey
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await store.history(.user(alice), before: cursor, since: nil, limit: 2)
                seen += page.map(\.id)
                cursor = page.count == 2 ? page.last?.id : nil
            } while cursor != nil
            #expect(seen == ["job_a5", "job_a4", "job_a2", "job_a1"], "newest first, ties by id, alice's only")
            let tenant = try await store.history(.tenant("school"), before: nil, since: Date(timeIntervalSince1970: 1_800_000_002), limit: 10)
            #expect(tenant.map(\.id) == ["job_a6", "job_a5", "job_a4"])
            #expect(try await store.erase(user: alice) == 4)
            #expect(try await store.history(.user(alice), before: nil, since: nil, limit: 10).isEmpty)
            #expect(try await store.job(id: "job_a0") != nil, "bob's stay")
            #expect(try await store.job(id: "job_other") != nil, "another tenant's alice is another user")
        }
    }

    @Test(arguments: StoreKind.allCases) func streamsGoBeforeTheJobsAndEachPlanKeepsItsHistory(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let now = Date()
            var paid = storeJob("job_paid", state: .succeeded, finishedAt: now.addingTimeInterval(-10 * 86400))
            paid.owner.plan = "paid"
            try await store.insert(paid)
            try await store.append([StreamChunk(seq: 1, event: .delta("paid"))], to: "job_paid")
            try await store.insert(storeJob("job_free", state: .succeeded, finishedAt: now.addingTimeInterval(-10 * 86400)))
            try await store.append([StreamChunk(seq: 1, event: .delta("free"))], to: "job_free")
            try await store.insert(storeJob("job_new", state: .succeeded, finishedAt: now.addingTimeInterval(-60)))
            try await store.append([StreamChunk(seq: 1, event: .delta("new"))], to: "job_new")
            #expect(try await store.deleteStreams(endedBefore: now.addingTimeInterval(-3600), since: now.addingTimeInterval(-86400)) == 0, "ended before the window")
            #expect(try await store.deleteStreams(endedBefore: now.addingTimeInterval(-3600), since: nil) == 2)
            #expect(try await store.chunks(of: "job_paid", after: 0).isEmpty)
            #expect(try await store.chunks(of: "job_new", after: 0).count == 1)
            #expect(try await store.job(id: "job_paid") != nil)
            #expect(try await store.job(id: "job_free") != nil)
            let removed = try await store.deleteHistory(before: ["paid": now.addingTimeInterval(-30 * 86400)], otherwise: now.addingTimeInterval(-7 * 86400))
            #expect(removed == 1)
            #expect(try await store.job(id: "job_free") == nil)
            #expect(try await store.job(id: "job_paid") != nil, "the paid plan keeps 30 days")
            #expect(try await store.job(id: "job_new") != nil)
        }
    }

    @Test(arguments: StoreKind.allCases) func aJobsUsageIsRolledUpOnceInTheCommitThatEndsIt(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            guard let rollup = store as? any UsageRollup else { throw TestFailure("no usage rollup") }
            var job = storeJob("job_used")
            try await store.insert(job)
            job.state = .running
            job.deployment = "openai"
            try await store.save(job, appending: [StreamChunk(seq: 1, event: .delta("hi"))])
            job.state = .succeeded
            job.finishedAt = Date(timeIntervalSince1970: 1_800_000_100)
            job.result = JobResult(text: "hi", finishReason: "stop", usage: Usage(promptTokens: 10, completionTokens: 5), cost: 0.25)
            try await store.save(job, appending: [StreamChunk(seq: 2, event: .done(finishReason: "stop", usage: Usage(promptTokens: 10, completionTokens: 5), cache: "miss"))])
            // A write retried after it committed counts nothing more.
            try await store.save(job, appending: [])
            var hit = storeJob("job_hit", state: .succeeded, finishedAt: Date(timeIntervalSince1970: 1_800_000_200))
            hit.result = JobResult(text: "hi", finishReason: "stop", usage: Usage(promptTokens: 10, completionTokens: 5), cost: 0)
            hit.cache = CachePlan(key: "k", namespace: "", tags: [], store: false, servedFrom: "exact")
            try await store.insert(hit)
            try await store.save(hit, appending: [StreamChunk(seq: 1, event: .delta("hi"))])
            // A cache hit's job is stored ended: it is counted apart, once, by the front door that served it.
            try await rollup.addUsage([.hit(tenant: "school", user: "alice", model: "default", usage: hit.result!.usage, at: hit.finishedAt!)])
            let rows = try await rollup.usage(tenant: "school", user: "alice", from: "2027-01-01", to: "2027-12-31")
            #expect(rows.map(\.deployment) == ["cache", "openai"])
            let paid = try #require(rows.first { $0.deployment == "openai" })
            #expect(paid.requests == 1 && paid.promptTokens == 10 && paid.completionTokens == 5 && paid.costMicros == 250_000)
            let cached = try #require(rows.first { $0.deployment == "cache" })
            #expect(cached.requests == 1 && cached.cacheHits == 1 && cached.savedTokens == 15 && cached.promptTokens == 0)
            #expect(try await rollup.usage(tenant: "school", user: "bob", from: "2027-01-01", to: "2027-12-31").isEmpty)
            // It outlives the jobs.
            _ = try await store.deleteFinished(before: Date())
            #expect(try await rollup.usage(tenant: "school", user: nil, from: "2027-01-01", to: "2027-12-31").count == 2)
        }
    }

    /// Hits charged at once are summed into one write (`UsageWriter`): every hit's row and message counts,
    /// whichever write it shared, and a charge given back cancels one taken.
    @Test(arguments: StoreKind.allCases) func hitsChargedTogetherAreEachCounted(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            guard let rollup = store as? any UsageRollup else { throw TestFailure("no usage rollup") }
            let at = Date(timeIntervalSince1970: 1_800_000_000)
            let day = UsageRow.day(of: at)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 0..<300 {
                    group.addTask {
                        let user = "u\(n % 3)", model = n % 2 == 0 ? "default" : "fast"
                        let row = UsageRow.hit(tenant: "school", user: user, model: model, usage: Usage(promptTokens: n, completionTokens: 1), at: at)
                        let charge = DailyCounterDelta(user: "school/\(user)", day: day, messages: 1, tokens: 0)
                        try await rollup.addUsage([row], counters: n % 10 == 9 ? [charge, DailyCounterDelta(user: charge.user, day: day, messages: -1, tokens: 0)] : [charge])
                    }
                }
                try await group.waitForAll()
            }
            let rows = try await rollup.usage(tenant: "school", user: nil, from: day, to: day)
            #expect(rows.count == 6)
            for user in 0..<3 {
                for (model, parity) in [("default", 0), ("fast", 1)] {
                    let hits: [Int] = (0..<300).filter { $0 % 3 == user && $0 % 2 == parity }
                    let saved: Int = hits.reduce(0) { $0 + $1 + 1 }
                    let row = try #require(rows.first { $0.user == "u\(user)" && $0.model == model })
                    #expect(row.cacheHits == hits.count && row.requests == hits.count && row.savedTokens == saved)
                }
            }
            let counters = try await store.dailyCounters(day: day).sorted { $0.user < $1.user }
            let charged: [Int] = (0..<3).map { user in (0..<300).count { $0 % 3 == user && $0 % 10 != 9 } }
            #expect(counters.map(\.messages) == charged)
        }
    }

    @Test(arguments: StoreKind.allCases) func cacheEntriesAreReplacedDeletedAndExpired(_ kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let now = Date()
            func entry(_ key: String, _ text: String, expires: Double) -> CacheEntry {
                CacheEntry(
                    key: key, tenant: "school", model: "default", namespace: "", tags: ["physics"], text: text, finishReason: "stop",
                    usage: Usage(promptTokens: 3, completionTokens: 2), createdAt: now, expiresAt: now.addingTimeInterval(expires))
            }
            try await store.putCache([entry("k1", "one", expires: 600), entry("k2", "two", expires: 600), entry("k3", "gone", expires: -1)])
            try await store.putCache([entry("k1", "one, again", expires: 600)])
            var entries = try await store.cacheEntries(now: now)
            #expect(entries.map(\.key) == ["k2", "k1"], "expired left out, a replaced entry counts as newest")
            #expect(entries.last?.text == "one, again")
            try await store.deleteCache(keys: ["k2", "k-missing"])
            entries = try await store.cacheEntries(now: now)
            #expect(entries.map(\.key) == ["k1"])
        }
    }
}
