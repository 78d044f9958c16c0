import Dispatch
import Foundation
import GRDB
@testable import SluiceStore
import SluiceTesting
import Synchronization
import Testing

/// The embedded group commit runs many writers' operations in one transaction: cancelling one writer's
/// task (a timeout, a client's cancel) must not fail the others'.
@Suite struct GroupCommitTests {
    /// Holds a synchronous operation (in a database transaction) until the test opens it.
    final class Gate: @unchecked Sendable {
        // @unchecked: a semaphore is safe to use from any thread.
        private let semaphore = DispatchSemaphore(value: 0)
        func wait() { semaphore.wait() }
        func open() { _ = semaphore.signal() }
    }

    @Test func cancellingOneWriterDoesNotFailTheWritesOfItsBatch() async throws {
        let queue = try DatabaseQueue(path: TemporaryDirectory.make() + "/group.sqlite")
        try await queue.write { try $0.execute(sql: "CREATE TABLE t (v INTEGER)") }
        let committer = GroupCommitter(writer: queue)
        // A first write's batch is being committed while the others queue behind it: its operation runs
        // and waits at the gate.
        let gate = Gate()
        let (started, signal) = AsyncStream.makeStream(of: Void.self)
        let first = Task {
            defer { signal.finish() }
            try await committer.write { db in
                signal.yield()
                gate.wait()
                try db.execute(sql: "INSERT INTO t VALUES (0)")
            }
        }
        for await _ in started { break }
        // Each of the next writes runs at once up to its wait (`Task.immediate`), so they queue in the order
        // made, all in the second batch; the first of them is cancelled while it waits.
        let cancelled = Task.immediate { try await committer.write { db in try db.execute(sql: "INSERT INTO t VALUES (1)") } }
        let others = (2..<6).map { value in
            Task.immediate { try await committer.write { db in try db.execute(sql: "INSERT INTO t VALUES (\(value))") } }
        }
        cancelled.cancel()
        gate.open()
        try await first.value
        for other in others { try await other.value }
        // A write handed to the committer is committed, its caller's cancellation notwithstanding.
        try await cancelled.value
        let values = try await queue.read { try Int.fetchAll($0, sql: "SELECT v FROM t ORDER BY v") }
        #expect(values == [0, 1, 2, 3, 4, 5])
    }

    /// Records the batches a `WriteBatcher` writes, holding the first until the test opens it.
    final class Recorder: Sendable {
        let batches = Mutex<[[String]]>([])
        let gate = Gate()
        let (firstBatch, firstBatchStarted) = AsyncStream.makeStream(of: Void.self)
    }

    @Test func theBatcherGroupsWaitingWritesKeepsOneKeysOrderAndFailsOnlyTheFailingWrite() async throws {
        let recorder = Recorder()
        let batcher = WriteBatcher<String, String> { items in
            let first = recorder.batches.withLock { batches in
                batches.append(items)
                return batches.count == 1
            }
            if first {
                recorder.firstBatchStarted.finish()
                recorder.gate.wait()
            }
            return items.map { $0 == "bad" ? .failure(BatchMismatch(items: 0, results: 0)) : .success($0.uppercased()) }
        }
        let first = Task { try await batcher.write("a0", key: "a") }
        // The first batch is being written (and held) before the others are made.
        for await _ in recorder.firstBatch {}
        // Queued behind the first batch, in this order: the second "a" cannot share a batch with the first
        // "a" of this group, so it waits for the next.
        let queued = ["a1", "b1", "a2", "bad", "c1"].map { item in
            Task.immediate { try await batcher.write(item, key: item == "bad" ? nil : String(item.prefix(1))) }
        }
        recorder.gate.open()
        #expect(try await first.value == "A0")
        var outcomes: [String] = []
        for task in queued {
            switch await task.result {
            case .success(let value): outcomes.append(value)
            case .failure: outcomes.append("failed")
            }
        }
        #expect(outcomes == ["A1", "B1", "A2", "failed", "C1"])
        let batches = recorder.batches.withLock { $0 }
        #expect(batches.first == ["a0"])
        // Every write was in exactly one batch, and no batch held two writes of one key.
        #expect(batches.flatMap { $0 }.sorted() == ["a0", "a1", "a2", "b1", "bad", "c1"])
        for batch in batches {
            let keys = batch.filter { $0 != "bad" }.map { $0.prefix(1) }
            #expect(Set(keys).count == keys.count, "batch \(batch) holds one key twice")
        }
        // "a1" went before "a2".
        let order = batches.flatMap { $0 }
        #expect(order.firstIndex(of: "a1")! < order.firstIndex(of: "a2")!)
        #expect(batches.count >= 3)
    }
}

/// The embedded store's `synchronous` setting is the one configured, on the connection that commits:
/// GRDB sets `NORMAL` when it turns WAL on, which would make `full` (the default) skip each commit's fsync.
@Suite struct EmbeddedDurabilityTests {
    @Test(arguments: [("full", 2), ("normal", 1)])
    func theWriterCommitsWithTheConfiguredSynchronousSetting(setting: String, level: Int) async throws {
        let store = try EmbeddedStore(configuration: .init(directory: TemporaryDirectory.make(), synchronous: setting))
        let used = try await store.pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(used == level, "storage.synchronous: \(setting)")
    }
}
