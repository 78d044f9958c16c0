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

    @Test func theNamespaceThresholdIsLooserThanTheTenantWideOneAndFollowsTheMode() async throws {
        // "How does photosynthesis work in plants?" and "how do plants do photosynthesis" are 0.87 alike:
        // over the namespace threshold (0.85), under the tenant-wide one (0.90).
        try await TestNode.with { node in
            let biology = ["X-Sluice-Namespace": "biology:7"]
            _ = try await node.client.post("/v1/chat/completions", json: Self.ask("How does photosynthesis work in plants?"), headers: biology)
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("how do plants do photosynthesis"), headers: biology).headers["x-sluice-cache"] == "semantic")
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("how do plants do photosynthesis"), headers: ["X-Sluice-Namespace": "biology:8"]).headers["x-sluice-cache"] == "miss")
        }
        // "…work in plants?" and "Explain how photosynthesis works in plants." are 0.78 alike: a hit only in exam mode at 0.75.
        try await TestNode.with(configure: {
            var exam = Mode(name: "exam")
            exam.semanticThreshold = 0.75
            $0.admission.modes = ["exam": exam]
        }) { node in
            let biology = ["X-Sluice-Namespace": "biology:7"]
            let admin = ["X-Sluice-Role": "admin"]
            _ = try await node.client.post("/v1/chat/completions", json: Self.ask("How does photosynthesis work in plants?"), headers: biology)
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("Explain how photosynthesis works in plants."), headers: biology.merging(["Cache-Control": "no-store"]) { $1 }).headers["x-sluice-cache"] == "miss")
            _ = try await node.client.send(.PUT, "/admin/api/mode", body: Data(#"{"mode": "exam"}"#.utf8), headers: admin)
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("Explain how photosynthesis works in plants."), headers: biology).headers["x-sluice-cache"] == "semantic")
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

    @Test func theBuiltInEmbedderMakesNoFalseHitsOnTheEvaluationSetAtTheDefaults() async throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("eval/semantic-cache.json")
        let set = try JSONDecoder().decode(SemanticEvaluation.File.self, from: Data(contentsOf: url))
        let defaults = SemanticCache.Configuration()
        let rows = try await SemanticEvaluation.run(set.groups, embedder: HashingEmbedder(), thresholds: [defaults.namespaceThreshold, defaults.globalThreshold])
        for row in rows where row.lang == "all" {
            #expect(row.falseHitRate == 0, "threshold \(row.threshold)")
            #expect(row.hitRate >= 0.6, "threshold \(row.threshold)")
        }
        #expect(set.groups.filter { $0.lang == "mn" }.count >= 10 && set.groups.filter { $0.lang == "en" }.count >= 10)
    }
}
