import Foundation
@testable import SluiceCache
@testable import SluiceServer
import SluiceTesting
import Testing

/// `embedder: static`: a Model2Vec-format model the test builds itself — a safetensors matrix and a
/// Hugging Face `tokenizer.json` — loaded in Swift, used by a running node, and refused with a precise
/// problem when it is damaged.
@Suite struct StaticEmbedderTests {
    /// A tiny model: each token's row is a fixed pseudo-random vector of 16 dimensions, except that
    /// synonyms share a row, so a paraphrase with other words lands on the same vector.
    struct TinyModel {
        static let dimensions = 16
        static let wordPieceVocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "why", "is", "the", "sky", "blue", "what", "makes", "look", "light", "bend", "##s", "water", "in", "?", "."]
        /// Rows shared by synonyms: `makes`/`why` and `look`/`is` say the same in these questions.
        static let sameRow = ["makes": "why", "look": "is"]

        static func row(_ token: String) -> [Float] {
            let key = sameRow[token] ?? token
            var state = key.unicodeScalars.reduce(UInt64(1469598103934665603)) { ($0 ^ UInt64($1.value)) &* 1099511628211 }
            return (0..<dimensions).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Float(Int(state >> 40) % 2001 - 1000) / 1000
            }
        }

        /// Writes `model.safetensors` (F16 embeddings and F32 weights), `tokenizer.json` and `config.json`.
        static func write(to directory: String, tokenizer: [String: Any], vocab: [String], weights: [Float]? = nil) throws {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var body = Data()
            var header: [String: Any] = [:]
            for token in vocab {
                for value in row(token) { withUnsafeBytes(of: Float16(value).bitPattern.littleEndian) { body.append(contentsOf: $0) } }
            }
            header["embeddings"] = ["dtype": "F16", "shape": [vocab.count, dimensions], "data_offsets": [0, body.count]]
            if let weights {
                let start = body.count
                for weight in weights { withUnsafeBytes(of: weight.bitPattern.littleEndian) { body.append(contentsOf: $0) } }
                header["weights"] = ["dtype": "F32", "shape": [weights.count], "data_offsets": [start, body.count]]
            }
            header["__metadata__"] = ["format": "pt"]
            let headerData = try JSONSerialization.data(withJSONObject: header)
            var file = Data()
            withUnsafeBytes(of: UInt64(headerData.count).littleEndian) { file.append(contentsOf: $0) }
            file.append(headerData)
            file.append(body)
            try file.write(to: URL(fileURLWithPath: directory + "/model.safetensors"))
            try JSONSerialization.data(withJSONObject: tokenizer).write(to: URL(fileURLWithPath: directory + "/tokenizer.json"))
            try Data(#"{"normalize": true, "model_type": "model2vec"}"#.utf8).write(to: URL(fileURLWithPath: directory + "/config.json"))
        }

        static func wordPiece(directory: String) throws {
            let tokenizer: [String: Any] = [
                "normalizer": ["type": "BertNormalizer", "lowercase": true, "clean_text": true],
                "pre_tokenizer": ["type": "BertPreTokenizer"],
                "model": ["type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                          "vocab": Dictionary(uniqueKeysWithValues: wordPieceVocab.enumerated().map { ($1, $0) })],
            ]
            try write(to: directory, tokenizer: tokenizer, vocab: wordPieceVocab)
        }

        static func expected(_ tokens: [String]) -> [Float] {
            let rows = tokens.map { row($0).map { Float(Float16($0)) } }
            let mean = (0..<dimensions).map { d in rows.reduce(0) { $0 + $1[d] } / Float(rows.count) }
            let norm = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return mean.map { $0 / norm }
        }
    }

    @Test func aWordPieceModelGivesTheMeanOfItsTokensRows() throws {
        let directory = TemporaryDirectory.make() + "/tiny"
        try TinyModel.wordPiece(directory: directory)
        let model = try StaticEmbedder(directory: directory)
        #expect(model.name == "static:tiny")
        // "Light bends!": lower-cased, split at punctuation, `bends` = `bend` + `##s`, `!` unknown and left out.
        #expect(model.tokenizer.ids("Light bends!") == [12, 13, 14])
        let vector = model.vector("Light bends!")
        for (a, b) in zip(vector, TinyModel.expected(["light", "bend", "##s"])) { #expect(abs(a - b) < 1e-5) }
        // Synonyms the model knows meet; the built-in embedder's words do not need to.
        let same = Vector.dot(model.vector("Why is the sky blue?"), model.vector("what makes the sky look blue"))
        let unrelated = Vector.dot(model.vector("Why is the sky blue?"), model.vector("light bends in water"))
        #expect(same > 0.8 && same > unrelated + 0.3, "\(same) vs \(unrelated)")
    }

    @Test func aUnigramModelSegmentsByTheMostProbablePieces() throws {
        let directory = TemporaryDirectory.make() + "/unigram"
        let vocab: [(String, Double)] = [("<unk>", 0), ("▁", -3), ("▁гэр", -4), ("эл", -4), ("▁гэрэл", -2), ("▁ус", -2), ("анд", -3), ("▁усанд", -9), ("а", -6), ("н", -6), ("д", -6)]
        let tokenizer: [String: Any] = [
            "normalizer": ["type": "Sequence", "normalizers": [["type": "NFKC"], ["type": "Lowercase"]]],
            "pre_tokenizer": ["type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"],
            "model": ["type": "Unigram", "unk_id": 0, "vocab": vocab.map { [$0.0, $0.1] as [Any] }],
        ]
        try TinyModel.write(to: directory, tokenizer: tokenizer, vocab: vocab.map(\.0), weights: vocab.map { _ in 2 })
        let model = try StaticEmbedder(directory: directory)
        // `▁гэрэл` (-2) beats `▁гэр` + `эл` (-8); `▁ус` + `анд` (-5) beats `▁усанд` (-9).
        #expect(model.tokenizer.ids("Гэрэл усанд") == [4, 5, 6])
        for (a, b) in zip(model.vector("Гэрэл усанд"), TinyModel.expected(["▁гэрэл", "▁ус", "анд"])) { #expect(abs(a - b) < 1e-5) }
    }

    @Test func aNodeWithAStaticModelServesAParaphraseFromTheCache() async throws {
        let directory = TemporaryDirectory.make() + "/tiny"
        try TinyModel.wordPiece(directory: directory)
        try await TestNode.with(configure: {
            $0.embedder.kind = "static"
            $0.embedder.path = directory
        }) { node in
            let first = try await node.client.post("/v1/chat/completions", json: SemanticCacheTests.ask("Why is the sky blue?"))
            #expect(first.headers["x-sluice-cache"] == "miss")
            let again = try await node.client.post("/v1/chat/completions", json: SemanticCacheTests.ask("why is the sky blue"))
            #expect(again.headers["x-sluice-cache"] == "semantic")
            let other = try await node.client.post("/v1/chat/completions", json: SemanticCacheTests.ask("Why does light bend in water?"))
            #expect(other.headers["x-sluice-cache"] == "miss")
        }
    }

    @Test func aDamagedModelIsAConfigurationProblemNamingTheFile() async throws {
        let directory = TemporaryDirectory.make() + "/damaged"
        try TinyModel.wordPiece(directory: directory)
        let file = directory + "/model.safetensors"
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        try data.prefix(data.count - 7).write(to: URL(fileURLWithPath: file))
        let yaml = TemporaryDirectory.make() + "/sluice.yaml"
        try "cache:\n  semantic:\n    embedder: static\n    path: \(directory)\n".write(toFile: yaml, atomically: true, encoding: .utf8)
        let check = await SluiceConfiguration.check(configFile: yaml, environment: [:])
        #expect(check.problems.map(\.keyPath) == ["cache.semantic.path"], "\(check.problems)")
        #expect(check.problems.first?.message.contains("model.safetensors") == true, "\(check.problems)")
        let missing = TemporaryDirectory.make() + "/sluice.yaml"
        try "cache:\n  semantic:\n    embedder: static\n    path: /nonexistent/model\n".write(toFile: missing, atomically: true, encoding: .utf8)
        #expect(await SluiceConfiguration.check(configFile: missing, environment: [:]).problems.map(\.keyPath) == ["cache.semantic.path"])
    }
}
