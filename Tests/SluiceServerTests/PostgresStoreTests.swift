import Foundation
import Logging
import SluiceCore
import SluiceStore
import SluiceTesting
import Synchronization
import Testing

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
        // Time itself: the 1 ms lease must lapse.
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
        // Time itself: the 1 ms lease must lapse, so that only the completion keeps the rescue away.
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
        // Time itself: renewals every 0.4 s carry the job well past its first 1 s lease.
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
        // Many at once, in one round trip: each as it stands.
        let all = try await store.holders(of: ["job_held", "job_free", "job_none", "job_ended"])
        #expect(all == [
            "job_held": .node(id: "node-a", address: "http://127.0.0.1:9001"), "job_free": JobHolder.none, "job_none": .ended, "job_ended": .ended,
        ])
        #expect(try await store.holders(of: []).isEmpty)
        // The secret: made once, the same for every node.
        let secret = try await store.clusterSecret()
        let other = try await PostgresStore(configuration: .init(url: url), logger: Logger(label: "test"))
        #expect(try await other.clusterSecret() == secret)
        #expect(secret.count >= 32)
        await other.shutdown()
        await store.shutdown()
    }

    @Test func insertingAJobNoNodeHoldsTellsTheIdleNodesAndAHeldOneDoesNot() async throws {
        let store = try await Self.store()
        let listening = AsyncStream<Void>.makeStream()
        let wakes = WakeCount()
        let listener = Task {
            await store.listenForWork(onListening: { listening.continuation.yield() }, onLost: {}, wake: { wakes.count.add(1, ordering: .relaxed) })
        }
        defer { listener.cancel() }
        var listens = listening.stream.makeAsyncIterator()
        _ = await listens.next()
        // Listening starts with a wake-up of its own (work may have come while nobody listened).
        try await eventually("listening wakes once") { wakes.count.load(ordering: .relaxed) == 1 }
        // Held by a node (as a node with a worker free inserts it): nobody else is told.
        var held = storeJob("job_held")
        held.node = "node-a"
        held.fence = 1
        try await store.insert(held)
        try await Task.sleep(for: .milliseconds(500))
        #expect(wakes.count.load(ordering: .relaxed) == 1, "a held job wakes nobody")
        // In the shared queue: the insert's own commit tells the listeners, with no second statement.
        try await store.insert(storeJob("job_free"))
        try await eventually("the insert of an unheld job notifies") { wakes.count.load(ordering: .relaxed) == 2 }
        // Several in one statement (a batch of inserts): one notification.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<8 { group.addTask { try await store.insert(storeJob("job_many_\(n)")) } }
            try await group.waitForAll()
        }
        try await eventually("a batch of inserts notifies") { wakes.count.load(ordering: .relaxed) >= 3 }
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

    /// A write PostgreSQL's pool cannot serve (here, shut down; on a live node, a database unreachable
    /// past the pool's circuit breaker) fails with the pool's own error, and that is a store error: the
    /// client is told 503, to retry, not 500.
    @Test func aWriteThePoolCannotServeIsAStoreError() async throws {
        let store = try await Self.store()
        await store.shutdown()
        let error = await #expect(throws: (any Error).self) { try await store.insert(storeJob("job_after_shutdown"), counters: []) }
        #expect(error.map { String(reflecting: type(of: $0)).hasSuffix("ConnectionPoolError") } == true, "\(String(describing: error))")
        #expect(error.map(StoreFailure.isStoreError) == true, "\(String(describing: error))")
    }
}

/// The notifications a listener heard.
private final class WakeCount: Sendable {
    let count = Atomic<Int>(0)
}
