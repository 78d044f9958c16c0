import Foundation
import NIOHTTP1
import SluiceCache
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore
import SluiceTesting
import Testing

@Suite struct SemanticCacheTests {
    static func ask(_ content: String, _ earlier: [[String: String]] = []) -> [String: Any] {
        ["model": "default", "messages": earlier + [["role": "user", "content": content]], "mock": ["tokens": 6]]
    }

    static func text(_ reply: HTTPTestClient.Reply) -> String {
        (((reply.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String) ?? ""
    }

    @Test func paraphrasesHitAndNearMissesDoNot() async throws {
        try await TestNode.with { node in
            let physics = ["X-Sluice-Namespace": "physics:10:light-refraction"]
            let original = try await node.client.post("/v1/chat/completions", json: Self.ask("Why does light bend when it enters water?"), headers: physics)
            let paraphrase = try await node.client.post("/v1/chat/completions", json: Self.ask("why does light bend entering water"), headers: physics)
            #expect(paraphrase.headers["x-sluice-cache"] == "semantic")
            #expect(Self.text(paraphrase) == Self.text(original))
            for miss in ["Why does light bend when it enters glass?", "Why does sound bend when it enters water?", "Why doesn't light bend when it enters water?"] {
                #expect(try await node.client.post("/v1/chat/completions", json: Self.ask(miss), headers: physics).headers["x-sluice-cache"] == "miss", "\(miss)")
            }
            // Mongolian, with a different quantity as the near-miss.
            _ = try await node.client.post("/v1/chat/completions", json: Self.ask("5 кг масстай биеийг 20 Н хүчээр түлхэхэд хурдатгал хэд вэ?"))
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("5 кг масстай биеийг 20 Н хүчээр түлхэхэд хурдатгал нь хэд вэ?")).headers["x-sluice-cache"] == "semantic")
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("10 кг масстай биеийг 20 Н хүчээр түлхэхэд хурдатгал хэд вэ?")).headers["x-sluice-cache"] == "miss")
            let metrics = try await node.client.get("/metrics").text
            #expect(metrics.contains(#"sluice_cache_lookups_total{layer="semantic",result="hit"} 2"#))
            #expect(metrics.contains("sluice_cache_hit_seconds"))
        }
    }

    @Test func aHitNeedsTheSameConversationAndTheSameTenant() async throws {
        try await TestNode.with(configure: { $0.auth.apiKeys = ["a:key-a", "b:key-b"] }) { node in
            let a = ["Authorization": "Bearer key-a"]
            let b = ["Authorization": "Bearer key-b"]
            let earlier = [["role": "user", "content": "Let's talk about optics."], ["role": "assistant", "content": "Sure."]]
            _ = try await node.client.post("/v1/chat/completions", json: Self.ask("What is the function of the mitochondria?"), headers: a)
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("What's the function of the mitochondria?"), headers: a).headers["x-sluice-cache"] == "semantic")
            // Mid-conversation, the same words are another question.
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("What's the function of the mitochondria?", earlier), headers: a).headers["x-sluice-cache"] == "miss")
            // Another tenant never gets it, at any similarity.
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("What's the function of the mitochondria?"), headers: b).headers["x-sluice-cache"] == "miss")
        }
    }

    /// The fake upstream's embeddings: letter counts (as `FakeUpstream` makes them).
    static func letterSimilarity(_ a: String, _ b: String) -> Double {
        func counts(_ text: String) -> [Double] {
            var vector = [Double](repeating: 0, count: 26)
            for scalar in text.lowercased().unicodeScalars where scalar.value >= 97 && scalar.value < 123 { vector[Int(scalar.value - 97)] += 1 }
            return vector
        }
        let (x, y) = (counts(a), counts(b))
        let dot = zip(x, y).reduce(0) { $0 + $1.0 * $1.1 }
        return dot / (x.reduce(0) { $0 + $1 * $1 }.squareRoot() * y.reduce(0) { $0 + $1 * $1 }.squareRoot())
    }

    @Test func theNamespaceThresholdIsLooserThanTheTenantWideOneAndFollowsTheMode() async throws {
        // With a learned embedder the similarity of two questions with the same content varies; the
        // thresholds are set just around this pair's.
        let question = "How does photosynthesis work in plants?", paraphrase = "explain how photosynthesis works in plants"
        let similarity = Self.letterSimilarity(question, paraphrase)
        #expect(similarity > 0.9 && similarity < 0.99)
        try await FakeUpstream.with { fake in
            func embedder(_ configuration: inout SluiceConfiguration) {
                configuration.embedder.kind = "openai"
                configuration.embedder.baseURL = fake.openAIBaseURL
                configuration.embedder.model = "fake-embed"
            }
            try await TestNode.with(configure: {
                embedder(&$0)
                $0.semantic.namespaceThreshold = similarity - 0.02
                $0.semantic.globalThreshold = similarity + 0.02
            }) { node in
                let biology = ["X-Sluice-Namespace": "biology:7"]
                _ = try await node.client.post("/v1/chat/completions", json: Self.ask(question), headers: biology)
                #expect(try await node.client.post("/v1/chat/completions", json: Self.ask(paraphrase), headers: biology).headers["x-sluice-cache"] == "semantic")
                #expect(try await node.client.post("/v1/chat/completions", json: Self.ask(paraphrase), headers: ["X-Sluice-Namespace": "biology:8"]).headers["x-sluice-cache"] == "miss")
            }
            // Over both thresholds: a hit only in exam mode, which lowers the namespace threshold.
            try await TestNode.with(configure: {
                embedder(&$0)
                $0.semantic.namespaceThreshold = similarity + 0.02
                $0.semantic.globalThreshold = similarity + 0.03
                var exam = Mode(name: "exam")
                exam.semanticThreshold = similarity - 0.02
                $0.admission.modes = ["exam": exam]
            }) { node in
                let biology = ["X-Sluice-Namespace": "biology:7"]
                let admin = ["X-Sluice-Role": "admin"]
                _ = try await node.client.post("/v1/chat/completions", json: Self.ask(question), headers: biology)
                #expect(try await node.client.post("/v1/chat/completions", json: Self.ask(paraphrase), headers: biology.merging(["Cache-Control": "no-store"]) { $1 }).headers["x-sluice-cache"] == "miss")
                _ = try await node.client.send(.PUT, "/admin/api/mode", body: Data(#"{"mode": "exam"}"#.utf8), headers: admin)
                #expect(try await node.client.post("/v1/chat/completions", json: Self.ask(paraphrase), headers: biology).headers["x-sluice-cache"] == "semantic")
            }
        }
    }

    @Test func anOpenAICompatibleEmbeddingsEndpointCanServeTheSemanticLayer() async throws {
        try await FakeUpstream.with { fake in
            try await TestNode.with(configure: {
                $0.embedder.kind = "openai"
                $0.embedder.baseURL = fake.openAIBaseURL
                $0.embedder.model = "fake-embed"
                $0.embedder.apiKey = "sk-embed"
                $0.semantic.namespaceThreshold = 0.88
                $0.semantic.globalThreshold = 0.92
            }) { node in
                _ = try await node.client.post("/v1/chat/completions", json: Self.ask("What is the capital of Mongolia?"))
                #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("what is the capital of mongolia")).headers["x-sluice-cache"] == "semantic")
                #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("Name a river in Africa.")).headers["x-sluice-cache"] == "miss")
                let embeddings = fake.received.filter { $0.path == "/v1/embeddings" }
                #expect(embeddings.count == 3)
                #expect(embeddings.first?.headers["authorization"] == "Bearer sk-embed")
                #expect(embeddings.first?.json["model"] as? String == "fake-embed")
            }
        }
    }

    /// On the held-out split of `eval/tutoring/` (subjects the defaults were never tuned on), at the
    /// shipped defaults: at most 1 % of near-misses served, never an injection or another language, and
    /// each language at least 55 % of paraphrases. (Issue 20 asks 60 % overall; measured 59.9 % on
    /// 2026-11-30, see BENCHMARKS.md: the floor here keeps what was reached from slipping.)
    @Test func onTheHeldOutSplitTheBuiltInEmbedderServesMostParaphrasesAndAlmostNoNearMisses() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let groups = try SemanticEvaluation.load(root + "/eval/tutoring")
        #expect(groups.count >= 300 && groups.filter { $0.lang == "mn" }.count >= 120)
        let (development, test) = SemanticEvaluation.split(groups)
        #expect(development.isDisjoint(with: test) && !test.isEmpty)
        let outcomes = try await SemanticEvaluation.outcomes(groups.filter { test.contains($0.subject) }, embedder: HashingEmbedder())
        let threshold = SemanticCache.Configuration().globalThreshold
        let all = SemanticEvaluation.rates(outcomes, threshold: threshold)
        #expect(all.hitRate >= 0.55, "\(all)")
        #expect(all.falseHitRate <= 0.01, "\(all)")
        for lang in ["en", "mn"] {
            let rates = SemanticEvaluation.rates(outcomes.filter { $0.group.lang == lang }, threshold: threshold)
            #expect(rates.hitRate >= 0.55, "\(lang): \(rates)")
        }
        // An instruction added to a question, or the question in the other language, never matches at any threshold.
        let every = try await SemanticEvaluation.outcomes(groups, embedder: HashingEmbedder())
        let leaks = every.filter { ["injection", "language"].contains($0.item.kind) && $0.blocked == nil }
        #expect(leaks.isEmpty, "\(leaks.map(\.item.text))")
    }
}
