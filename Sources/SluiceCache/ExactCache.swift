public import Foundation
public import SluiceCore
public import SluiceStore
import Synchronization

/// The exact cache: answers by key, bounded in memory (LRU by entries and bytes), written through to
/// the store and reloaded from it at start. A hit is never served across tenants: the tenant is part of
/// the key and is checked again on every hit.
public final class ExactCache: Sendable {
    /// Bounds and lifetime.
    public struct Configuration: Sendable {
        /// Seconds an answer stays (default 24 h).
        public var ttlSeconds: Double = 86400
        /// Entries in memory (default 100,000).
        public var maxEntries: Int = 100_000
        /// Bytes in memory (default 256 MiB).
        public var maxBytes: Int = 256 << 20
        /// Whether the cache is on (default true).
        public var enabled = true
        /// The defaults.
        public init() {}
    }

    /// What a lookup found.
    public enum Lookup: Sendable {
        case hit(CacheEntry)
        case miss
    }

    public let configuration: Configuration
    let store: any CacheStore
    /// The store's feed when nodes share it: an invalidation reaches every node's entries through it.
    let shared: (any SharedCacheFeed)?
    /// The semantic layer over the same entries, kept in step with them.
    public let semantic: SemanticCache?
    private let entries: Mutex<LRU<CacheEntry>>
    private let counters = Mutex((evictions: 0, hits: 0, misses: 0))

    /// - Parameters:
    ///   - configuration: bounds and lifetime.
    ///   - store: where entries persist.
    ///   - shared: the same store's feed when nodes share it (PostgreSQL); nil on a node's own store.
    ///   - semantic: the semantic layer, if on.
    public init(configuration: Configuration, store: any CacheStore, shared: (any SharedCacheFeed)? = nil, semantic: SemanticCache? = nil) {
        self.configuration = configuration
        self.store = store
        self.shared = shared
        self.semantic = semantic
        self.entries = Mutex(LRU(maxEntries: configuration.maxEntries, maxSize: configuration.maxBytes))
    }

    /// Loads the stored entries that have not expired.
    public func load(now: Date = Date()) async throws {
        remember(try await store.cacheEntries(now: now))
    }

    /// Serves entries already stored (by this node earlier, or by another node sharing the store)
    /// without writing them again.
    public func remember(_ stored: [CacheEntry]) {
        let (fresh, evicted) = entries.withLock { lru in
            // An entry already held as it is (this node wrote it) is left alone.
            let fresh = stored.filter { lru.peek($0.key)?.createdAt != $0.createdAt }
            return (fresh, fresh.flatMap { entry in lru.set(entry.key, entry, size: entry.size).map(\.1) })
        }
        let gone = Set(evicted.map(\.key))
        let freshKeys = Set(fresh.map(\.key))
        semantic?.remove(evicted.filter { !freshKeys.contains($0.key) })
        for entry in fresh where !gone.contains(entry.key) { semantic?.insert(entry) }
    }

    /// The entry under a key, for a tenant, when it has not expired.
    public func entry(key: String, tenant: String, now: Date = Date()) -> CacheEntry? {
        entries.withLock { lru in
            guard let entry = lru.peek(key), entry.expiresAt > now, entry.tenant == tenant else { return nil }
            return lru.get(key)
        }
    }

    /// Looks a key up for a tenant.
    public func lookup(key: String, tenant: String, now: Date = Date()) -> Lookup {
        let found = entries.withLock { lru -> CacheEntry? in
            guard let entry = lru.get(key) else { return nil }
            if entry.expiresAt <= now {
                lru.remove(key)
                return nil
            }
            return entry.tenant == tenant ? entry : nil
        }
        counters.withLock { if found == nil { $0.misses += 1 } else { $0.hits += 1 } }
        return found.map { .hit($0) } ?? .miss
    }

    /// Stores an answer; returns once it is durable.
    public func store(_ entry: CacheEntry) async throws {
        let evicted = entries.withLock { $0.set(entry.key, entry, size: entry.size) }
        counters.withLock { $0.evictions += evicted.count }
        semantic?.remove(evicted.map(\.1))
        semantic?.insert(entry)
        try await store.putCache([entry])
        if !evicted.isEmpty { try await store.deleteCache(keys: evicted.map(\.0)) }
    }

    /// A new entry for an answer, expiring after the TTL.
    public func entry(
        key: String, tenant: String, model: String, namespace: String, tags: [String], text: String, finishReason: String, usage: Usage,
        pieces: [ChoiceDelta]? = nil, fingerprint: String? = nil, now: Date = Date()
    ) -> CacheEntry {
        var entry = CacheEntry(
            key: key, tenant: tenant, model: model, namespace: namespace, tags: tags, text: text, finishReason: finishReason, usage: usage,
            createdAt: now, expiresAt: now.addingTimeInterval(configuration.ttlSeconds))
        entry.pieces = pieces
        entry.fingerprint = fingerprint
        return entry
    }

    /// Removes a tenant's entries by namespace, tag or key; returns how many.
    public func invalidate(tenant: String, namespace: String? = nil, tag: String? = nil, key: String? = nil) async throws -> Int {
        let removed = entries.withLock { lru -> [CacheEntry] in
            let keys = lru.keys { entry in
                entry.tenant == tenant
                    && (namespace.map { entry.namespace == $0 } ?? true)
                    && (tag.map { entry.tags.contains($0) } ?? true)
                    && (key.map { entry.key == $0 } ?? true)
            }
            return keys.compactMap { lru.remove($0) }
        }
        semantic?.remove(removed)
        guard let shared else {
            try await store.deleteCache(keys: removed.map(\.key))
            return removed.count
        }
        // On a shared store, every node's matching entries go, whether or not this node holds them.
        let stored = try await shared.invalidateCache(tenant: tenant, namespace: namespace, tag: tag, key: key)
        let onlyHere = Set(removed.map(\.key)).subtracting(stored)
        if !onlyHere.isEmpty { try await shared.invalidateCache(keys: Array(onlyHere)) }
        return Set(stored).union(removed.map(\.key)).count
    }

    /// Keeps a tenant's entries in some namespaces until at least `until` (exam topics kept through the
    /// exams); returns how many it extended. Stored, so other nodes and restarts see the new expiry.
    public func extend(tenant: String, namespaces: Set<String>, until: Date) async throws -> Int {
        let extended = entries.withLock { lru -> [CacheEntry] in
            let keys = lru.keys { $0.tenant == tenant && namespaces.contains($0.namespace) && $0.expiresAt < until }
            return keys.compactMap { key in
                guard var entry = lru.peek(key) else { return nil }
                entry.expiresAt = until
                _ = lru.set(key, entry, size: entry.size)
                return entry
            }
        }
        try await store.putCache(extended)
        return extended.count
    }

    /// Stops serving entries another node invalidated.
    public func forget(keys: [String]) {
        let removed = entries.withLock { lru in keys.compactMap { lru.remove($0) } }
        semantic?.remove(removed)
    }

    /// Entries, bytes, evictions.
    public var statistics: (entries: Int, bytes: Int, evictions: Int) {
        let (count, bytes) = entries.withLock { ($0.count, $0.totalSize) }
        return (count, bytes, counters.withLock { $0.evictions })
    }
}
