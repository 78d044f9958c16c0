import Crypto
public import Foundation
public import SluiceCore
public import SluiceStore
import Synchronization

/// The semantic layer: questions that mean the same thing get the same answer. Each partition —
/// tenant, model alias, the fingerprint of every message before the question, the question's guard
/// (language, numbers, negation) — has its own vector index, so a hit can only come from the same
/// tenant, the same conversation and the same language. A lookup takes the nearest questions in the
/// namespace at the namespace threshold, then across the tenant at the global threshold, and serves
/// the first whose content terms and the asker's cover each other both ways (`Question.sameContent`):
/// the vector finds candidates, the terms decide.
///
/// Each entry's threshold also learns from evidence, in the spirit of vCache: when a user served an
/// entry's answer by a semantic hit asks again in other words within `reaskSeconds`, the answer did not
/// serve them, and the entry's threshold rises by `reaskPenalty` (until it only matches near-copies).
public final class SemanticCache: Sendable {
    /// Thresholds and switch.
    public struct Configuration: Sendable {
        /// Whether the semantic layer is on (default true).
        public var enabled = true
        /// Similarity needed inside a namespace. Default for the built-in embedder, tuned on the
        /// development split of `eval/tutoring/` (see BENCHMARKS.md for the test split).
        public var namespaceThreshold: Double = 0.85
        /// Similarity needed across the tenant (stricter: other chapters, same words).
        public var globalThreshold: Double = 0.90
        /// How long after a semantic hit a user's rephrased question counts against the entry.
        public var reaskSeconds: Double = 600
        /// How much such a re-ask raises the entry's threshold.
        public var reaskPenalty: Double = 0.04
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

    /// A semantic hit a user was served, kept to notice a rephrased re-ask.
    struct Served {
        var entry: String
        var vector: [Float]
        /// The exact key of the question that was served: the same again is a retry, not a re-ask.
        var asked: String?
        var at: Date
    }

    /// The words of one tenant's indexed questions: how many use each term, and the terms by shape
    /// (first letter and length), to correct a typo against them.
    struct Vocabulary {
        var counts: [String: Int] = [:]
        var shapes: [String: Set<String>] = [:]

        mutating func count(_ terms: [String], by delta: Int) {
            for term in Set(terms) {
                let count = counts[term, default: 0] + delta
                let shape = Question.shape(term)
                if count > 0 {
                    counts[term] = count
                    shapes[shape, default: []].insert(term)
                } else {
                    counts[term] = nil
                    shapes[shape]?.remove(term)
                    if shapes[shape]?.isEmpty == true { shapes[shape] = nil }
                }
            }
        }

        /// The terms with a typo corrected to a known term (the first such, in alphabetical order).
        func corrected(_ terms: [String]) -> [String] {
            Question.corrected(terms, known: Set(terms.filter { counts[$0] != nil }), candidates: { term in
                Question.neighbourShapes(term).compactMap { shape in shapes[shape]?.filter { Question.typo(term, $0) }.min() }
            })
        }
    }

    struct State {
        var indexes: [String: HNSWIndex] = [:]
        /// Each indexed entry's content terms.
        var terms: [String: [String]] = [:]
        /// What re-asks added to an entry's threshold, and the users whose re-asks counted (each once).
        var strictness: [String: Double] = [:]
        var penalizedBy: [String: Set<String>] = [:]
        /// The last semantic hit of each user.
        var served: [String: Served] = [:]
        /// Each tenant's words.
        var vocabularies: [String: Vocabulary] = [:]
    }

    /// Candidates the vector search hands to the term check.
    static let candidates = 8
    /// Users whose last semantic hit is remembered.
    static let servedLimit = 10_000
    /// Questions with more content terms or values than this are answered from the exact cache only.
    static let maxTerms = 64
    static let maxValues = 32

    public let configuration: Configuration
    public let embedder: any Embedder
    public let analyzer: QuestionAnalyzer
    private let state = Mutex(State())

    /// - Parameters:
    ///   - configuration: thresholds.
    ///   - embedder: the embedder.
    public init(configuration: Configuration, embedder: any Embedder) {
        self.configuration = configuration
        self.embedder = embedder
        self.analyzer = .shared
    }

