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

typealias AnyStore = JobStore & StreamLog & CacheStore

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

/// What only the PostgreSQL backend has to show.
@Suite struct PostgresStoreTests {
    @Test func nodesStartingAtOnceApplyEachMigrationExactlyOnce() async throws {
        let url = try await TestPostgres.makeDatabase()
        let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
            for _ in 0..<4 { group.addTask { try await PostgresStore(configuration: .init(url: url, maxConnections: 2), logger: Logger(label: "test")) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(try await stores[0].appliedMigrations() == PostgresStore.migrations.map(\.version))
        #expect(try await stores[1].migrate().isEmpty, "a second run applies nothing")
        for store in stores { await store.shutdown() }
    }

    @Test func sluiceMigrateBringsADatabaseUpToDateAndAgainChangesNothing() async throws {
        let url = try await TestPostgres.makeDatabase()
        let latest = PostgresStore.migrations.map(\.version)
        for _ in 0..<2 {
            let (status, output) = try await SluiceProcess.run(["migrate"], environment: ["SLUICE_DATABASE_URL": url], timeout: 60)
            #expect(status == 0, "\(output)")
            #expect(output.contains("PostgreSQL schema at version \(latest.last ?? 0) (\(latest.count) migrations applied)"), "\(output)")
            #expect(try await TestPostgres.query(url, "SELECT version FROM sluice_migration ORDER BY version") == latest.map(String.init))
        }
    }

    static func store(leaseSeconds: Double = 30) async throws -> PostgresStore {
        try await PostgresStore(configuration: .init(url: try await TestPostgres.makeDatabase(), leaseSeconds: leaseSeconds), logger: Logger(label: "test"))
    }

    @Test func concurrentClaimersTakeEveryWaitingJobExactlyOnceMostUrgentFirst() async throws {
        let store = try await Self.store()
        for n in 0..<60 {
            var job = storeJob(String(format: "job_%02d", n))
            if n == 59 { job.priority = .bypass }
            try await store.insert(job)
        }
        let claimed = try await withThrowingTaskGroup(of: [Job].self) { group in
            for node in 0..<4 {
                group.addTask {
                    var mine: [Job] = []
                    while true {
                        let batch = try await store.claim(node: "node-\(node)", limit: 5, leaseSeconds: 30, now: Date())
                        if batch.isEmpty { return mine }
                        mine += batch
                    }
                }
            }
            return try await group.reduce(into: [[Job]]()) { $0.append($1) }
        }
        let ids = claimed.joined().map(\.id)
        #expect(ids.count == 60 && Set(ids).count == 60, "each job once")
        #expect(claimed.joined().allSatisfy { $0.node != nil && $0.fence == 1 })
        #expect(claimed.contains { $0.first?.id == "job_59" }, "the teacher's job went first")
        #expect(try await store.claim(node: "late", limit: 5, leaseSeconds: 30, now: Date()).isEmpty)
        await store.shutdown()
    }

    @Test func aLapsedLeaseIsRescuedAndTheOldHolderCanNoLongerWrite() async throws {
        let store = try await Self.store()
        try await store.insert(storeJob("job_r"))
        var old = try #require(try await store.claim(node: "node-a", limit: 1, leaseSeconds: 30, now: Date()).first)
        old.state = .running
        try await store.save(old, appending: [])
        try await store.append([StreamChunk(seq: 1, event: .delta("first "))], to: "job_r", fence: old.fence)
        #expect(try await store.rescueExpired().isEmpty, "the lease still holds")
        // The node's last renewal grants a moment only, then it falls silent.
        _ = try await store.renewLeases(node: "node-a", address: "http://127.0.0.1:9001", leaseSeconds: 0.001)
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await store.rescueExpired() == ["job_r"])
        let new = try #require(try await store.claim(node: "node-b", limit: 1, leaseSeconds: 30, now: Date()).first)
        #expect(new.node == "node-b" && new.fence == 3, "claim, rescue, claim: each raised the fence")
        #expect(new.state == .running, "what the old holder last wrote, for the new one to resume")
        // The old holder's writes are refused, stream and state alike.
        await #expect(throws: LeaseLost.self) { try await store.append([StreamChunk(seq: 2, event: .delta("stale"))], to: "job_r", fence: old.fence) }
        old.state = .succeeded
        old.finishedAt = Date()
        await #expect(throws: LeaseLost.self) { try await store.save(old, appending: [StreamChunk(seq: 2, event: .delta("stale"))]) }
        #expect(try await store.chunks(of: "job_r", after: 0).map(\.seq) == [1])
        #expect(try await store.job(id: "job_r")?.state == .running)
        await store.shutdown()
    }

    @Test func aRescueNeverOverwritesACompletion() async throws {
        let store = try await Self.store()
        try await store.insert(storeJob("job_c"))
        // A lease that lapses at once: only an explicit rescue acts on it.
        var job = try #require(try await store.claim(node: "node-a", limit: 1, leaseSeconds: 0.001, now: Date()).first)
        job.state = .succeeded
        job.finishedAt = Date()
        try await store.save(job, appending: [StreamChunk(seq: 1, event: .done(finishReason: "stop", usage: Usage(promptTokens: 1, completionTokens: 1), cache: "miss"))])
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await store.rescueExpired().isEmpty)
        #expect(try await store.job(id: "job_c")?.state == .succeeded)
        #expect(try await store.claim(node: "node-b", limit: 1, leaseSeconds: 30, now: Date()).isEmpty)
        await store.shutdown()
    }

