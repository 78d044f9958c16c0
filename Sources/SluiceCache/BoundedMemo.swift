public import Foundation
import Synchronization

/// Values already made, by key: a bounded LRU on this node (by count and by bytes), safe from any task.
public final class BoundedMemo<Value: Sendable>: Sendable {
    private let entries: Mutex<LRU<Value>>
    private let size: @Sendable (Value) -> Int

    /// - Parameters:
    ///   - maxEntries: the most values kept.
    ///   - maxBytes: the most bytes kept, as `size` counts them (keys included).
    ///   - size: a value's size in bytes.
    public init(maxEntries: Int, maxBytes: Int, size: @escaping @Sendable (Value) -> Int) {
        entries = Mutex(LRU(maxEntries: maxEntries, maxSize: maxBytes))
        self.size = size
    }

    public func get(_ key: String) -> Value? { entries.withLock { $0.get(key) } }

    public func set(_ key: String, _ value: Value) {
        let bytes = size(value) + key.utf8.count
        _ = entries.withLock { $0.set(key, value, size: bytes) }
    }
}

/// Embedding vectors already made, by key (tenant, alias, size and input).
public typealias EmbeddingCache = BoundedMemo<[Float]>

extension BoundedMemo where Value == [Float] {
    /// Room for 20,000 vectors in 64 MiB.
    public convenience init() {
        self.init(maxEntries: 20_000, maxBytes: 64 << 20) { $0.count * 4 }
    }
}

extension BoundedMemo where Value == Data {
    /// Room for 4,096 bodies in 32 MiB.
    public convenience init() {
        self.init(maxEntries: 4_096, maxBytes: 32 << 20) { $0.count }
    }
}
