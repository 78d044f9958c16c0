import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceProviders
@testable import SluiceServer
import SluiceStore
import SluiceTesting
import Testing

/// The APIs apps already speak, over the same jobs: OpenAI's Responses, Anthropic's Messages, embeddings.
@Suite struct FrontDoorTests {
    static func respond(_ input: String, stream: Bool = false, extra: [String: Any] = [:], mock: [String: Any] = ["tokens": 6]) -> [String: Any] {
        ["model": "default", "input": input, "stream": stream, "mock": mock].merging(extra) { $1 }
    }

    @Test func aRetryAfterPartialOutputClosesTheAbandonedItemAndNeverReusesANumber() async throws {
        try await FakeUpstream.with { flaky in
            try await FakeUpstream.with { good in
                flaky.fallback(.cutAfter(3))
                try await TestNode.with(configure: { ProviderTests.configure(&$0, [ProviderTests.deployment("flaky", flaky), ProviderTests.deployment("good", good)]) }) { node in
                    let body: [String: Any] = ["model": "gpt", "input": "hi", "stream": true]
                    let stream = try await node.client.events("/v1/responses", method: .POST, json: body)
                    #expect(stream.headers["content-type"] == "text/event-stream; charset=utf-8")
                    let numbers = stream.events.compactMap { $0.json["sequence_number"] as? Int }
                    #expect(numbers.count == stream.events.count && numbers == numbers.sorted() && Set(numbers).count == numbers.count, "\(numbers)")
                    #expect(stream.events.map(\.seq) == numbers.map { $0 == 0 ? nil : $0 }, "id: lines carry the numbers")
                    // The first attempt's item ends incomplete at index 0; the answer is item 1.
                    let itemsDone = stream.events.filter { $0.name == "response.output_item.done" }.map(\.json)
                    #expect(itemsDone.map { ($0["item"] as? [String: Any])?["status"] as? String } == ["incomplete", "completed"])
                    #expect(itemsDone.map { $0["output_index"] as? Int } == [0, 1])
                    let last = try #require(stream.events.last)
                    #expect(last.name == "response.completed")
                    let response = try #require(last.json["response"] as? [String: Any])
                    let output = try #require(response["output"] as? [[String: Any]])
                    #expect(output.count == 1)
                    let text = ((output.first?["content"] as? [[String: Any]])?.first?["text"] as? String)
                    #expect(text == "w1 w2 w3 w4 w5 w6 w7 w8")
                    // Read later, the response names the same final item.
                    let id = try #require(response["id"] as? String)
                    let read = try await node.client.get("/v1/responses/\(id)").json
                    #expect(((read["output"] as? [[String: Any]])?.first?["id"] as? String) == output.first?["id"] as? String)
                    // Replayed whole, the same events with the same numbers.
                    let replay = try await node.client.events("/v1/responses/\(id)?stream=true")
                    #expect(replay.events.compactMap { $0.json["sequence_number"] as? Int } == numbers)
                }
            }
        }
    }

    @Test func aResponseIsItsOwnersAlone() async throws {
        try await TestNode.with { node in
            let alice = ["X-Sluice-User": "alice"]
            let mallory = ["X-Sluice-User": "mallory"]
            let created = try await node.client.post("/v1/responses", json: Self.respond("mine", extra: ["background": true], mock: ["tokens": 300, "tokens_per_second": 50]), headers: alice)
            #expect(created.status == 200)
            let id = try #require(created.json["id"] as? String)
            #expect(["queued", "in_progress"].contains(created.json["status"] as? String))
            for path in ["/v1/responses/\(id)", "/v1/responses/\(id)/input_items", "/v1/responses/\(id)?stream=true"] {
                #expect(try await node.client.get(path, headers: mallory).status == 404, "\(path)")
            }
            #expect(try await node.client.post("/v1/responses/\(id)/cancel", json: [:], headers: mallory).status == 404)
            #expect(try await node.client.delete("/v1/responses/\(id)", headers: mallory).status == 404)
            let continued = try await node.client.post("/v1/responses", json: Self.respond("go on", extra: ["previous_response_id": id]), headers: mallory)
            #expect(continued.status == 404)
            // The owner cancels it (twice: the second changes nothing), then deletes it.
            #expect(try await node.client.post("/v1/responses/\(id)/cancel", json: [:], headers: alice).json["status"] as? String == "cancelled")
            #expect(try await node.client.post("/v1/responses/\(id)/cancel", json: [:], headers: alice).json["status"] as? String == "cancelled")
            let deleted = try await node.client.delete("/v1/responses/\(id)", headers: alice)
            #expect(deleted.json["deleted"] as? Bool == true)
            #expect(try await node.client.get("/v1/responses/\(id)", headers: alice).status == 404)
            // Its stream is gone too: 204, so that an EventSource stops.
            #expect(try await node.client.get("/v1/responses/\(id)?stream=true", headers: alice).status == 204)
        }
    }

