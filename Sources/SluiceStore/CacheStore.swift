public import Foundation
public import SluiceCore

/// One cached answer.
public struct CacheEntry: Sendable, Codable, Hashable {
    /// The exact key (SHA-256, hex).
    public var key: String
    /// The tenant it belongs to; never served to another.
    public var tenant: String
    /// The model alias.
    public var model: String
    /// The namespace (`physics:10:light-refraction`), empty for none.
    public var namespace: String
    /// Tags for invalidation.
    public var tags: [String]
    /// The answer.
    public var text: String
    /// Why it ended.
    public var finishReason: String
    /// Its usage when it was made.
    public var usage: Usage
    /// Everything beyond choice 0's text (tool calls, log probabilities, other choices); nil for plain text.
    public var pieces: [ChoiceDelta]?
    /// The provider's `system_fingerprint`.
    public var fingerprint: String?
    /// When it was stored.
    public var createdAt: Date
    /// When it expires.
    public var expiresAt: Date
    /// The semantic layer's view of it: the embedder, the partition and the question's vector.
    public var semantic: SemanticKey?

    /// - Parameters:
    ///   - key: the exact key.
    ///   - tenant: the tenant.
    ///   - model: the alias.
    ///   - namespace: the namespace.
    ///   - tags: tags.
    ///   - text: the answer.
    ///   - finishReason: why it ended.
    ///   - usage: usage.
    ///   - createdAt: when.
    ///   - expiresAt: expiry.
    public init(
        key: String, tenant: String, model: String, namespace: String, tags: [String], text: String, finishReason: String, usage: Usage,
        createdAt: Date, expiresAt: Date
    ) {
        self.key = key
        self.tenant = tenant
        self.model = model
        self.namespace = namespace
        self.tags = tags
        self.text = text
        self.finishReason = finishReason
        self.usage = usage
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    /// Bytes it holds in memory, roughly.
    public var size: Int { text.utf8.count + (pieces.map { $0.reduce(0) { $0 + JSONValue.object($1.delta).byteSize + ($1.logprobs?.byteSize ?? 0) } } ?? 0) + namespace.utf8.count + tags.reduce(0) { $0 + $1.utf8.count } + 160 + (semantic?.vector.count ?? 0) * 4 }
}

/// Durable storage of cached answers; the in-memory cache is rebuilt from it at start.
public protocol CacheStore: Sendable {
    /// Stores (or replaces) entries.
    func putCache(_ entries: [CacheEntry]) async throws
    /// Deletes entries by key.
    func deleteCache(keys: [String]) async throws
    /// Every entry that has not expired, newest last.
    func cacheEntries(now: Date) async throws -> [CacheEntry]
}

/// A cache store that several nodes write to: each reads what the others stored since it last looked.
public protocol SharedCacheFeed: Sendable {
    /// Entries written after `cursor` that have not expired, oldest first, and the cursor to ask
    /// with next time (0 at first: everything).
    func cacheEntries(writtenAfter cursor: Int64, now: Date) async throws -> (entries: [CacheEntry], cursor: Int64)
    /// Deletes entries that must no longer be served (an invalidation), and tells the other nodes.
    func invalidateCache(keys: [String]) async throws
    /// Deletes a tenant's entries by namespace, tag or key wherever they are stored (not only those a
    /// node holds in memory), and tells the other nodes; returns the keys it removed.
    func invalidateCache(tenant: String, namespace: String?, tag: String?, key: String?) async throws -> [String]
    /// The keys invalidated after `cursor`, and the cursor to ask with next time; nil at first: none,
    /// and the cursor of now.
    func cacheInvalidations(after cursor: Int64?) async throws -> (keys: [String], cursor: Int64)
}
