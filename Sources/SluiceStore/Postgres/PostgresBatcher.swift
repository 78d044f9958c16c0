/// PostgreSQL's batched writes: one statement for the waiting writes of one kind.
typealias PostgresBatcher<Item: Sendable, Output: Sendable> = WriteBatcher<Item, Output>

extension WriteBatcher {
    /// Writes a batch with `batch` (one statement, one output per item); when that statement fails, the
    /// items go again one by one through `single`, so that an error reaches only the caller whose write
    /// caused it. (A batch whose connection failed may have committed: `batch` finds out before it
    /// throws, when writing its items again would not be the same.) A single write whose connection failed
    /// with no error from the server reaches its caller as `CommitUnknown`.
    convenience init(
        maxBatch: Int = 256, batch: @escaping @Sendable ([Item]) async throws -> [Output], single: @escaping @Sendable (Item) async throws -> Output
    ) {
        self.init(maxBatch: maxBatch) { items in
            if items.count > 1, let outputs = try? await batch(items), outputs.count == items.count {
                return outputs.map { .success($0) }
            }
            var results: [Result<Output, any Error>] = []
            for item in items {
                do {
                    results.append(.success(try await single(item)))
                } catch {
                    results.append(.failure(StoreFailure.commitUnknown(error) ?? error))
                }
            }
            return results
        }
    }
}