    @Test func aFollowerSeesTheAnswerButNotTheOwnersMetadata() async throws {
        try await TestNode.with { node in
            let ask = { (who: String) in
                Self.respond("the same slow question", extra: ["background": true, "metadata": ["asked_by": who]], mock: ["tokens": 100, "tokens_per_second": 50])
            }
            let first = try await node.client.post("/v1/responses", json: ask("alice"), headers: ["X-Sluice-User": "alice"])
            let second = try await node.client.post("/v1/responses", json: ask("bob"), headers: ["X-Sluice-User": "bob"])
            let id = try #require(first.json["id"] as? String)
            #expect(second.json["id"] as? String == id, "bob joined alice's answer in flight")
            #expect(second.json["metadata"] as? [String: String] == [:])
            let bob = try await node.client.get("/v1/responses/\(id)", headers: ["X-Sluice-User": "bob"]).json
            #expect(bob["metadata"] as? [String: String] == [:] && bob["user"] is NSNull)
            let alice = try await node.client.get("/v1/responses/\(id)", headers: ["X-Sluice-User": "alice"]).json
            #expect(alice["metadata"] as? [String: String] == ["asked_by": "alice"])
        }
    }

    @Test func aResponseNotStoredIsNotReadAfterItEnds() async throws {
        try await TestNode.with { node in
            let reply = try await node.client.post("/v1/responses", json: Self.respond("private", extra: ["store": false]))
            #expect(reply.status == 200 && reply.json["status"] as? String == "completed")
            let id = try #require(reply.json["id"] as? String)
            #expect(try await node.client.get("/v1/responses/\(id)").status == 404)
            let next = try await node.client.post("/v1/responses", json: Self.respond("and then", extra: ["previous_response_id": id]))
            #expect(next.status == 404)
            let background = try await node.client.post("/v1/responses", json: Self.respond("later", extra: ["store": false, "background": true]))
            #expect(background.status == 400 && background.errorCode == "invalid_parameter")
        }
    }

    @Test func responsesRefuseWhatTheyCannotHonourByName() async throws {
        try await TestNode.with { node in
            let cases: [([String: Any], String)] = [
                (["tools": [["type": "function", "name": "f"]]], "tools"),
                (["text": ["format": ["type": "json_schema"]]], "text"),
                (["input": [["type": "function_call_output", "role": "user", "output": "x"]]], "input[0].type"),
                (["input": [], "model": "default"], "input"),
                (["max_output_tokens": 0], "max_output_tokens"),
                (["temperature": 3], "temperature"),
                (["metadata": ["k": 5]], "metadata"),
                (["previous_response_id": "job_123"], "previous_response_id"),
            ]
            for (extra, field) in cases {
                let reply = try await node.client.post("/v1/responses", json: Self.respond("q", extra: extra))
                #expect(reply.status == 400, "\(extra)")
                let message = ((reply.json["error"] as? [String: Any])?["message"] as? String) ?? ""
                #expect(message.contains(field), "\(extra): \(message)")
            }
            // Options that change nothing are taken.
            let plain = try await node.client.post("/v1/responses", json: Self.respond("q", extra: [
                "text": ["format": ["type": "text"]], "tools": [], "tool_choice": "auto", "truncation": "disabled", "parallel_tool_calls": true,
            ]))
            #expect(plain.status == 200, "\(plain.text)")
        }
    }

    @Test func aResponseTakesMessageItemsAndListsThemAsItsInput() async throws {
        try await TestNode.with { node in
            let input: [[String: Any]] = [
                ["role": "user", "content": "Сайн байна уу?"],
                ["type": "message", "role": "assistant", "content": [["type": "output_text", "text": "Сайн."]]],
                ["role": "user", "content": [["type": "input_text", "text": "Нар яагаад шар вэ?"]]],
            ]
            let reply = try await node.client.post("/v1/responses", json: ["model": "default", "input": input, "instructions": "Монголоор хариул."])
            let id = try #require(reply.json["id"] as? String)
            let items = try await node.client.get("/v1/responses/\(id)/input_items?order=asc").json
            let data = try #require(items["data"] as? [[String: Any]])
            #expect(data.map { $0["role"] as? String } == ["user", "assistant", "user"])
            #expect(data.compactMap { (($0["content"] as? [[String: Any]])?.first?["text"] as? String) } == ["Сайн байна уу?", "Сайн.", "Нар яагаад шар вэ?"])
            #expect(items["has_more"] as? Bool == false && items["first_id"] as? String == data.first?["id"] as? String)
            let page = try await node.client.get("/v1/responses/\(id)/input_items?limit=1").json
            #expect((page["data"] as? [[String: Any]])?.count == 1 && page["has_more"] as? Bool == true)
            #expect(try await node.client.get("/v1/responses/\(id)/input_items?limit=0").status == 400)
        }
    }

