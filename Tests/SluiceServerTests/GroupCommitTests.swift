import Foundation
import GRDB
@testable import SluiceStore
import SluiceTesting
import Testing

/// The embedded group commit runs other writers' operations in its leader's transaction: cancelling the
/// leader's task (a timeout, a client's cancel) must not fail theirs.
@Suite struct GroupCommitTests {
    @Test func cancellingTheLeaderDoesNotFailTheWritesItCarries() async throws {
        let queue = try DatabaseQueue(path: TemporaryDirectory.make() + "/group.sqlite")
        try await queue.write { try $0.execute(sql: "CREATE TABLE t (v INTEGER)") }
        let committer = GroupCommitter(writer: queue)
        // A first write holds the leadership while the others queue behind it.
        let first = Task { try await committer.write { db in Thread.sleep(forTimeInterval: 0.3); try db.execute(sql: "INSERT INTO t VALUES (0)") } }
        try await Task.sleep(for: .milliseconds(50))
        // The next in line leads the second batch; it is cancelled while it waits.
        let leader = Task { try await committer.write { db in try db.execute(sql: "INSERT INTO t VALUES (1)") } }
        try await Task.sleep(for: .milliseconds(20))
        let others = (2..<6).map { value in
            Task { try await committer.write { db in try db.execute(sql: "INSERT INTO t VALUES (\(value))") } }
        }
        try await Task.sleep(for: .milliseconds(20))
        leader.cancel()
        try await first.value
        for other in others { try await other.value }
        _ = await leader.result
        let values = try await queue.read { try Int.fetchAll($0, sql: "SELECT v FROM t ORDER BY v") }
        #expect(Set(values).isSuperset(of: [0, 2, 3, 4, 5]))
    }
}
