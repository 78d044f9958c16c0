import Foundation
import SluiceCache
import SluiceCore
import SluiceStore
import Tracing

/// The cache stage: the exact layer by the request's canonical key, then the semantic layer by meaning
/// (its threshold follows the tenant's mode and the load). Finds answers; charges nothing.
struct CacheLookup: Sendable {
    let cache: ExactCache
    /// The semantic threshold of the mode and tier in force.
    let admission: AdmissionController
    let metrics: SluiceMetrics

    /// An answer the cache holds, and the layer that found it (`exact` or `semantic`).
    struct Found: Sendable {
        var entry: CacheEntry
        var layer: String
    }

    /// The request's exact key in its tenant and namespace; nil when the cache is off.
    func key(for chat: ChatRequest, tenant: String, namespace: String) -> String? {
        cache.configuration.enabled ? CacheKey.exact(chat, tenant: tenant, namespace: namespace) : nil
    }

    /// Looks `chat` up by `key`, then by meaning. Returns the answer found, if any, and the request's
    /// semantic key (computed on an exact miss), which its own answer is stored under later.
    func find(_ chat: ChatRequest, key: String, owner: Principal, namespace: String) async -> (found: Found?, semantic: SemanticKey?) {
        let span = startSpan("cache lookup")
        defer { span.end() }
        var started = ContinuousClock.now
        if case .hit(let entry) = cache.lookup(key: key, tenant: owner.tenant) {
            span.attributes["sluice.cache"] = "exact"
            metrics.cacheLookup(layer: "exact", result: "hit", duration: ContinuousClock.now - started, saved: entry.usage.totalTokens)
            return (Found(entry: entry, layer: "exact"), nil)
        }
        metrics.cacheLookup(layer: "exact", result: "miss", duration: ContinuousClock.now - started)
        guard let semantic = cache.semantic else { return (nil, nil) }
        started = ContinuousClock.now
        let semanticKey = try? await semantic.probe(chat, tenant: owner.tenant)
        if let semanticKey,
           let match = semantic.lookup(
               semanticKey, namespace: namespace, namespaceThreshold: admission.semanticThreshold(at: admission.clock(), tenant: owner.tenant),
               user: owner.userKey, asked: key),
           let entry = cache.entry(key: match.key, tenant: owner.tenant)
        {
            span.attributes["sluice.cache"] = "semantic"
            metrics.cacheLookup(layer: "semantic", result: "hit", duration: ContinuousClock.now - started, saved: entry.usage.totalTokens)
            return (Found(entry: entry, layer: "semantic"), semanticKey)
        }
        metrics.cacheLookup(layer: "semantic", result: "miss", duration: ContinuousClock.now - started)
        return (nil, semanticKey)
    }

    /// The request's semantic key, for a request that skipped the lookup but whose answer is stored.
    func semanticKey(for chat: ChatRequest, tenant: String) async -> SemanticKey? {
        guard let semantic = cache.semantic else { return nil }
        return try? await semantic.probe(chat, tenant: tenant)
    }
}