    @Test func aJobStreamThatHasSaidEverythingAnswers204() async throws {
        try await TestNode.with { node in
            let id = try await node.client.submit(chatBody("short"))
            let stream = try await node.client.events("/v1/jobs/\(id)/stream")
            #expect(stream.events.last?.name == "done")
            let last = try #require(stream.events.last?.seq)
            #expect(try await node.client.get("/v1/jobs/\(id)/stream", headers: ["Last-Event-ID": String(last)]).status == 204)
            #expect(try await node.client.events("/v1/jobs/\(id)/stream?after=\(last - 1)").events.count == 1)
            #expect(try await node.client.get("/v1/jobs/job_unknown/stream").status == 204)
        }
    }

    @Test func messagesTakeAnAnthropicKeyHeaderAndAnswerErrorsInAnthropicsShape() async throws {
        try await TrustTests.withNode { node, _, _ in
            let body: [String: Any] = ["model": "default", "max_tokens": 20, "messages": [["role": "user", "content": "hi"]], "mock": ["tokens": 3]]
            let keyed = try await node.client.post("/v1/messages", json: body, headers: ["x-api-key": "app-key-a", "anthropic-version": "2023-06-01"])
            #expect(keyed.status == 200 && keyed.json["type"] as? String == "message", "\(keyed.text)")
            let bearer = try await node.client.post("/v1/messages", json: body, headers: TrustTests.bearer("app-key-a"))
            #expect(bearer.status == 200)
            let wrong = try await node.client.post("/v1/messages", json: body, headers: ["x-api-key": "not-a-key"])
            #expect(wrong.status == 401)
            #expect(wrong.json["type"] as? String == "error")
            #expect((wrong.json["error"] as? [String: Any])?["type"] as? String == "authentication_error")
            // Other routes keep OpenAI's shape, and take the header too.
            let chat = try await node.client.post("/v1/chat/completions", json: chatBody("hi"), headers: ["x-api-key": "not-a-key"])
            #expect(chat.status == 401 && chat.errorCode == "invalid_api_key")
            #expect(try await node.client.post("/v1/chat/completions", json: chatBody("hi"), headers: ["x-api-key": "app-key-a"]).status == 200)
            // A message's job is resumable through the jobs stream, like any other.
            let id = try #require(keyed.headers["x-sluice-job-id"])
            let resumed = try await node.client.events("/v1/jobs/\(id)/stream", headers: ["x-api-key": "app-key-a"])
            #expect(resumed.events.last?.name == "done")
        }
    }

    /// Every front door that streams counts the stream before it makes a job: a stream refused leaves
    /// no job behind to run unseen and be charged.
    @Test func aStreamRefusedAtAnyFrontDoorLeavesNoJobBehind() async throws {
        try await TestNode.with(configure: { $0.admission.plans = ["free": AdmissionTests.plan { $0.maxStreams = 1 }] }) { node in
            let user = Principal(tenant: "local", user: "anonymous", role: "student", plan: "free").userKey
            let id = try await node.client.submit(AdmissionTests.job("long", extra: ["mock": ["tokens": 60, "tokens_per_second": 4]]))
            let held = Task { try await node.client.events("/v1/jobs/\(id)/stream", limit: 1_000, timeout: .seconds(60)) }
            defer { held.cancel() }
            try await eventually("one stream is open") { node.node.jobs.admission.openStreams(of: user) == 1 }
            let mock: [String: Any] = ["tokens": 3]
            let asks: [(String, [String: Any])] = [
                ("/v1/chat/completions", ["model": "default", "stream": true, "messages": [["role": "user", "content": "a"]], "mock": mock]),
                ("/v1/messages", ["model": "default", "stream": true, "max_tokens": 20, "messages": [["role": "user", "content": "b"]], "mock": mock]),
                ("/v1/responses", Self.respond("c", stream: true, mock: mock)),
            ]
            for (path, body) in asks {
                let refused = try await node.client.post(path, json: body)
                #expect(refused.status == 429 && refused.text.contains("too_many_streams"), "\(path): \(refused.text)")
            }
            let kept = try await node.node.jobs.store.history(.user(user), before: nil, since: nil, limit: 10)
            #expect(kept.map(\.id) == [id], "only the job whose stream is open exists")
            _ = try await node.client.delete("/v1/jobs/\(id)")
            #expect(node.node.mock.totalCalls == 1)
        }
    }

