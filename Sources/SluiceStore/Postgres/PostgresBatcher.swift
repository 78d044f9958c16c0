/// PostgreSQL's batched writes: one statement for the waiting writes of one kind.
typealias PostgresBatcher<Item: Sendable, Output: Sendable> = WriteBatcher<Item, Output>

extension WriteBatcher {
    /// Writes a batch with `batch` (one statement, one output per item); when that statement fails, the
    /// items go again one by one through `single`, so that an error reaches only the caller whose write
    /// caused it. A statement whose commit is unknown (`CommitUnknown`: the connection failed after it was
    /// sent) is not written again: each of its callers gets that error, and reads the store to know.
    convenience init(
        maxBatch: Int = 256, batch: @escaping @Sendable ([Item]) async throws -> [Output], single: @escaping @Sendable (Item) async throws -> Output
    ) {
        self.init(maxBatch: maxBatch) { items in
            if items.count > 1 {
                do {
                    let outputs = try await batch(items)
                    if outputs.count == items.count { return outputs.map { .success($0) } }
                } catch {
                    if let unknown = StoreFailure.commitUnknown(error) { return items.map { _ in .failure(unknown) } }
                }
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
