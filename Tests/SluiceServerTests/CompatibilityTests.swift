import Foundation
import NIOHTTP1
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceTesting
import Testing

/// OpenAI compatibility in full: every field of a request reaches the provider as the app wrote it, and
/// every field of the provider's answer reaches the app — through the official SDK, streamed and not,
/// through the jobs API and a resume in the middle of a tool call, and through the cache.
@Suite struct CompatibilityTests {
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/openai_compat_check.py").path

    // MARK: The provider's answers, as its own bytes

    static func json(_ object: Any) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
    }

    static func chunk(_ choices: [[String: Any]], usage: [String: Any]? = nil) -> String {
        var object: [String: Any] = [
            "id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": "up", "system_fingerprint": "fp_test", "choices": choices,
        ]
        if let usage { object["usage"] = usage }
        return json(object)
    }

    static func choice(_ delta: [String: Any], index: Int = 0, finish: String? = nil, logprobs: Any = NSNull()) -> [String: Any] {
        ["index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish ?? NSNull()]
    }

    static var usage: [String: Any] { [
        "prompt_tokens": 20, "completion_tokens": 15, "total_tokens": 35,
        "prompt_tokens_details": ["cached_tokens": 4], "completion_tokens_details": ["reasoning_tokens": 2],
    ] }

    static func completion(_ choices: [[String: Any]]) -> String {
        json(["id": "chatcmpl-up", "object": "chat.completion", "created": 1, "model": "up", "system_fingerprint": "fp_test", "choices": choices, "usage": usage])
    }

    static func ending(_ finish: String = "stop") -> [String] {
        [chunk([choice(["content": ""], finish: finish)]), chunk([], usage: usage), "[DONE]"]
    }

    static func text(_ text: String) -> FakeUpstream.Behavior {
        let pieces = text.wordPieces
        return .raw(
            events: [chunk([choice(["role": "assistant", "content": ""])])] + pieces.map { chunk([choice(["content": $0])]) } + ending(),
            body: completion([["index": 0, "message": ["role": "assistant", "content": text], "logprobs": NSNull(), "finish_reason": "stop"]]))
    }

    static let toolCalls: FakeUpstream.Behavior = {
        func call(_ index: Int, _ fields: [String: Any]) -> [String: Any] { ["tool_calls": [fields.merging(["index": index]) { $1 }]] }
        let events = [
            chunk([choice(["role": "assistant", "content": NSNull()].merging(call(0, ["id": "call_abc", "type": "function", "function": ["name": "get_weather", "arguments": ""]])) { $1 })]),
            chunk([choice(call(0, ["function": ["arguments": "{\"city\""]]))]),
            chunk([choice(call(0, ["function": ["arguments": ": \"Ulaan"]]))]),
            chunk([choice(call(0, ["function": ["arguments": "baatar\"}"]]))]),
            chunk([choice(call(1, ["id": "call_def", "type": "function", "function": ["name": "get_time", "arguments": ""]]))]),
            chunk([choice(call(1, ["function": ["arguments": "{\"tz\": \"UB\"}"]]))]),
        ] + ending("tool_calls")
        let message: [String: Any] = ["role": "assistant", "content": NSNull(), "refusal": NSNull(), "tool_calls": [
            ["id": "call_abc", "type": "function", "function": ["name": "get_weather", "arguments": "{\"city\": \"Ulaanbaatar\"}"]],
            ["id": "call_def", "type": "function", "function": ["name": "get_time", "arguments": "{\"tz\": \"UB\"}"]],
        ]]
        return .raw(events: events, body: completion([["index": 0, "message": message, "logprobs": NSNull(), "finish_reason": "tool_calls"]]))
    }()

    static let logprobs: FakeUpstream.Behavior = {
        func entry(_ token: String, _ logprob: Double) -> [String: Any] {
            let alternatives: [[String: Any]] = [
                ["token": token, "logprob": logprob, "bytes": Array(token.utf8).map(Int.init)],
                ["token": "x", "logprob": logprob - 2, "bytes": [120]],
            ]
            return ["token": token, "logprob": logprob, "bytes": Array(token.utf8).map(Int.init), "top_logprobs": alternatives]
        }
        let events = [
            chunk([choice(["role": "assistant", "content": "Hello"], logprobs: ["content": [entry("Hello", -0.1)], "refusal": NSNull()])]),
            chunk([choice(["content": " there"], logprobs: ["content": [entry(" there", -0.3)], "refusal": NSNull()])]),
        ] + ending()
        return .raw(events: events, body: completion([[
            "index": 0, "message": ["role": "assistant", "content": "Hello there"],
            "logprobs": ["content": [entry("Hello", -0.1), entry(" there", -0.3)]], "finish_reason": "stop",
        ]]))
    }()

    static let refusal: FakeUpstream.Behavior = .raw(
        events: [
            chunk([choice(["role": "assistant", "content": NSNull(), "refusal": ""])]),
            chunk([choice(["refusal": "I can't "])]), chunk([choice(["refusal": "help with that."])]),
        ] + ending(),
        body: completion([["index": 0, "message": ["role": "assistant", "content": NSNull(), "refusal": "I can't help with that."], "finish_reason": "stop"]]))

    static let twoChoices: FakeUpstream.Behavior = .raw(
        events: [
            chunk([choice(["role": "assistant", "content": "First"]), choice(["role": "assistant", "content": "Second"], index: 1)]),
            chunk([choice(["content": " idea."])]), chunk([choice(["content": " idea."], index: 1)]),
            chunk([choice([:], index: 1, finish: "length")]),
        ] + ending(),
        body: completion([
            ["index": 0, "message": ["role": "assistant", "content": "First idea."], "finish_reason": "stop"],
            ["index": 1, "message": ["role": "assistant", "content": "Second idea."], "finish_reason": "length"],
        ]))

    static func script(_ fake: FakeUpstream) {
        fake.answer(containing: "[tools]", with: toolCalls)
        fake.answer(containing: "[tool-result]", with: text("It is sunny in Ulaanbaatar."))
        fake.answer(containing: "[image]", with: text("A right triangle."))
        fake.answer(containing: "[json]", with: text("{\"steps\": [\"a\", \"b\"]}"))
        fake.answer(containing: "[schema]", with: text("{\"answer\": 42}"))
        fake.answer(containing: "[logprobs]", with: logprobs)
        fake.answer(containing: "[refusal]", with: refusal)
        fake.answer(containing: "[n2]", with: twoChoices)
        fake.answer(containing: "[cache]", with: text("Because of Rayleigh scattering."))
    }

    static func configure(_ configuration: inout SluiceConfiguration, _ fake: FakeUpstream) {
        ProviderTests.configure(&configuration, [
            ProviderTests.deployment("streamed", fake),
            ProviderTests.deployment("whole", fake) { $0.streaming = false },
        ])
        configuration.aliases = [
            ModelAlias(name: "gpt", deployments: ["streamed"]), ModelAlias(name: "gpt-whole", deployments: ["whole"]),
        ]
    }

    /// What the provider received for the request whose body holds `tag` (the first such request).
    static func sent(_ fake: FakeUpstream, _ tag: String, model: String) throws -> [String: Any] {
        let matching = fake.received.filter { $0.json["model"] as? String == model && String(decoding: $0.body, as: UTF8.self).contains(tag) }
        return try #require(matching.first, "nothing reached the provider for \(tag)").json
    }

    static func same(_ a: Any?, _ b: Any) -> Bool {
        guard let a else { return false }
        return json(["v": a]) == json(["v": b])
    }

    // MARK: Tests

    @Test(arguments: ["gpt", "gpt-whole"]) func theOfficialSDKGetsEveryFieldBothWays(model: String) async throws {
        try await FakeUpstream.with { fake in
            Self.script(fake)
            try await TestNode.with(configure: { Self.configure(&$0, fake) }) { node in
                let (status, output) = try await OpenAISDKTests.python([Self.script, "http://127.0.0.1:\(node.port)/v1", model])
                #expect(status == 0, "\(output)")
                #expect(output.contains("openai-compat-check: ok"), "\(output)")

                let upstream = model == "gpt" ? "streamed-model" : "whole-model"
                let tools = try Self.sent(fake, "What is the weather? [tools]", model: upstream)
                let expected: [String: Any] = [
                    "tool_choice": "auto", "parallel_tool_calls": true, "seed": 7, "stop": ["\n\nEND"], "temperature": 0.3, "top_p": 0.9,
                    "frequency_penalty": 0.1, "presence_penalty": 0.2, "logit_bias": ["50256": -100], "max_completion_tokens": 100,
                    "metadata": ["lesson": "weather"], "stream": model == "gpt",
                ]
                for (field, value) in expected { #expect(Self.same(tools[field], value), "\(field): \(tools[field] ?? "absent")") }
                let names = (tools["tools"] as? [[String: Any]])?.compactMap { ($0["function"] as? [String: Any])?["name"] as? String }
                #expect(names == ["get_weather", "get_time"])
                #expect(Self.same(((tools["tools"] as? [[String: Any]])?.first?["function"] as? [String: Any])?["parameters"],
                                  ["type": "object", "properties": ["city": ["type": "string"]], "required": ["city"]]))
                #expect(tools["user"] == nil && tools["mock"] == nil && tools["max_tokens"] == nil)
                #expect(tools["model"] as? String == upstream)
                // Two asks reached the provider; the two repeats were answered by the cache.
                #expect(fake.received.filter { $0.json["model"] as? String == upstream && String(decoding: $0.body, as: UTF8.self).contains("[tools]") }.count == 2)

                let conversation = try #require(try Self.sent(fake, "[tool-result]", model: upstream)["messages"] as? [[String: Any]])
                #expect(conversation.count == 3)
                #expect(conversation[1]["content"] is NSNull)
                #expect(Self.same(conversation[1]["tool_calls"], [
                    ["id": "call_abc", "type": "function", "function": ["name": "get_weather", "arguments": "{\"city\": \"Ulaanbaatar\"}"]],
                ]))
                #expect(conversation[2]["role"] as? String == "tool" && conversation[2]["tool_call_id"] as? String == "call_abc")
                #expect(conversation[2]["content"] as? String == "sunny, 21 C")

                let image = try #require((try Self.sent(fake, "[image]", model: upstream)["messages"] as? [[String: Any]])?.first)
                let parts = try #require(image["content"] as? [[String: Any]])
                #expect(parts.map { $0["type"] as? String ?? "" } == ["text", "image_url", "image_url"])
                #expect(((parts[1]["image_url"] as? [String: Any])?["url"] as? String)?.hasPrefix("data:image/png;base64,iVBOR") == true)
                #expect(Self.same(parts[2]["image_url"], ["url": "https://example.com/triangle.png", "detail": "high"]))

                #expect(Self.same(try Self.sent(fake, "[json]", model: upstream)["response_format"], ["type": "json_object"]))
                #expect((try Self.sent(fake, "[schema]", model: upstream)["response_format"] as? [String: Any])?["type"] as? String == "json_schema")
                let logprobs = try Self.sent(fake, "[logprobs]", model: upstream)
                #expect(logprobs["logprobs"] as? Bool == true && logprobs["top_logprobs"] as? Int == 2)
                #expect(try Self.sent(fake, "[n2]", model: upstream)["n"] as? Int == 2)
                // The plain question, then five that differ in one option each: six calls; the repeats were hits.
                #expect(fake.received.filter { $0.json["model"] as? String == upstream && String(decoding: $0.body, as: UTF8.self).contains("[cache]") }.count == 6)
            }
        }
    }

    @Test func aJobKeepsItsToolCallsAndAResumeInTheMiddleOfTheArgumentsContinuesExactly() async throws {
        try await FakeUpstream.with { fake in
            Self.script(fake)
            try await TestNode.with(configure: { Self.configure(&$0, fake) }) { node in
                let id = try await node.client.submit(["model": "gpt", "messages": [["role": "user", "content": "Weather job [tools]"]], "tools": [
                    ["type": "function", "function": ["name": "get_weather", "parameters": ["type": "object"]]],
                ]])
                let job = try await node.client.waitForJob(id, states: ["succeeded"])
                let result = try #require(job["result"] as? [String: Any])
                #expect(result["finish_reason"] as? String == "tool_calls")
                #expect(result["system_fingerprint"] as? String == "fp_test")
                let message = ((result["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any]) ?? [:]
                let calls = (message["tool_calls"] as? [[String: Any]]) ?? []
                #expect(calls.map { ($0["function"] as? [String: Any])?["arguments"] as? String ?? "" } == ["{\"city\": \"Ulaanbaatar\"}", "{\"tz\": \"UB\"}"])
                #expect((result["usage"] as? [String: Any]).map { Self.same($0["prompt_tokens_details"], ["cached_tokens": 4]) } == true)

                let whole = try await node.client.events("/v1/jobs/\(id)/stream")
                #expect(whole.events.map(\.name) == Array(repeating: "choice", count: 6) + ["done"])
                let fragments = whole.events.compactMap { event -> String? in
                    let call = ((event.json["delta"] as? [String: Any])?["tool_calls"] as? [[String: Any]])?.first
                    return (call?["function"] as? [String: Any])?["arguments"] as? String
                }
                #expect(fragments == ["", "{\"city\"", ": \"Ulaan", "baatar\"}", "", "{\"tz\": \"UB\"}"])
                // Resume after the second fragment of the first call's arguments: exactly what followed.
                let middle = try #require(whole.events[2].seq)
                let rest = try await node.client.events("/v1/jobs/\(id)/stream", headers: ["Last-Event-ID": String(middle)])
                #expect(rest.events.map(\.data) == whole.events.dropFirst(3).map(\.data))
                #expect(rest.ids == whole.ids.filter { $0 > middle })
            }
        }
    }

    @Test func aLiveStreamDroppedInTheMiddleOfAToolCallResumesExactly() async throws {
        try await TestNode.with { node in
            let arguments = "{\"question\": \"why is the sky blue?\", \"grade\": 7}"
            let body: [String: Any] = [
                "model": "default", "stream": true, "messages": [["role": "user", "content": "search please"]],
                "tools": [["type": "function", "function": ["name": "search", "parameters": ["type": "object"]]]],
                "mock": ["tool_calls": [["name": "search", "arguments": arguments]], "argument_chunk": 5, "tokens_per_second": 40],
            ]
            let first = try await node.client.events("/v1/chat/completions", method: .POST, json: body, limit: 4)
            let id = try #require(first.headers["x-sluice-job-id"])
            let last = try #require(first.events.last?.seq)
            let rest = try await node.client.events("/v1/jobs/\(id)/stream", headers: ["Last-Event-ID": String(last)])
            func fragments(_ events: [[String: Any]]) -> String {
                events.compactMap { delta in
                    ((delta["tool_calls"] as? [[String: Any]])?.first?["function"] as? [String: Any])?["arguments"] as? String
                }.joined()
            }
            let before = first.events.compactMap { (($0.json["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any]) }
            let after = rest.events.filter { $0.name == "choice" }.compactMap { $0.json["delta"] as? [String: Any] }
            #expect(!fragments(before).isEmpty && fragments(before).count < arguments.count, "the first read stopped inside the arguments")
            #expect(fragments(before) + fragments(after) == arguments)
            #expect(rest.events.last?.name == "done")
            #expect((rest.events.last?.json["finish_reason"] as? String) == "tool_calls")
        }
    }

    @Test func theSemanticCacheServesPlainQuestionsOnlyAndSizeGuardsCountImagesAndTools() async throws {
        try await TestNode.with(configure: { $0.admission.plans["free"]?.maxPromptBytes = 2000 }) { node in
            let tools: [[String: Any]] = [["type": "function", "function": ["name": "lookup", "parameters": ["type": "object"]]]]
            let original = try await node.client.post("/v1/chat/completions", json: chatBody("Why does light bend when it enters water?"))
            #expect(original.headers["x-sluice-cache"] == "miss")
            #expect(try await node.client.post("/v1/chat/completions", json: chatBody("why does light bend entering water")).headers["x-sluice-cache"] == "semantic")
            // The same paraphrase with tools, a response format or two choices is another question: the provider answers it.
            for extra: [String: Any] in [["tools": tools], ["response_format": ["type": "json_object"]], ["n": 2]] {
                let reply = try await node.client.post("/v1/chat/completions", json: chatBody("why does light bend entering water", extra: extra))
                #expect(reply.headers["x-sluice-cache"] == "miss", "\(extra.keys)")
            }
            // An answer with tool calls is served under its exact key only, never to a paraphrase.
            let calls: [String: Any] = ["tool_calls": [["name": "lookup", "arguments": "{}"]]]
            _ = try await node.client.post("/v1/chat/completions", json: chatBody("Which planet is the largest one?", mock: calls))
            #expect(try await node.client.post("/v1/chat/completions", json: chatBody("Which planet is the largest one?", mock: calls)).headers["x-sluice-cache"] == "exact")
            #expect(try await node.client.post("/v1/chat/completions", json: chatBody("which planet is largest", mock: calls)).headers["x-sluice-cache"] == "miss")
            // A big image or big tool definitions count against the plan's prompt size, not only the text.
            let image: [String: Any] = ["messages": [["role": "user", "content": [
                ["type": "text", "text": "what is this?"], ["type": "image_url", "image_url": ["url": "data:image/png;base64," + String(repeating: "A", count: 3000)]],
            ]]]]
            let big = try await node.client.post("/v1/chat/completions", json: chatBody("x", extra: image))
            #expect(big.status == 400 && big.errorCode == "prompt_too_large", "\(big.text)")
            let manyTools = Array(repeating: tools[0], count: 40)
            let heavy = try await node.client.post("/v1/chat/completions", json: chatBody("short", extra: ["tools": manyTools]))
            #expect(heavy.status == 400 && heavy.errorCode == "prompt_too_large", "\(heavy.text)")
        }
    }

    @Test func theMockScriptsToolCallsJSONRefusalsLogprobsAndChoices() async throws {
        try await TestNode.with { node in
            func ask(_ extra: [String: Any]) async throws -> [String: Any] {
                let reply = try await node.client.post("/v1/chat/completions", json: chatBody("mock me", mock: extra["mock"] as? [String: Any] ?? ["tokens": 3], extra: extra.filter { $0.key != "mock" }))
                #expect(reply.status == 200, "\(reply.text)")
                return reply.json
            }
            func first(_ reply: [String: Any]) -> [String: Any] { ((reply["choices"] as? [[String: Any]])?.first) ?? [:] }
            let tools = try await ask(["mock": ["tool_calls": [["name": "f", "arguments": "{\"a\": 1}"]]]])
            #expect(first(tools)["finish_reason"] as? String == "tool_calls")
            #expect(Self.same((first(tools)["message"] as? [String: Any])?["tool_calls"], [["id": "call_mock_0", "type": "function", "function": ["name": "f", "arguments": "{\"a\": 1}"]]]))
            let json = try await ask(["response_format": ["type": "json_object"]])
            let content = ((first(json)["message"] as? [String: Any])?["content"] as? String) ?? ""
            #expect((try? JSONSerialization.jsonObject(with: Data(content.utf8))) is [String: Any], "\(content)")
            let refusal = try await ask(["mock": ["refusal": "No, thank you."]])
            #expect((first(refusal)["message"] as? [String: Any])?["refusal"] as? String == "No, thank you.")
            let logprobs = try await ask(["logprobs": true, "top_logprobs": 2])
            let entries = ((first(logprobs)["logprobs"] as? [String: Any])?["content"] as? [[String: Any]]) ?? []
            #expect(entries.count == 3 && (entries.first?["top_logprobs"] as? [Any])?.count == 2)
            let two = try await ask(["n": 2])
            #expect((two["choices"] as? [[String: Any]])?.count == 2)
        }
    }
}
