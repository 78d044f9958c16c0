import Synchronization

/// Groups concurrent writes into one round trip to the store: while a batch is being written, the writes
/// that arrive wait, then go together in the next. No background task: the first waiter leads a batch
/// and, when it is done, hands leadership to the next waiter. Both stores use it — the embedded store
/// to share one SQLite commit, PostgreSQL to share one statement.
///
/// A batch is written in a task of its own, never cancelled with its leader's: the other writers' work
/// is in it too. Writes with the same key never share a batch, so that one job's writes keep their order.
final class WriteBatcher<Item: Sendable, Output: Sendable>: Sendable {
    /// Writes a batch; returns one result per item, in order (an item's failure reaches its caller only).
    typealias Write = @Sendable ([Item]) async -> [Result<Output, any Error>]

    private enum Outcome: Sendable {
        case done(Result<Output, any Error>)
        case lead
    }

    private struct Waiter: Sendable {
        var item: Item
        var key: String?
        var continuation: CheckedContinuation<Outcome, Never>
    }

    private struct State: Sendable {
        var pending: [Waiter] = []
        var leading = false
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
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
            let lead = state.withLock { state -> Bool in
                if state.leading {
                    state.pending.append(Waiter(item: item, key: key, continuation: continuation))
                    return false
                }
                state.leading = true
                return true
            }
            if lead { continuation.resume(returning: .lead) }
        }
        switch outcome {
        case .done(let result): return try result.get()
        case .lead: return try await lead(with: item, key: key)
        }
    }

    private func lead(with item: Item, key: String?) async throws -> Output {
        let followers = state.withLock { state -> [Waiter] in
            var keys = Set([key].compactMap { $0 })
            var taken: [Waiter] = []
            var left: [Waiter] = []
            for waiter in state.pending {
                let free = waiter.key.map { keys.insert($0).inserted } ?? true
                if taken.count + 1 < maxBatch, free { taken.append(waiter) } else { left.append(waiter) }
            }
            state.pending = left
            return taken
        }
        let items = [item] + followers.map(\.item)
        // Not cancelled with the leader's task: the followers' writes are in it too.
        var results = await Task { [writeBatch] in await writeBatch(items) }.value
        if results.count != items.count {
            results = Array(repeating: .failure(BatchMismatch(items: items.count, results: results.count)), count: items.count)
        }
        let next = state.withLock { state -> Waiter? in
            if state.pending.isEmpty {
                state.leading = false
                return nil
            }
            return state.pending.removeFirst()
        }
        for (waiter, result) in zip(followers, results.dropFirst()) {
            waiter.continuation.resume(returning: .done(result))
        }
        next?.continuation.resume(returning: .lead)
        return try results[0].get()
    }
}

/// A batch write returned a different number of results than it was given items (a bug in the writer).
struct BatchMismatch: Error, CustomStringConvertible {
    var items: Int
    var results: Int
    var description: String { "a batch of \(items) writes returned \(results) results" }
}
