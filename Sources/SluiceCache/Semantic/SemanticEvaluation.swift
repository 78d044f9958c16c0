import Foundation

/// Measures an embedder on a set of questions with paraphrases (which should hit) and near-misses
/// (which must not): the share of each that reaches a similarity threshold, with the guard applied as
/// the semantic cache applies it.
public enum SemanticEvaluation {
    /// One group of the evaluation set.
    public struct Group: Sendable, Decodable {
        /// `en` or `mn`.
        public var lang: String
        /// The subject.
        public var subject: String
        /// The question whose answer is cached.
        public var question: String
        /// Questions that mean the same.
        public var paraphrases: [String]
        /// Questions that look alike but need another answer.
        public var near_misses: [String]
    }

    /// The evaluation set file.
    public struct File: Sendable, Decodable {
        /// The groups.
        public var groups: [Group]
    }

    /// Results at one threshold.
    public struct Row: Sendable {
        /// The threshold.
        public var threshold: Double
        /// The language (`all`, `en`, `mn`).
        public var lang: String
        /// Paraphrases that hit, of all paraphrases.
        public var hitRate: Double
        /// Near-misses that hit, of all near-misses.
        public var falseHitRate: Double
        /// Counts: paraphrases, near-misses.
        public var paraphrases: Int
        /// Near-misses.
        public var nearMisses: Int
    }

    /// The similarities of every paraphrase and near-miss to its group's question (0 when the guards differ).
    public static func similarities(_ groups: [Group], embedder: any Embedder) async throws -> [(lang: String, paraphrase: Bool, similarity: Double)] {
        var results: [(String, Bool, Double)] = []
        for group in groups {
            let texts = [group.question] + group.paraphrases + group.near_misses
            let vectors = try await embedder.embed(texts)
            let guardText = HashingEmbedder.guardString(group.question)
            for (index, text) in texts.enumerated().dropFirst() {
                let similarity = HashingEmbedder.guardString(text) == guardText ? Double(Vector.dot(vectors[0], vectors[index])) : 0
                results.append((group.lang, index <= group.paraphrases.count, similarity))
            }
        }
        return results
    }

    /// Hit and false-hit rates at each threshold, for all languages and each one.
    public static func run(_ groups: [Group], embedder: any Embedder, thresholds: [Double]) async throws -> [Row] {
        let all = try await similarities(groups, embedder: embedder)
        var rows: [Row] = []
        for threshold in thresholds {
            for lang in ["all", "en", "mn"] {
                let subset = all.filter { lang == "all" || $0.lang == lang }
                let paraphrases = subset.filter(\.paraphrase)
                let misses = subset.filter { !$0.paraphrase }
                rows.append(Row(
                    threshold: threshold, lang: lang,
                    hitRate: Double(paraphrases.filter { $0.similarity >= threshold }.count) / Double(max(1, paraphrases.count)),
                    falseHitRate: Double(misses.filter { $0.similarity >= threshold }.count) / Double(max(1, misses.count)),
                    paraphrases: paraphrases.count, nearMisses: misses.count))
            }
        }
        return rows
    }
}