    /// The question of a request (its final user message), its analysis and its partition, or nil
    /// when the request does not end with a user message or is more than a plain text question (tools,
    /// images, a response format, several choices: those are answered from the exact cache only).
    public func partition(of request: ChatRequest, tenant: String) -> (question: String, analysis: Question, partition: String)? {
        guard request.isPlainText, let last = request.messages.last, last.role == "user" else { return nil }
        let context = request.messages.dropLast().map { "\($0.role)\u{1F}\($0.name ?? "")\u{1F}\($0.content)" }.joined(separator: "\u{1E}")
        let fingerprint = CacheKey.hex(SHA256.hash(data: Data(context.utf8)).prefix(12))
        let parameters = CacheKey.parameters(request)
        let analysis = analyzer.analyze(last.content)
        return (last.content, analysis, [tenant, request.model, fingerprint, parameters.joined(separator: ","), analysis.guardString].joined(separator: "\u{1F}"))
    }

    /// The semantic key of a request as its caller sent it: its question embedded, its terms, and its
    /// partition; nil when the layer is off, the request does not end with a user message, or the
    /// question has no content terms (or more than a question has).
    public func probe(_ request: ChatRequest, tenant: String) async throws -> SemanticKey? {
        guard configuration.enabled, let (question, analysis, partition) = partition(of: request, tenant: tenant), !analysis.terms.isEmpty,
              analysis.terms.count <= Self.maxTerms, analysis.values.count <= Self.maxValues
        else { return nil }
        let vector: [Float]
        if let builtIn = embedder as? HashingEmbedder {
            vector = builtIn.vector(analysis)
        } else {
            guard let embedded = try await embedder.embed([question]).first else { return nil }
            vector = embedded
        }
        return SemanticKey(embedder: embedder.name, partition: partition, vector: vector, terms: analysis.terms)
    }

    /// A candidate the vector search found, for the term check (made outside the lock).
    struct Candidate {
        var key: String
        var similarity: Double
        var terms: [String]
    }

    /// Finds a cached answer to a question that means the same: in the namespace first, then across
    /// the tenant. `namespaceThreshold` overrides the configured one (tiers and modes set it). `user`,
    /// when given, lets a rephrased re-ask after a semantic hit make that hit's entry stricter; `asked`
    /// is the request's exact key, which tells a retry of the same words from a re-ask.
    ///
    /// A word the tenant's cached questions do not use, one typo from one they do, is read as that word
    /// for this lookup only (the key, and so what is stored, keeps the words as written).
    public func lookup(
        _ key: SemanticKey, namespace: String, namespaceThreshold: Double?, user: String? = nil, asked: String? = nil, now: Date = Date()
    ) -> Match? {
        guard let written = key.terms else { return nil }
        let inNamespace = namespaceThreshold ?? configuration.namespaceThreshold
        let tenant = String(key.partition.prefix { $0 != "\u{1F}" })
        let terms = state.withLock { $0.vocabularies[tenant]?.corrected(written) } ?? written
        var vector = key.vector
        if terms != written, let builtIn = embedder as? HashingEmbedder {
            vector = builtIn.vector(Question(language: "", values: [], negated: false, terms: terms))
        }
        var searches: [(String, Double)] = []
        if !namespace.isEmpty { searches.append((key.partition + "\u{1F}ns:" + namespace, inNamespace)) }
        searches.append((key.partition, configuration.globalThreshold))
        let candidates = state.withLock { state -> [Candidate] in
            if let user { noteReask(&state, user: user, vector: key.vector, asked: asked, now: now) }
            return searches.flatMap { partition, threshold -> [Candidate] in
                guard let index = state.indexes[partition] else { return [] }
                return index.nearest(vector, count: Self.candidates).compactMap { found in
                    let similarity = Double(found.similarity)
                    guard similarity >= threshold + state.strictness[found.key, default: 0], let stored = state.terms[found.key] else { return nil }
                    return Candidate(key: found.key, similarity: similarity, terms: stored)
                }
            }
        }
        // The term check runs outside the lock: a static model's word vectors are work.
        guard let match = candidates.first(where: { Self.serves(similarity: $0.similarity, threshold: 0, asked: terms, stored: $0.terms, embedder: embedder) }) else {
            return nil
        }
        if let user { state.withLock { remember(&$0, user: user, served: Served(entry: match.key, vector: key.vector, asked: asked, at: now)) } }
        return Match(key: match.key, similarity: match.similarity)
    }

