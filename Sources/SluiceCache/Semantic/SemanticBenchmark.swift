import Foundation

/// Measures semantic lookup: an index of synthetic tutoring questions embedded by the built-in
/// embedder, queried with paraphrased variants (a word dropped or swapped); latency per lookup, and
/// recall@1 against an exact (brute-force) search. For `sluice bench-semantic`.
public enum SemanticBenchmark {
    /// One measurement.
    public struct Result: Sendable {
        /// Entries indexed.
        public var entries: Int
        /// Lookups made.
        public var queries: Int
        /// Seconds to build the index.
        public var buildSeconds: Double
        /// Lookup latency percentiles, milliseconds.
        public var p50: Double
        /// 99th percentile.
        public var p99: Double
        /// Share of lookups whose best match equals the exact search's.
        public var recall: Double
    }

    static let subjects = ["light", "water", "force", "energy", "cell", "plant", "equation", "fraction", "atom", "river", "gravity", "sound",
                           "гэрэл", "ус", "хүч", "эрчим", "эс", "ургамал", "тэгшитгэл", "бутархай", "атом", "гол", "таталцал", "дуу"]
    static let verbs = ["bend", "move", "change", "grow", "divide", "reflect", "absorb", "heat", "cool", "fall", "flow", "travel",
                        "хугарах", "хөдлөх", "өөрчлөгдөх", "ургах", "хуваах", "ойх", "шингээх", "халах", "хөрөх", "унах", "урсах", "аялах"]
    static let contexts = ["in a vacuum", "under pressure", "at night", "in glass", "in the ocean", "on the moon", "in summer", "in a magnet",
                           "in a circuit", "in a forest", "in the desert", "in space", "лабораторид", "шилэнд", "далайд", "саран дээр"]

    /// A synthetic question, different for every seed.
    static func question(_ seed: Int) -> String {
        var state = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15 | 1
        func pick<T>(_ list: [T]) -> T {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return list[Int(state % UInt64(list.count))]
        }
        return "Why does \(pick(subjects)) \(pick(verbs)) \(pick(contexts)) with \(pick(subjects)) and \(pick(verbs)) \(seed % 997) times?"
    }

    /// Builds an index of `entries` questions and times `queries` lookups.
    public static func run(entries: Int, queries: Int) -> Result {
        let embedder = HashingEmbedder()
        var index = HNSWIndex()
        let started = Date()
        for n in 0..<entries { index.insert(key: String(n), vector: embedder.vector(question(n))) }
        let buildSeconds = Date().timeIntervalSince(started)
        var latencies: [Double] = []
        var agree = 0
        let clock = ContinuousClock()
        for q in 0..<queries {
            let target = (q &* 7919) % entries
            var words = question(target).split(separator: " ").map(String.init)
            words.remove(at: 2 + q % 3)
            let vector = embedder.vector(words.joined(separator: " "))
            var found: (key: String, similarity: Float)?
            let elapsed = clock.measure { found = index.nearest(vector) }
            latencies.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
            if let found, let exact = index.bruteForce(vector), found.key == exact.key || found.similarity >= exact.similarity { agree += 1 }
        }
        latencies.sort()
        return Result(
            entries: entries, queries: queries, buildSeconds: buildSeconds, p50: latencies[latencies.count / 2],
            p99: latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))], recall: Double(agree) / Double(queries))
    }
}
