import ArgumentParser
import Foundation
import SluiceCache

/// `sluice eval-cache FILE`: hit and false-hit rates of the built-in embedder on an evaluation set.
struct EvalCacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-cache", abstract: "Evaluate the semantic cache's built-in embedder on a set of paraphrases and near-misses.")

    @Argument(help: "The evaluation set (eval/semantic-cache.json).")
    var file = "eval/semantic-cache.json"

    @Flag(help: "Print every pair's similarity.")
    var pairs = false

    func run() async throws {
        let set = try JSONDecoder().decode(SemanticEvaluation.File.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
        let thresholds = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92, 0.95]
        let rows = try await SemanticEvaluation.run(set.groups, embedder: HashingEmbedder(), thresholds: thresholds)
        if pairs {
            for group in set.groups {
                let sims = try await SemanticEvaluation.similarities([group], embedder: HashingEmbedder())
                let texts = group.paraphrases + group.near_misses
                for (text, sim) in zip(texts, sims) {
                    print(String(format: "%.3f", sim.similarity), sim.paraphrase ? "hit " : "miss", group.question, "<>", text)
                }
            }
        }
        let first = rows.first { $0.lang == "all" }!
        print("embedder hashing-v1; \(set.groups.count) groups; \(first.paraphrases) paraphrases, \(first.nearMisses) near-misses")
        print("| threshold | hit rate (all) | false hits (all) | hit rate (en) | false hits (en) | hit rate (mn) | false hits (mn) |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for threshold in thresholds {
            let cells = ["all", "en", "mn"].flatMap { lang -> [String] in
                let row = rows.first { $0.threshold == threshold && $0.lang == lang }!
                return [String(format: "%.0f %%", row.hitRate * 100), String(format: "%.0f %%", row.falseHitRate * 100)]
            }
            print("| \(String(format: "%.2f", threshold)) | " + cells.joined(separator: " | ") + " |")
        }
    }
}
