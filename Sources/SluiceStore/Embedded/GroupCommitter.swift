import GRDB
import Synchronization

/// Groups concurrent writes into shared transactions, so that `synchronous=FULL` durability does not cap
/// throughput: while one commit is on disk, the writes that arrive wait and then commit together.
/// No background task: the first waiter leads a commit and hands leadership to the next waiter.
final class GroupCommitter: Sendable {
    typealias Operation = @Sendable (Database) throws -> Void

    private enum Outcome: Sendable {
        case done(Result<Void, any Error>)
        case lead
    }

    private struct Waiter: Sendable {
        var operation: Operation
        var continuation: CheckedContinuation<Outcome, Never>
    }

    private struct State: Sendable {
        var pending: [Waiter] = []
        var leading = false
    }

    private let state = Mutex(State())
    private let writer: any DatabaseWriter

    init(writer: any DatabaseWriter) {
        self.writer = writer
    }

    /// Runs `operation` in a transaction shared with other concurrent writes; returns once committed.
    /// A failing operation rolls back alone (a savepoint) and its error is thrown to its caller only.
    func write(_ operation: @escaping Operation) async throws {
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
            let lead = state.withLock { state -> Bool in
                if state.leading {
                    state.pending.append(Waiter(operation: operation, continuation: continuation))
                    return false
                }
                state.leading = true
                return true
            }
            if lead { continuation.resume(returning: .lead) }
        }
        switch outcome {
        case .done(let result): try result.get()
        case .lead: try await lead(with: operation)
        }
    }

    private func lead(with operation: @escaping Operation) async throws {
        let batch = state.withLock { state -> [Waiter] in
            defer { state.pending = [] }
            return state.pending
        }
        let operations = [operation] + batch.map(\.operation)
        // Not cancelled with the leader's task: the other writers' operations are in this transaction too.
        let results = await Task { [writer] in
            do {
                return try await writer.write { db in
                    operations.map { operation in
                        Result { try db.inSavepoint { try operation(db); return .commit } }
                    }
                }
            } catch {
                return Array(repeating: Result<Void, any Error>.failure(error), count: operations.count)
            }
        }.value
        let next = state.withLock { state -> Waiter? in
            if state.pending.isEmpty {
                state.leading = false
                return nil
            }
            return state.pending.removeFirst()
        }
        for (waiter, result) in zip(batch, results.dropFirst()) {
            waiter.continuation.resume(returning: .done(result))
        }
        next?.continuation.resume(returning: .lead)
        try results[0].get()
    }
}