    @Test func renewedLeasesAreNotRescuedAndTheNodeIsFoundByItsAddress() async throws {
        let store = try await Self.store()
        try await store.insert(storeJob("job_h"))
        _ = try await store.claim(node: "node-a", limit: 1, leaseSeconds: 1, now: Date())
        for _ in 0..<4 {
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await store.renewLeases(node: "node-a", address: "http://127.0.0.1:9001", leaseSeconds: 5) == 1)
            #expect(try await store.rescueExpired().isEmpty)
        }
        #expect(try await store.address(of: "node-a") == "http://127.0.0.1:9001")
        #expect(try await store.address(of: "node-z") == nil)
        await store.shutdown()
    }

    @Test func concurrentWritesGoTogetherAndEachKeepsItsOwnOutcome() async throws {
        let store = try await Self.store()
        // Inserts at once, one of them a duplicate: only that caller fails.
        try await store.insert(storeJob("job_dup"))
        let inserted = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
            for n in 0..<40 {
                group.addTask {
                    let id = n == 17 ? "job_dup" : "job_b\(n)"
                    var job = storeJob(id)
                    job.node = "node-a"
                    job.fence = 1
                    do { try await store.insert(job) } catch { return (id, false) }
                    return (id, true)
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(inserted.filter { !$0.value }.map(\.key) == ["job_dup"])
        // Saves at once, some with a fence that is no longer theirs: those are refused, chunks and all.
        let saved = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for n in 0..<40 where n != 17 {
                group.addTask {
                    var job = storeJob("job_b\(n)", state: .succeeded, finishedAt: Date())
                    job.node = "node-a"
                    job.fence = n % 5 == 0 ? 0 : 1
                    let chunks = (1...3).map { StreamChunk(seq: $0, event: .delta("n\(n) c\($0) ")) }
                    do { try await store.save(job, appending: chunks) } catch is LeaseLost { return (n, false) }
                    return (n, true)
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        for n in 0..<40 where n != 17 {
            let fresh = n % 5 != 0
            #expect(saved[n] == fresh, "job \(n)")
            #expect(try await store.job(id: "job_b\(n)")?.state == (fresh ? .succeeded : .queued))
            #expect(try await store.chunks(of: "job_b\(n)", after: 0).map(\.seq) == (fresh ? [1, 2, 3] : []))
        }
        await store.shutdown()
    }

    @Test func aJobsHolderIsFoundAndOnlyAnUnheldJobCanBeTakenByItsId() async throws {
        let url = try await TestPostgres.makeDatabase()
        let store = try await PostgresStore(configuration: .init(url: url), logger: Logger(label: "test"))
        try await store.insert(storeJob("job_held"))
        try await store.insert(storeJob("job_free"))
        _ = try await store.renewLeases(node: "node-a", address: "http://127.0.0.1:9001", leaseSeconds: 5)
        #expect(try await store.claim(jobID: "job_held", node: "node-a", leaseSeconds: 5)?.fence == 1)
        #expect(try await store.claim(jobID: "job_held", node: "node-b", leaseSeconds: 5) == nil, "held by another node")
        #expect(try await store.claim(jobID: "job_none", node: "node-b", leaseSeconds: 5) == nil)
        #expect(try await store.holder(of: "job_held") == .node(id: "node-a", address: "http://127.0.0.1:9001"))
        #expect(try await store.holder(of: "job_free") == .none, "nobody holds it")
        #expect(try await store.holder(of: "job_none") == .ended, "no such job")
        var ended = storeJob("job_ended")
        ended.state = .succeeded
        try await store.insert(ended)
        #expect(try await store.holder(of: "job_ended") == .ended)
        // The secret: made once, the same for every node.
        let secret = try await store.clusterSecret()
        let other = try await PostgresStore(configuration: .init(url: url), logger: Logger(label: "test"))
        #expect(try await other.clusterSecret() == secret)
        #expect(secret.count >= 32)
        await other.shutdown()
        await store.shutdown()
    }

    @Test func openStreamsAreCountedAcrossLiveNodesOnly() async throws {
        let url = try await TestPostgres.makeDatabase()
        let store = try await PostgresStore(configuration: .init(url: url), logger: Logger(label: "test"))
        for node in ["node-a", "node-b"] { _ = try await store.renewLeases(node: node, address: "", leaseSeconds: 5) }
        let opened = try await withThrowingTaskGroup(of: Bool.self) { group in
            for n in 0..<20 {
                group.addTask { try await store.openStream(node: n % 2 == 0 ? "node-a" : "node-b", user: "s/tabs", limit: 3, liveSeconds: 5) }
            }
            return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(opened == 3)
        func open(_ node: String) async throws -> Bool { try await store.openStream(node: node, user: "s/two", limit: 2, liveSeconds: 5) }
        #expect(try await open("node-a"))
        #expect(try await open("node-b"))
        #expect(try await !open("node-a"), "two are open, one on each node")
        try await store.closeStream(node: "node-b", user: "s/two")
        #expect(try await open("node-a"), "closed on one node, open on another")
        // A node not heard from within the live window no longer counts: node-a died holding two.
        _ = try await TestPostgres.query(url, "UPDATE sluice_node SET heartbeat_at = now() - interval '1 minute' WHERE id = 'node-a'")
        #expect(try await open("node-c"))
        #expect(try await open("node-c"))
        #expect(try await !open("node-c"))
        await store.shutdown()
    }

    @Test func aSharedWindowAdmitsExactlyTheLimitUnderConcurrency() async throws {
        let store = try await Self.store()
        let taken = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<40 { group.addTask { try await store.take(key: "school/eager", window: 29_000_000, amount: 1, limit: 7) } }
            return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(taken == 7)
        #expect(try await store.take(key: "school/eager", window: 29_000_001, amount: 1, limit: 7), "a new minute, a new window")
        #expect(try await store.take(key: "school/other", window: 29_000_000, amount: 1, limit: 7), "another user's window")
        // Tokens: each request takes what it reserved; the window holds at most the limit.
        let tokens = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 { group.addTask { try await store.take(key: "tokens:school/eager", window: 29_000_000, amount: 300, limit: 1000) } }
            return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(tokens == 3)
        #expect(try await store.take(key: "tokens:school/eager", window: 29_000_000, amount: 100, limit: 1000), "what still fits is taken")
        #expect(try await !store.take(key: "tokens:school/new", window: 29_000_000, amount: 1001, limit: 1000), "more than the limit never fits")
        await store.shutdown()
    }

    @Test func aSharedDayAddsUpToItsQuotaAndNoFurther() async throws {
        let store = try await Self.store()
        let added = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<30 {
                group.addTask {
                    try await store.addDaily(
                        DailyCounterDelta(user: "school/owl", day: "2026-12-14", messages: 1, tokens: 100), messageLimit: 10, tokenLimit: 5000)
                }
            }
            return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(added == 10)
        #expect(try await store.dailyCounters(day: "2026-12-14").first { $0.user == "school/owl" }?.messages == 10)
        let big = DailyCounterDelta(user: "school/lark", day: "2026-12-14", messages: 1, tokens: 4000)
        #expect(try await store.addDaily(big, messageLimit: nil, tokenLimit: 5000))
        #expect(try await !store.addDaily(big, messageLimit: nil, tokenLimit: 5000), "the tokens would pass the limit")
        #expect(try await store.addDaily(big, messageLimit: nil, tokenLimit: nil), "no limit, always added")
        await store.shutdown()
    }

    @Test func aBadDatabaseURLIsRefusedWithoutRepeatingThePassword() async throws {
        let error = await #expect(throws: PostgresStore.BadURL.self) {
            _ = try await PostgresStore(configuration: .init(url: "mysql://root:hunter2@db/sluice"), logger: Logger(label: "test"))
        }
        #expect(error.map { !"\($0)".contains("hunter2") } == true)
    }
}
