import Dispatch
import Foundation
import GRDB
@testable import SluiceStore
import SluiceTesting
import Testing

/// The embedded group commit runs other writers' operations in its leader's transaction: cancelling the
/// leader's task (a timeout, a client's cancel) must not fail theirs.
@Suite struct GroupCommitTests {
    /// Holds a synchronous operation (in a database transaction) until the test opens it.
    final class Gate: @unchecked Sendable {
        // @unchecked: a semaphore is safe to use from any thread.
        private let semaphore = DispatchSemaphore(value: 0)
        func wait() { semaphore.wait() }
        func open() { _ = semaphore.signal() }
    }

    @Test func cancellingTheLeaderDoesNotFailTheWritesItCarries() async throws {
        let queue = try DatabaseQueue(path: TemporaryDirectory.make() + "/group.sqlite")
        try await queue.write { try $0.execute(sql: "CREATE TABLE t (v INTEGER)") }
        let committer = GroupCommitter(writer: queue)
        // A first write holds the leadership while the others queue behind it: its operation runs (so its
        // batch, empty, is taken) and waits at the gate.
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
        // made: the next in line leads the second batch, and is cancelled while it waits.
        let leader = Task.immediate { try await committer.write { db in try db.execute(sql: "INSERT INTO t VALUES (1)") } }
        let others = (2..<6).map { value in
            Task.immediate { try await committer.write { db in try db.execute(sql: "INSERT INTO t VALUES (\(value))") } }
        }
        leader.cancel()
        gate.open()
        try await first.value
        for other in others { try await other.value }
        _ = await leader.result
        let values = try await queue.read { try Int.fetchAll($0, sql: "SELECT v FROM t ORDER BY v") }
        #expect(Set(values).isSuperset(of: [0, 2, 3, 4, 5]))
    }
}
