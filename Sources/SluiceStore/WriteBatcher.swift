import Synchronization

/// Groups concurrent writes into one round trip to the store: while a batch is being written, the writes
/// that arrive wait, then go together in the next. Both stores use it — the embedded store to share one
/// SQLite commit, PostgreSQL to share one statement.
///
/// One task drains the waiting writes while there are any, batch after batch, and ends when none are
/// left; the next write starts another. Between two batches nothing is handed over: the drain takes the
/// next batch as soon as the last one's writers are answered. (A leader hand-off — each batch written by
/// one of its writers, who then woke the next — waited for the cooperative pool three or four times per
/// commit: under load that, not the disk, paced the commits.) The drain is never cancelled with a
/// writer: the other writers' work is in its batch. Writes with the same key never share a batch, so
/// that one job's writes keep their order.
final class WriteBatcher<Item: Sendable, Output: Sendable>: Sendable {
    /// Writes a batch; returns one result per item, in order (an item's failure reaches its caller only).
    typealias Write = @Sendable ([Item]) async -> [Result<Output, any Error>]

    private struct Waiter: Sendable {
        var item: Item
        var key: String?
        var continuation: CheckedContinuation<Result<Output, any Error>, Never>
    }

    private struct State: Sendable {
        var pending: [Waiter] = []
        var draining = false
    }

    private let state = Mutex(State())
    private let maxBatch: Int
    private let writeBatch: Write

    /// - Parameters:
    ///   - maxBatch: the most items in one batch.
    ///   - write: writes a batch.
    init(maxBatch: Int = .max, write: @escaping Write) {
        self.maxBatch = max(1, maxBatch)
        self.writeBatch = write
    }

    /// Writes `item` with whatever else is waiting; returns once it is written. Writes with the same
    /// `key` go in separate batches, in the order they came; nil keys never conflict.
    func write(_ item: Item, key: String? = nil) async throws -> Output {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Output, any Error>, Never>) in
            let start = state.withLock { state -> Bool in
                state.pending.append(Waiter(item: item, key: key, continuation: continuation))
                let idle = !state.draining
                state.draining = true
                return idle
            }
            if start { Task { await self.drain() } }
        }
        return try result.get()
    }

    /// Writes batches until no write waits.
    private func drain() async {
        while let batch = nextBatch() {
            var results = await writeBatch(batch.map(\.item))
            if results.count != batch.count {
                results = Array(repeating: .failure(BatchMismatch(items: batch.count, results: results.count)), count: batch.count)
            }
            for (waiter, result) in zip(batch, results) { waiter.continuation.resume(returning: result) }
        }
    }

    /// The next batch: the waiting writes in their order, up to `maxBatch`, at most one per key; nil (and
    /// the drain over) when none waits.
    private func nextBatch() -> [Waiter]? {
        state.withLock { state in
            guard !state.pending.isEmpty else {
                state.draining = false
                return nil
            }
            var keys = Set<String>()
            var taken: [Waiter] = []
            var left: [Waiter] = []
            for waiter in state.pending {
                let free = waiter.key.map { keys.insert($0).inserted } ?? true
                if taken.count < maxBatch, free { taken.append(waiter) } else { left.append(waiter) }
            }
            state.pending = left
            return taken
        }
    }
}

/// A batch write returned a different number of results than it was given items (a bug in the writer).
struct BatchMismatch: Error, CustomStringConvertible {
    var items: Int
    var results: Int
    var description: String { "a batch of \(items) writes returned \(results) results" }
}
