import Crypto
import Foundation

/// Measures the semantic cache's matching on a set of tutoring questions with paraphrases (which
/// should be served the cached answer) and near-misses (which must not): each group's question is
/// cached alone, and every other text of the group is looked up against it by the cache's own rule —
/// the same guard (language, numbers, negation), `SemanticCache.serves` at a threshold.
public enum SemanticEvaluation {
    /// A paraphrase or near-miss, with its kind (`reword`, `number`, `injection`, …).
    public struct Item: Sendable, Decodable {
        /// The text.
        public var text: String
        /// The kind (`unspecified` in sets that name none).
        public var kind: String

        public init(from decoder: any Decoder) throws {
            if let text = try? decoder.singleValueContainer().decode(String.self) {
                self.text = text
                self.kind = "unspecified"
            } else {
                let object = try decoder.container(keyedBy: CodingKeys.self)
                self.text = try object.decode(String.self, forKey: .text)
                self.kind = try object.decodeIfPresent(String.self, forKey: .kind) ?? "unspecified"
            }
        }

        enum CodingKeys: String, CodingKey { case text, kind }
    }

    /// One group of the evaluation set.
    public struct Group: Sendable, Decodable {
        /// An identifier.
        public var id: String?
        /// `en` or `mn`.
        public var lang: String
        /// The subject (the split is by subject).
        public var subject: String
        /// The question whose answer is cached.
        public var question: String
        /// Questions that mean the same.
        public var paraphrases: [Item]
        /// Questions that look alike but need another answer.
        public var near_misses: [Item]
    }

    /// An evaluation set file.
    public struct File: Sendable, Decodable {
        /// The groups.
        public var groups: [Group]
    }

    /// One looked-up text: its group, whether it should hit, and its similarity when the guard and the
    /// terms allow a match (nil when they do not).
    public struct Outcome: Sendable {
        public var group: Group
        public var item: Item
        public var paraphrase: Bool
        public var similarity: Double
        /// Why it cannot match whatever the threshold: `guard`, `terms` (nil when only the threshold decides).
        public var blocked: String?
        /// Terms on either side the other does not cover.
        public var uncovered: [String]

        /// Whether it is served at a threshold.
        public func hit(at threshold: Double) -> Bool { blocked == nil && similarity >= threshold }
    }

    /// Reads every `.json` set in a directory (or one file).
    public static func load(_ path: String) throws -> [Group] {
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let files = isDirectory.boolValue
            ? try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".json") }.sorted().map { path + "/" + $0 }
            : [path]
        return try files.flatMap { try JSONDecoder().decode(File.self, from: Data(contentsOf: URL(fileURLWithPath: $0))).groups }
    }

    /// The development and test subjects: subjects ordered by a seeded hash, alternately to each split.
    public static func split(_ groups: [Group], seed: String = "sluice-eval-1") -> (development: Set<String>, test: Set<String>) {
        let subjects = Set(groups.map(\.subject)).sorted {
            Data(SHA256.hash(data: Data((seed + $0).utf8))).lexicographicallyPrecedes(Data(SHA256.hash(data: Data((seed + $1).utf8))))
        }
        var development = Set<String>(), test = Set<String>()
        for (index, subject) in subjects.enumerated() {
            if index % 2 == 0 { development.insert(subject) } else { test.insert(subject) }
        }
        return (development, test)
    }

    /// Looks every paraphrase and near-miss up against its group's question, as `SemanticCache` does:
    /// typos corrected against the cached question's words, then the guard, the terms, the similarity.
    public static func outcomes(_ groups: [Group], embedder: any Embedder, analyzer: QuestionAnalyzer = .shared) async throws -> [Outcome] {
        var results: [Outcome] = []
        for group in groups {
            let items = group.paraphrases + group.near_misses
            let vectors = try await embedder.embed([group.question] + items.map(\.text))
            let stored = analyzer.analyze(group.question)
            // The cache's own correction, against a vocabulary of this one cached question.
            var vocabulary = SemanticCache.Vocabulary()
            vocabulary.count(stored.terms, by: 1)
            for (index, item) in items.enumerated() {
                var asked = analyzer.analyze(item.text)
                asked.terms = vocabulary.corrected(asked.terms)
                let vector = (embedder as? HashingEmbedder).map { $0.vector(asked) } ?? vectors[index + 1]
                let similarity = Double(Vector.dot(vectors[0], vector))
                let uncovered = Question.uncovered(asked.terms, by: stored.terms) + Question.uncovered(stored.terms, by: asked.terms).map { "-" + $0 }
                let blocked: String? =
                    asked.guardString != stored.guardString ? "guard"
                    : SemanticCache.serves(similarity: 1, threshold: 0, asked: asked.terms, stored: stored.terms, embedder: embedder) ? nil : "terms"
                results.append(Outcome(group: group, item: item, paraphrase: index < group.paraphrases.count, similarity: similarity, blocked: blocked, uncovered: uncovered))
            }
        }
        return results
    }

    /// Hits among paraphrases and among near-misses at a threshold.
    public static func rates(_ outcomes: [Outcome], threshold: Double) -> (hitRate: Double, falseHitRate: Double, paraphrases: Int, nearMisses: Int) {
        let paraphrases = outcomes.filter(\.paraphrase)
        let misses = outcomes.filter { !$0.paraphrase }
        return (
            Double(paraphrases.filter { $0.hit(at: threshold) }.count) / Double(max(1, paraphrases.count)),
            Double(misses.filter { $0.hit(at: threshold) }.count) / Double(max(1, misses.count)),
            paraphrases.count, misses.count)
    }
}
