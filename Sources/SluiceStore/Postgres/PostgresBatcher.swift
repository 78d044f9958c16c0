import Synchronization

/// Groups concurrent writes of one kind into one statement: while a batch is in the database, the writes
/// that arrive wait, then go together in the next. No background task: the first waiter leads a batch
/// and hands leadership to the next waiter (as the embedded store's `GroupCommitter` does).
///
/// A batch never holds two writes with the same key (one job's writes keep their order). When a batch
/// fails, its writes go again one by one, so that an error reaches only the caller whose write caused it.
final class PostgresBatcher<Item: Sendable, Output: Sendable>: Sendable {
    typealias Batch = @Sendable ([Item]) async throws -> [Output]
    typealias Single = @Sendable (Item) async throws -> Output

    private enum Outcome: Sendable {
        case done(Result<Output, any Error>)
        case lead
    }

    private struct Waiter: Sendable {
        var item: Item
        var key: String
        var continuation: CheckedContinuation<Outcome, Never>
    }

    private struct State: Sendable {
        var pending: [Waiter] = []
        var leading = false
    }

    private let state = Mutex(State())
    private let maxBatch: Int
    private let batch: Batch
    private let single: Single

    /// - Parameters:
    ///   - maxBatch: the most writes in one statement.
    ///   - batch: writes several items in one statement; returns one output per item, in order.
    ///   - single: writes one item alone.
    init(maxBatch: Int = 256, batch: @escaping Batch, single: @escaping Single) {
        self.maxBatch = maxBatch
        self.batch = batch
        self.single = single
    }

    /// Writes `item` with whatever else is waiting; returns once it is committed.
    func write(_ item: Item, key: String) async throws -> Output {
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

    private func lead(with item: Item, key: String) async throws -> Output {
        let followers = state.withLock { state -> [Waiter] in
            var keys: Set<String> = [key]
            var taken: [Waiter] = []
            var left: [Waiter] = []
            for waiter in state.pending {
                if taken.count + 1 < maxBatch, keys.insert(waiter.key).inserted { taken.append(waiter) } else { left.append(waiter) }
            }
            state.pending = left
            return taken
        }
        let items = [item] + followers.map(\.item)
        // Not cancelled with the leader's task: the followers' writes are in it too.
        let results = await Task { [batch, single] in
            if items.count > 1, let outputs = try? await batch(items), outputs.count == items.count {
                return outputs.map { Result<Output, any Error>.success($0) }
            }
            var results: [Result<Output, any Error>] = []
            for item in items {
                do { results.append(.success(try await single(item))) } catch { results.append(.failure(error)) }
            }
            return results
        }.value
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
