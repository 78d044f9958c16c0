import ArgumentParser
import Foundation
import SluiceCache

/// `sluice eval-cache [PATH]`: how the semantic cache's matching does on a set of tutoring questions —
/// paraphrases served and near-misses wrongly served, per split, language and kind, a threshold
/// sweep, the worst misses and every false hit.
struct EvalCacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-cache", abstract: "Evaluate the semantic cache on paraphrases and near-misses (per split, language and kind).")

    @Argument(help: "An evaluation set: a directory of .json files or one file.")
    var path = "eval/tutoring"

    @Option(help: "The split to report: development, test or all. Tune on development (it shows nothing of test); report test.")
    var split = "development"

    @Option(help: "The threshold of the tables (default: the built-in's global threshold).")
    var threshold: Double?

    @Option(help: "How many of the worst misses to list.")
    var worst = 25

    @Option(help: "A Model2Vec model directory: evaluate `embedder: static` instead of the built-in.")
    var staticModel: String?

    func run() async throws {
        let groups = try SemanticEvaluation.load(path)
        let (development, test) = SemanticEvaluation.split(groups)
        guard ["development", "test", "all"].contains(split) else { throw ValidationError("--split is development, test or all") }
        let embedder: any Embedder = try staticModel.map { try StaticEmbedder(directory: $0) } ?? HashingEmbedder()
        let threshold = threshold ?? SemanticCache.Configuration().globalThreshold
        let outcomes = try await SemanticEvaluation.outcomes(groups, embedder: embedder)
        func inSplit(_ name: String) -> (SemanticEvaluation.Outcome) -> Bool {
            { name == "all" || (name == "development" ? development : test).contains($0.group.subject) }
        }
        let chosen = outcomes.filter(inSplit(split))
        func percent(_ value: Double) -> String { String(format: "%.1f %%", value * 100) }

        print("Embedder `\(embedder.name)`, threshold \(threshold). \(groups.count) groups (\(groups.filter { $0.lang == "mn" }.count) Mongolian).")
        print("Development subjects: \(development.sorted().joined(separator: ", ")). Test subjects: \(test.sorted().joined(separator: ", ")).\n")
        print("| split | language | groups | paraphrases served | near-misses served |")
        print("| --- | --- | ---: | ---: | ---: |")
        // Tuning on development shows development only: the test split's figures are read when asked for.
        for name in ["development", "test"] where split == "all" || split == name {
            for lang in ["all", "en", "mn"] {
                let subset = outcomes.filter(inSplit(name)).filter { lang == "all" || $0.group.lang == lang }
                let rates = SemanticEvaluation.rates(subset, threshold: threshold)
                let groupCount = Set(subset.map(\.group.question)).count
                print("| \(name) | \(lang) | \(groupCount) | \(percent(rates.hitRate)) of \(rates.paraphrases) | \(percent(rates.falseHitRate)) of \(rates.nearMisses) |")
            }
        }

        print("\n\(split) split, by kind:\n")
        print("| kind | paraphrases served | near-misses served |")
        print("| --- | ---: | ---: |")
        for kind in Set(chosen.map(\.item.kind)).sorted() {
            let subset = chosen.filter { $0.item.kind == kind }
            let paraphrases = subset.filter(\.paraphrase), misses = subset.filter { !$0.paraphrase }
            let served = paraphrases.isEmpty ? "" : "\(percent(Double(paraphrases.filter { $0.hit(at: threshold) }.count) / Double(paraphrases.count))) of \(paraphrases.count)"
            let wrong = misses.isEmpty ? "" : "\(percent(Double(misses.filter { $0.hit(at: threshold) }.count) / Double(misses.count))) of \(misses.count)"
            print("| \(kind) | \(served) | \(wrong) |")
        }

        print("\n\(split) split, threshold sweep:\n")
        print("| threshold | served (all) | wrong (all) | served (en) | wrong (en) | served (mn) | wrong (mn) |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for sweep in stride(from: 0.5, through: 0.951, by: 0.05) {
            let cells = ["all", "en", "mn"].flatMap { lang -> [String] in
                let rates = SemanticEvaluation.rates(chosen.filter { lang == "all" || $0.group.lang == lang }, threshold: sweep)
                return [percent(rates.hitRate), percent(rates.falseHitRate)]
            }
            print("| \(String(format: "%.2f", sweep)) | " + cells.joined(separator: " | ") + " |")
        }

        let missed = chosen.filter { $0.paraphrase && !$0.hit(at: threshold) }
            .sorted { ($0.blocked == nil ? 1 : 0, $0.similarity) > ($1.blocked == nil ? 1 : 0, $1.similarity) }
        print("\nWorst misses (\(split) split, \(missed.count) in all; closest first):\n")
        print("| kind | similarity | why | question | paraphrase |")
        print("| --- | ---: | --- | --- | --- |")
        for outcome in missed.prefix(worst) { print(row(outcome)) }

        let wrong = chosen.filter { !$0.paraphrase && $0.hit(at: threshold) }
        print("\nEvery false hit (\(split) split, \(wrong.count)):\n")
        print("| kind | similarity | why | question | near-miss |")
        print("| --- | ---: | --- | --- | --- |")
        for outcome in wrong { print(row(outcome)) }

        func row(_ outcome: SemanticEvaluation.Outcome) -> String {
            let why = outcome.blocked.map { $0 == "terms" ? "terms: " + outcome.uncovered.joined(separator: " ") : $0 } ?? "threshold"
            let cells = [outcome.item.kind, String(format: "%.3f", outcome.similarity), why, outcome.group.question, outcome.item.text]
            return "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |"
        }
    }
}
