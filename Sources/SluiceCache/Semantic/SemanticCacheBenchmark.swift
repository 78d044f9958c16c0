import Foundation
import SluiceCore
import SluiceStore

/// Measures the semantic cache as a request meets it: the cost of reading and embedding one question
/// with the built-in embedder, the resident memory an entry adds, and a full lookup (the vector
/// search, then the term check on up to eight candidates) in one partition of `entries` questions.
/// For `sluice bench-semantic`.
public enum SemanticCacheBenchmark {
    /// One measurement.
    public struct Result: Sendable {
        public var entries: Int
        /// Microseconds to read and embed one question (median).
        public var embedMicroseconds: Double
        /// Resident bytes per entry the index added.
        public var bytesPerEntry: Double
        /// Lookup latency, milliseconds.
        public var p50: Double
        public var p99: Double
        /// Lookups that found their question (a paraphrase: the stored question with its template changed).
        public var hitRate: Double
    }

    static func residentBytes() -> Double {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
        else { return 0 }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// A synthetic question with no number (all in one partition).
    static func question(_ seed: Int) -> String {
        SemanticBenchmark.question(seed).split(separator: " ").filter { !$0.contains(where: \.isNumber) && $0 != "times?" }.joined(separator: " ")
    }

    public static func run(entries: Int, queries: Int) async throws -> Result {
        let entries = max(1, entries), queries = max(1, queries)
        let cache = SemanticCache(configuration: .init(), embedder: HashingEmbedder())
        let clock = ContinuousClock()
        func milliseconds(_ d: Duration) -> Double { Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000 }
        let before = residentBytes()
        var embeds: [Double] = []
        for n in 0..<entries {
            let request = ChatRequest(model: "default", messages: [ChatMessage(role: "user", content: question(n))])
            var key: SemanticKey?
            let started = clock.now
            key = try await cache.probe(request, tenant: "t")
            if n % 97 == 0 { embeds.append(milliseconds(clock.now - started) * 1000) }
            var entry = CacheEntry(
                key: String(n), tenant: "t", model: "default", namespace: "", tags: [], text: "", finishReason: "stop",
                usage: Usage(promptTokens: 1, completionTokens: 1), createdAt: Date(), expiresAt: Date().addingTimeInterval(3600))
            entry.semantic = key
            cache.insert(entry)
        }
        let bytesPerEntry = (residentBytes() - before) / Double(entries)
        var latencies: [Double] = []
        var hits = 0
        for q in 0..<queries {
            let target = (q &* 7919) % entries
            let paraphrase = "Explain " + question(target).replacingOccurrences(of: "Why does ", with: "why ").replacingOccurrences(of: "?", with: ".")
            guard let key = try await cache.probe(ChatRequest(model: "default", messages: [ChatMessage(role: "user", content: paraphrase)]), tenant: "t") else { continue }
            var match: SemanticCache.Match?
            let elapsed = clock.measure { match = cache.lookup(key, namespace: "", namespaceThreshold: nil) }
            latencies.append(milliseconds(elapsed))
            if match != nil { hits += 1 }
        }
        latencies.sort()
        embeds.sort()
        return Result(
            entries: entries, embedMicroseconds: embeds[embeds.count / 2], bytesPerEntry: bytesPerEntry,
            p50: latencies.isEmpty ? 0 : latencies[latencies.count / 2], p99: latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))],
            hitRate: Double(hits) / Double(max(1, latencies.count)))
    }
}
