import GRDB

/// Groups concurrent writes into shared transactions, so that `synchronous=FULL` durability does not cap
/// throughput: while one commit is on disk, the writes that arrive wait and then commit together.
final class GroupCommitter: Sendable {
    typealias Operation = @Sendable (Database) throws -> Void

    private let batcher: WriteBatcher<Operation, Void>

    init(writer: any DatabaseWriter) {
        batcher = WriteBatcher { operations in
            do {
                return try await writer.write { db in
                    operations.map { operation in Result { try db.inSavepoint { try operation(db); return .commit } } }
                }
            } catch {
                return Array(repeating: .failure(error), count: operations.count)
            }
        }
    }

    /// Runs `operation` in a transaction shared with other concurrent writes; returns once committed.
    /// A failing operation rolls back alone (a savepoint) and its error is thrown to its caller only.
    func write(_ operation: @escaping Operation) async throws {
        try await batcher.write(operation)
    }
}
