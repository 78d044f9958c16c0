import Foundation
import Logging
import SluiceCore
@testable import SluiceStore
import SluiceTesting
import Testing

/// A PostgreSQL statement left unanswered (PostgresNIO, when the connection closes as the statement goes
/// out) must not hold its caller for ever: past the deadline a write's caller is told the commit is
/// unknown, a read's that the store did not answer.
@Suite struct StatementDeadlineTests {
    struct Refused: Error, Equatable {}

    @Test func anUnansweredStatementEndsAsCommitUnknownAndItsLateAnswerIsDropped() async throws {
        let (answer, answering) = AsyncStream<Int>.makeStream()
        let started = Date()
        do {
            _ = try await StatementDeadline(seconds: 0.2, mayCommit: true).run {
                // An answer that comes long after the deadline, cancellation or not.
                for await value in answer { return value }
                return -1
            }
            Issue.record("an unanswered statement returned")
        } catch {
            #expect(StoreFailure.mayHaveCommitted(error), "\(error)")
            #expect(StoreFailure.isStoreError(error))
            #expect(String(describing: error).contains("no answer within 0.2 s"), "\(error)")
        }
        let waited = Date().timeIntervalSince(started)
        #expect(waited >= 0.2 && waited < 10, "\(waited) s")
        // The late answer reaches no one (a second resume would trap).
        answering.yield(7)
        answering.finish()
        try await Task.sleep(for: .milliseconds(50))
    }

    @Test func anUnansweredReadEndsAsAStoreErrorThatCommittedNothing() async throws {
        let (answer, answering) = AsyncStream<Int>.makeStream()
        do {
            _ = try await StatementDeadline(seconds: 0.2, mayCommit: false).run {
                for await value in answer { return value }
                return -1
            }
            Issue.record("an unanswered read returned")
        } catch {
            #expect(error is StatementUnanswered, "\(error)")
            #expect(!StoreFailure.mayHaveCommitted(error), "\(error)")
            #expect(StoreFailure.isStoreError(error))
        }
        answering.finish()
    }

    /// The loops a node's work depends on — claims, rescues, counts, the watchdog's reads — each end
    /// within the deadline when the database does not answer (here a lock held on the jobs' table: the
    /// statements wait for it, as an unanswered one waits for ever), and work again once it does.
    @Test func theClusterLoopsStatementsEndWithinTheDeadlineWhenTheDatabaseDoesNotAnswer() async throws {
        let url = try await TestPostgres.makeDatabase()
        let store = try await PostgresStore(configuration: .init(url: url, maxConnections: 12), logger: Logger(label: "test"))
        defer { Task { await store.shutdown() } }
        try await store.insert(storeJob("job_before"))
        let locker = Task { try await TestPostgres.query(url, "BEGIN; LOCK TABLE sluice_job IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT;") }
        defer { locker.cancel() }
        var held = false
        for _ in 0..<200 where !held {
            held = try await TestPostgres.query(url, "SELECT count(*) FROM pg_locks WHERE relation = 'sluice_job'::regclass AND mode = 'AccessExclusiveLock' AND granted") == ["1"]
            if !held { try await Task.sleep(for: .milliseconds(50)) }
        }
        try #require(held, "the test's lock was not taken")

        let deadline = StatementDeadline.writes.seconds
        let started = Date()
        let waits: [(String, Bool?)] = await withTaskGroup(of: (String, Bool?).self) { group in
            // For each statement: nil if it returned (it should not have), else whether its error says it may have committed.
            func bounded(_ name: String, _ statement: @escaping @Sendable () async throws -> Void) {
                group.addTask {
                    do {
                        try await statement()
                        return (name, nil)
                    } catch {
                        #expect(StoreFailure.isStoreError(error), "\(name): \(error)")
                        #expect(String(describing: error).contains("no answer within"), "\(name): \(error)")
                        return (name, StoreFailure.mayHaveCommitted(error))
                    }
                }
            }
            bounded("claim") { _ = try await store.claim(node: "node-a", limit: 4, leaseSeconds: 30, now: Date()) }
            bounded("rescue") { _ = try await store.rescueExpired(by: "node-a", leaseSeconds: 30) }
            bounded("count") { _ = try await store.unfinishedCount() }
            bounded("watched") { _ = try await store.watchedJobs(node: "node-a") }
            bounded("job") { _ = try await store.job(id: "job_before") }
            bounded("holders") { _ = try await store.holders(of: ["job_before"]) }
            bounded("take") { _ = try await store.claim(jobID: "job_before", node: "node-a", leaseSeconds: 30) }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let waited = Date().timeIntervalSince(started)
        let answers = Dictionary(uniqueKeysWithValues: waits)
        #expect(answers == ["claim": true, "rescue": true, "count": false, "watched": false, "job": false, "holders": false, "take": true], "\(answers)")
        // Within the deadline and a margin for a loaded machine; the lock is held for 60 s.
        #expect(waited >= deadline && waited < deadline + 20, "\(waited) s")

        // The database answers again: the same store claims. (The abandoned claim may still run on the
        // server once the lock goes, and take the job unseen: the watchdog's case. Either way it is this node's.)
        _ = try await TestPostgres.query(url, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE relation = 'sluice_job'::regclass AND mode = 'AccessExclusiveLock' AND granted")
        _ = try? await locker.value
        let claimed = try await store.claim(node: "node-a", limit: 4, leaseSeconds: 30, now: Date())
        #expect(claimed.map(\.id).allSatisfy { $0 == "job_before" })
        #expect(try await TestPostgres.query(url, "SELECT node FROM sluice_job WHERE id = 'job_before'") == ["node-a"])
    }

    @Test func anAnswerOrAnErrorInTimeIsTheCallersAsItIs() async throws {
        let deadline = StatementDeadline(seconds: 5, mayCommit: true)
        #expect(try await deadline.run { 42 } == 42)
        await #expect(throws: Refused()) { try await deadline.run { throw Refused() } }
        // A statement that ends the moment it starts is answered once.
        for value in 0..<200 { #expect(try await deadline.run { value } == value) }
    }

    @Test func aCancelledCallerStopsWaitingAtOnceEvenForAStatementThatIgnoresIt() async throws {
        let (never, ending) = AsyncStream<Int>.makeStream()
        let caller = Task {
            try await StatementDeadline(seconds: 30, mayCommit: true).run {
                // Ignores cancellation, as an unanswered statement may: it ends only when the test ends it.
                await Task { for await value in never { return value }; return -1 }.value
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        let cancelled = Date()
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
        #expect(Date().timeIntervalSince(cancelled) < 5)
        ending.finish()
    }

    @Test func cancellingTheCallerCancelsTheStatement() async throws {
        let (cancelled, cancel) = AsyncStream<Bool>.makeStream()
        let caller = Task {
            try await StatementDeadline(seconds: 30, mayCommit: true).run {
                do {
                    try await Task.sleep(for: .seconds(60))
                } catch {
                    cancel.yield(true)
                    throw error
                }
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        caller.cancel()
        var iterator = cancelled.makeAsyncIterator()
        #expect(await iterator.next() == true, "the statement saw its caller's cancellation")
        await #expect(throws: CancellationError.self) { try await caller.value }
    }
}
