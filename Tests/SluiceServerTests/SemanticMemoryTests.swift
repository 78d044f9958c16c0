import Foundation
import SluiceCache
import SluiceCore
import SluiceStore
import Testing

/// The semantic index's memory follows what is live: emptied partitions are dropped and deleted vectors
/// reclaimed once they outweigh the live ones.
@Suite struct SemanticMemoryTests {
    static func entry(_ n: Int, partition: String, embedder: String) -> CacheEntry {
        var vector = [Float](repeating: 0, count: 8)
        vector[n % 8] = 1
        vector[(n / 8) % 8] += 0.5
        let norm = sqrt(vector.reduce(0) { $0 + $1 * $1 })
        var entry = CacheEntry(
            key: "key-\(n)", tenant: "t", model: "m", namespace: n % 2 == 0 ? "physics" : "", tags: [], text: "answer \(n)", finishReason: "stop",
            usage: Usage(promptTokens: 1, completionTokens: 1), createdAt: Date(), expiresAt: Date().addingTimeInterval(3600))
        entry.semantic = SemanticKey(embedder: embedder, partition: partition, vector: vector.map { $0 / norm }, terms: ["term\(n)"])
        return entry
    }

    @Test func emptiedPartitionsGoAndDeletedVectorsAreReclaimed() {
        let cache = SemanticCache(configuration: .init(), embedder: HashingEmbedder())
        let name = cache.embedder.name
        let kept = (0..<20).map { Self.entry($0, partition: "kept", embedder: name) }
        let churned = (0..<400).map { Self.entry($0, partition: "churned", embedder: name) }
        let gone = (0..<10).map { Self.entry($0, partition: "gone", embedder: name) }
        for entry in kept + churned + gone { cache.insert(entry) }
        #expect(cache.footprint.partitions == 6, "three partitions, each with a namespace sub-index")
        cache.remove(gone)
        cache.remove(Array(churned.dropFirst(10)))
        // "gone" and its namespace index are dropped; "churned" keeps 10 live vectors, not 400.
        #expect(cache.footprint.partitions == 4)
        #expect(cache.footprint.vectors <= 20 + 10 + 10 + 5 + 2 * 64, "\(cache.footprint)")
        #expect(cache.count == 30)
        // Replacing answers under the same key does not pile up old vectors either.
        for _ in 0..<10 { for entry in kept { cache.insert(entry) } }
        #expect(cache.footprint.vectors <= 20 + 10 + 10 + 5 + 4 * 64, "\(cache.footprint)")
    }
}