    @Test func embeddingsGoThroughAnOpenAICompatibleDeploymentAndRepeatsComeFromTheCache() async throws {
        try await FakeUpstream.with { upstream in
            try await FakeUpstream.with { claude in
                try await TestNode.with(configure: { configuration in
                    ProviderTests.configure(&configuration, [ProviderTests.deployment("embed", upstream), ProviderTests.deployment("claude", claude, kind: .anthropic)])
                    configuration.aliases = [ModelAlias(name: "vectors", deployments: ["embed"]), ModelAlias(name: "claude", deployments: ["claude"])]
                }) { node in
                    let body: [String: Any] = ["model": "vectors", "input": ["abc", "cab", "xyz"], "encoding_format": "float"]
                    let first = try await node.client.post("/v1/embeddings", json: body)
                    #expect(first.status == 200, "\(first.text)")
                    #expect(first.headers["x-sluice-cache"] == "miss")
                    let data = try #require(first.json["data"] as? [[String: Any]])
                    let vectors = data.compactMap { $0["embedding"] as? [Double] }
                    #expect(vectors.count == 3 && vectors[0].count == 26)
                    #expect(vectors[0] == vectors[1] && vectors[0] != vectors[2], "the upstream's vectors, in order")
                    #expect(upstream.received.count == 1)
                    let again = try await node.client.post("/v1/embeddings", json: ["model": "vectors", "input": "cab", "encoding_format": "base64"])
                    #expect(again.headers["x-sluice-cache"] == "exact")
                    #expect(upstream.received.count == 1, "a repeated input costs no call")
                    let packed = try #require(((again.json["data"] as? [[String: Any]])?.first?["embedding"] as? String).flatMap { Data(base64Encoded: $0) })
                    let floats = packed.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                    #expect(floats.map(Double.init).enumerated().allSatisfy { abs($1 - vectors[1][$0]) < 1e-6 })
                    // Another tenant's cache is its own: counted per tenant (here: the same local tenant, so still cached).
                    let models = try await node.client.get("/v1/models").json
                    let capabilities = Dictionary(uniqueKeysWithValues: ((models["data"] as? [[String: Any]]) ?? []).map {
                        ($0["id"] as? String ?? "", ($0["capabilities"] as? [String: Bool])?["embeddings"] ?? false)
                    })
                    #expect(capabilities == ["vectors": true, "claude": false])
                    let refused = try await node.client.post("/v1/embeddings", json: ["model": "claude", "input": "abc"])
                    #expect(refused.status == 400 && refused.errorCode == "invalid_parameter")
                    #expect(try await node.client.post("/v1/embeddings", json: ["model": "vectors", "input": []]).status == 400)
                    #expect(try await node.client.post("/v1/embeddings", json: ["model": "vectors", "input": "a", "dimensions": 0]).status == 400)
                }
            }
        }
    }
}

@Suite struct EmbeddingsAdmissionTests {
    @Test func embeddingsAreChargedTheirTokensAgainstTheDailyQuota() async throws {
        try await TestNode.with(configure: { configuration in
            var plan = Plan(name: "free")
            plan.requestsPerMinute = nil
            plan.tierRequestsPerMinute = [:]
            plan.tokensPerDay = 60
            configuration.admission.plans = ["free": plan]
        }) { node in
            let words = (1...20).map { "word\($0)" }.joined(separator: " ")
            let first = try await node.client.post("/v1/embeddings", json: ["model": "default", "input": words])
            #expect(first.status == 200, "\(first.text)")
            let used = try #require((first.json["usage"] as? [String: Any])?["prompt_tokens"] as? Int)
            #expect(used > 25)
            // Another input would pass the day's tokens: refused before any call.
            let second = try await node.client.post("/v1/embeddings", json: ["model": "default", "input": words + " more"])
            #expect(second.status == 429 && second.errorCode == "quota_exceeded", "\(second.text)")
            // The same input again is served from the cache, costing no tokens.
            let again = try await node.client.post("/v1/embeddings", json: ["model": "default", "input": words])
            #expect(again.status == 200 && again.headers["x-sluice-cache"] == "exact")
        }
    }
}
