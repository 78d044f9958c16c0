import Crypto
import Foundation
public import SluiceCore
public import SluiceStore
import Synchronization

/// The semantic layer: questions that mean the same thing get the same answer. Each partition —
/// tenant, model alias, the fingerprint of every message before the question, the question's guard
/// (numbers, negation) — has its own vector index, so a hit can only come from the same tenant and the
/// same conversation. A lookup searches the namespace at the namespace threshold, then the whole tenant
/// at the global threshold.
public final class SemanticCache: Sendable {
    /// Thresholds and switch.
    public struct Configuration: Sendable {
        /// Whether the semantic layer is on (default true).
        public var enabled = true
        /// Similarity needed inside a namespace. Default for the built-in embedder, tuned on
        /// `eval/semantic-cache.json`: the highest hit rate with no false hit.
        public var namespaceThreshold: Double = 0.85
        /// Similarity needed across the tenant (stricter: other chapters, same words).
        public var globalThreshold: Double = 0.90
        /// The defaults.
        public init() {}
    }

    /// A match.
    public struct Match: Sendable {
        /// The exact-cache key of the answer.
        public var key: String
        /// The similarity.
        public var similarity: Double
    }

    public let configuration: Configuration
    public let embedder: any Embedder
    private let indexes = Mutex<[String: HNSWIndex]>([:])

    /// - Parameters:
    ///   - configuration: thresholds.
    ///   - embedder: the embedder.
    public init(configuration: Configuration, embedder: any Embedder) {
        self.configuration = configuration
        self.embedder = embedder
    }

    /// The question of a request (its final user message) and its partition, or nil when the request
    /// does not end with a user message or is more than a plain text question (tools, images, a response
    /// format, several choices: those are answered from the exact cache only).
    public func partition(of request: ChatRequest, tenant: String) -> (question: String, partition: String)? {
        guard request.isPlainText, let last = request.messages.last, last.role == "user" else { return nil }
        let context = request.messages.dropLast().map { "\($0.role)\u{1F}\($0.name ?? "")\u{1F}\($0.content)" }.joined(separator: "\u{1E}")
        let fingerprint = CacheKey.hex(SHA256.hash(data: Data(context.utf8)).prefix(12))
        let parameters = CacheKey.parameters(request)
        let guardText = HashingEmbedder.guardString(last.content)
        return (last.content, [tenant, request.model, fingerprint, parameters.joined(separator: ","), guardText].joined(separator: "\u{1F}"))
    }

    /// The semantic key of a request as its caller sent it: its question embedded, and its partition;
    /// nil when the layer is off or the request does not end with a user message.
    public func probe(_ request: ChatRequest, tenant: String) async throws -> SemanticKey? {
        guard configuration.enabled, let (question, partition) = partition(of: request, tenant: tenant),
              let vector = try await embedder.embed([question]).first
        else { return nil }
        return SemanticKey(embedder: embedder.name, partition: partition, vector: vector)
    }

    /// Finds a cached answer to a question that means the same: in the namespace first, then across
    /// the tenant. `namespaceThreshold` overrides the configured one (tiers and modes set it).
    public func lookup(_ key: SemanticKey, namespace: String, namespaceThreshold: Double?) -> Match? {
        let inNamespace = namespaceThreshold ?? configuration.namespaceThreshold
        return indexes.withLock { indexes -> Match? in
            if !namespace.isEmpty, let found = indexes[key.partition + "\u{1F}ns:" + namespace]?.nearest(key.vector),
               Double(found.similarity) >= inNamespace
            {
                return Match(key: found.key, similarity: Double(found.similarity))
            }
            if let found = indexes[key.partition]?.nearest(key.vector), Double(found.similarity) >= configuration.globalThreshold {
                return Match(key: found.key, similarity: Double(found.similarity))
            }
            return nil
        }
    }

    /// Indexes a cached answer (entries made by another embedder are skipped).
    public func insert(_ entry: CacheEntry) {
        guard let semantic = entry.semantic, semantic.embedder == embedder.name else { return }
        indexes.withLock { indexes in
            var partitions = [semantic.partition]
            if !entry.namespace.isEmpty { partitions.append(semantic.partition + "\u{1F}ns:" + entry.namespace) }
            for partition in partitions {
                var index = indexes.removeValue(forKey: partition) ?? HNSWIndex()
                index.insert(key: entry.key, vector: semantic.vector)
                // A key answered again leaves its old vector behind.
                indexes[partition] = index.needsCompaction ? index.compacted() : index
            }
        }
    }

    /// Removes answers from the index. Memory follows what is live: an emptied partition is dropped, and
    /// one whose deleted items outweigh the live ones is rebuilt without them.
    public func remove(_ entries: [CacheEntry]) {
        indexes.withLock { indexes in
            for entry in entries {
                guard let semantic = entry.semantic else { continue }
                for partition in [semantic.partition, semantic.partition + "\u{1F}ns:" + entry.namespace] {
                    guard var index = indexes.removeValue(forKey: partition) else { continue }
                    index.remove(key: entry.key)
                    if index.count > 0 { indexes[partition] = index.needsCompaction ? index.compacted() : index }
                }
            }
        }
    }

    /// Vectors held in memory, deleted ones included, and partitions.
    public var footprint: (vectors: Int, partitions: Int) {
        indexes.withLock { indexes in (indexes.values.reduce(0) { $0 + $1.nodes.count }, indexes.count) }
    }

    /// Entries indexed.
    public var count: Int { indexes.withLock { $0.filter { !$0.key.contains("\u{1F}ns:") }.values.reduce(0) { $0 + $1.count } } }
}