    /// The rule that decides a match: similar enough, and the two questions' content terms cover each
    /// other both ways. (The guard was already met: both questions are in one partition.)
    public static func serves(similarity: Double, threshold: Double, asked: [String], stored: [String], embedder: any Embedder) -> Bool {
        similarity >= threshold && Question.sameContent(asked, stored, related: (embedder as? any WordEmbedder).map { words in { words.related($0, $1) } })
    }

    /// What re-asks have added to an entry's threshold.
    public func strictness(of key: String) -> Double { state.withLock { $0.strictness[key, default: 0] } }

    private func noteReask(_ state: inout State, user: String, vector: [Float], asked: String?, now: Date) {
        guard let served = state.served[user], now.timeIntervalSince(served.at) <= configuration.reaskSeconds else { return }
        // The same words again is a retry; an unrelated question says nothing; a question this alike in
        // other words is the same question asked again. Each user counts once per entry.
        guard asked == nil || served.asked != asked, Vector.dot(served.vector, vector) >= 0.5 else { return }
        state.served[user] = nil
        guard state.terms[served.entry] != nil, state.penalizedBy[served.entry, default: []].count < 64,
              state.penalizedBy[served.entry, default: []].insert(user).inserted
        else { return }
        state.strictness[served.entry, default: 0] += configuration.reaskPenalty
    }

    private func remember(_ state: inout State, user: String, served: Served) {
        if state.served.count >= Self.servedLimit {
            state.served = state.served.filter { served.at.timeIntervalSince($0.value.at) <= configuration.reaskSeconds }
            if state.served.count >= Self.servedLimit { state.served.removeAll() }
        }
        state.served[user] = served
    }

    /// Indexes a cached answer (entries made by another embedder are skipped).
    public func insert(_ entry: CacheEntry) {
        guard let semantic = entry.semantic, semantic.embedder == embedder.name, let terms = semantic.terms else { return }
        state.withLock { state in
            if let old = state.terms[entry.key] { state.vocabularies[entry.tenant, default: Vocabulary()].count(old, by: -1) }
            state.terms[entry.key] = terms
            state.vocabularies[entry.tenant, default: Vocabulary()].count(terms, by: 1)
            var partitions = [semantic.partition]
            if !entry.namespace.isEmpty { partitions.append(semantic.partition + "\u{1F}ns:" + entry.namespace) }
            for partition in partitions {
                var index = state.indexes.removeValue(forKey: partition) ?? HNSWIndex()
                index.insert(key: entry.key, vector: semantic.vector)
                // A key answered again leaves its old vector behind.
                state.indexes[partition] = index.needsCompaction ? index.compacted() : index
            }
        }
    }

    /// Removes answers from the index. Memory follows what is live: an emptied partition is dropped, and
    /// one whose deleted items outweigh the live ones is rebuilt without them.
    public func remove(_ entries: [CacheEntry]) {
        state.withLock { state in
            for entry in entries {
                guard let semantic = entry.semantic else { continue }
                if let old = state.terms.removeValue(forKey: entry.key) { state.vocabularies[entry.tenant]?.count(old, by: -1) }
                state.penalizedBy[entry.key] = nil
                state.strictness[entry.key] = nil
                for partition in [semantic.partition, semantic.partition + "\u{1F}ns:" + entry.namespace] {
                    guard var index = state.indexes.removeValue(forKey: partition) else { continue }
                    index.remove(key: entry.key)
                    if index.count > 0 { state.indexes[partition] = index.needsCompaction ? index.compacted() : index }
                }
            }
        }
    }

    /// Vectors held in memory, deleted ones included, and partitions.
    public var footprint: (vectors: Int, partitions: Int) {
        state.withLock { state in (state.indexes.values.reduce(0) { $0 + $1.nodes.count }, state.indexes.count) }
    }

    /// Entries indexed.
    public var count: Int { state.withLock { $0.indexes.filter { !$0.key.contains("\u{1F}ns:") }.values.reduce(0) { $0 + $1.count } } }
}
