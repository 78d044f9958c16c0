import Synchronization

/// Embedding vectors already made, by key (tenant, alias, size and input): a bounded LRU on this node.
public final class EmbeddingCache: Sendable {
    public init() {}

    private let entries = Mutex(LRU<[Float]>(maxEntries: 20_000, maxSize: 64 << 20))

    public func get(_ key: String) -> [Float]? { entries.withLock { $0.get(key) } }

    public func set(_ key: String, _ vector: [Float]) {
        _ = entries.withLock { $0.set(key, vector, size: vector.count * 4 + key.utf8.count) }
    }
}
