import Foundation
import NIOHTTP1
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceTesting
import Testing

/// The Anthropic provider speaks OpenAI's fields both ways: tools and tool results, images, stop
/// sequences and JSON schemas; what it cannot express is refused by name before anything is sent.
@Suite struct AnthropicMappingTests {
    @Test func anthropicMapsToolsImagesStopAndSchemasBothWays() async throws {
        try await FakeUpstream.with { fake in
            func event(_ object: [String: Any]) -> String { CompatibilityTests.json(object) }
            let stream = [
                event(["type": "message_start", "message": ["usage": ["input_tokens": 30, "cache_read_input_tokens": 6, "output_tokens": 1]]]),
                event(["type": "content_block_start", "index": 0, "content_block": ["type": "text", "text": ""]]),
                event(["type": "content_block_delta", "index": 0, "delta": ["type": "text_delta", "text": "Let me check."]]),
                event(["type": "content_block_stop", "index": 0]),
                event(["type": "content_block_start", "index": 1, "content_block": ["type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": [:]]]),
                event(["type": "content_block_delta", "index": 1, "delta": ["type": "input_json_delta", "partial_json": "{\"city\": "]]),
                event(["type": "content_block_delta", "index": 1, "delta": ["type": "input_json_delta", "partial_json": "\"Ulaanbaatar\"}"]]),
                event(["type": "content_block_stop", "index": 1]),
                event(["type": "message_delta", "delta": ["stop_reason": "tool_use"], "usage": ["output_tokens": 20]]),
                event(["type": "message_stop"]),
            ]
            let message = event([
                "type": "message", "role": "assistant", "stop_reason": "tool_use", "usage": ["input_tokens": 30, "output_tokens": 20],
                "content": [["type": "text", "text": "Let me check."], ["type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": ["city": "Ulaanbaatar"]]],
            ])
            fake.answer(containing: "[anthropic-tools]", with: .raw(events: stream, body: message))
            let schemaStream = [
                event(["type": "message_start", "message": ["usage": ["input_tokens": 12, "output_tokens": 1]]]),
                event(["type": "content_block_start", "index": 0, "content_block": ["type": "tool_use", "id": "toolu_2", "name": "answer", "input": [:]]]),
                event(["type": "content_block_delta", "index": 0, "delta": ["type": "input_json_delta", "partial_json": "{\"answer\": 42}"]]),
                event(["type": "message_delta", "delta": ["stop_reason": "tool_use"], "usage": ["output_tokens": 5]]),
                event(["type": "message_stop"]),
            ]
            fake.answer(containing: "[anthropic-schema]", with: .raw(events: schemaStream, body: "{}"))
            try await TestNode.with(configure: {
                ProviderTests.configure(&$0, [ProviderTests.deployment("claude", fake, kind: .anthropic)], alias: "claude")
            }) { node in
                let png = "data:image/png;base64,iVBORw0KGgo="
                let request: [String: Any] = [
                    "model": "claude", "stop": "END", "tool_choice": "required", "parallel_tool_calls": false,
                    "tools": [["type": "function", "function": ["name": "get_weather", "description": "Weather", "parameters": ["type": "object", "properties": ["city": ["type": "string"]]]]]],
                    "messages": [
                        ["role": "system", "content": "You are a tutor."],
                        ["role": "user", "content": [
                            ["type": "text", "text": "What is here?"], ["type": "image_url", "image_url": ["url": png]],
                            ["type": "image_url", "image_url": ["url": "https://example.com/a.png"]],
                        ]],
                        ["role": "assistant", "content": NSNull(), "tool_calls": [["id": "call_1", "type": "function", "function": ["name": "get_weather", "arguments": "{\"city\": \"Darkhan\"}"]]]],
                        ["role": "tool", "tool_call_id": "call_1", "content": "rain"],
                        ["role": "user", "content": "And in the capital? [anthropic-tools]"],
                    ],
                ]
                let reply = try await node.client.post("/v1/chat/completions", json: request)
                #expect(reply.status == 200, "\(reply.text)")
                let choice = ((reply.json["choices"] as? [[String: Any]])?.first) ?? [:]
                #expect(choice["finish_reason"] as? String == "tool_calls")
                let answer = (choice["message"] as? [String: Any]) ?? [:]
                #expect(answer["content"] as? String == "Let me check.")
                #expect(CompatibilityTests.same(answer["tool_calls"], [["id": "toolu_1", "type": "function", "function": ["name": "get_weather", "arguments": "{\"city\": \"Ulaanbaatar\"}"]]]))
                #expect(CompatibilityTests.same((reply.json["usage"] as? [String: Any])?["prompt_tokens_details"], ["cached_tokens": 6]))

                let sent = try #require(fake.received.first).json
                #expect(CompatibilityTests.same(sent["tools"], [["name": "get_weather", "description": "Weather", "input_schema": ["type": "object", "properties": ["city": ["type": "string"]]]]]))
                #expect(CompatibilityTests.same(sent["tool_choice"], ["type": "any", "disable_parallel_tool_use": true]))
                #expect(CompatibilityTests.same(sent["stop_sequences"], ["END"]))
                let turns = (sent["messages"] as? [[String: Any]]) ?? []
                #expect(turns.map { $0["role"] as? String ?? "" } == ["user", "assistant", "user"])
                #expect(CompatibilityTests.same(turns.first?["content"], [
                    ["type": "text", "text": "What is here?"],
                    ["type": "image", "source": ["type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="]],
                    ["type": "image", "source": ["type": "url", "url": "https://example.com/a.png"]],
                ]))
                #expect(CompatibilityTests.same(turns[1]["content"], [["type": "tool_use", "id": "call_1", "name": "get_weather", "input": ["city": "Darkhan"]]]))
                #expect(CompatibilityTests.same(turns[2]["content"], [
                    ["type": "tool_result", "tool_use_id": "call_1", "content": "rain"], ["type": "text", "text": "And in the capital? [anthropic-tools]"],
                ]))

                // Structured output through a forced tool: the tool's input is the answer's text.
                let schema: [String: Any] = [
                    "model": "claude", "stream": true, "messages": [["role": "user", "content": "The answer? [anthropic-schema]"]],
                    "response_format": ["type": "json_schema", "json_schema": ["name": "answer", "schema": ["type": "object", "properties": ["answer": ["type": "integer"]]]]],
                ]
                let streamed = try await node.client.events("/v1/chat/completions", method: .POST, json: schema)
                let text = streamed.events.compactMap { (($0.json["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String }.joined()
                #expect(text == "{\"answer\": 42}")
                let finish = streamed.events.compactMap { ($0.json["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
                #expect(finish == ["stop"])
                let forced = try #require(fake.received.last).json
                #expect(CompatibilityTests.same(forced["tool_choice"], ["type": "tool", "name": "answer"]))
                #expect(((forced["tools"] as? [[String: Any]])?.first?["name"] as? String) == "answer")

                // What Anthropic cannot express is refused by name before anything is queued or sent.
                let calls = fake.received.count
                for (extra, field) in [
                    (["logprobs": true] as [String: Any], "logprobs"), (["n": 2], "n"), (["seed": 3], "seed"), (["temperature": 1.5], "temperature"),
                    (["messages": [["role": "user", "content": [["type": "input_audio", "input_audio": ["data": "AAAA", "format": "wav"]]]]]], "messages[0].content[0]"),
                ] {
                    let body = ["model": "claude", "messages": [["role": "user", "content": "hi"]]].merging(extra) { $1 }
                    let refused = try await node.client.post("/v1/chat/completions", json: body)
                    #expect(refused.status == 400 && refused.errorCode == "unsupported_parameter", "\(field): \(refused.status) \(refused.text)")
                    #expect(((refused.json["error"] as? [String: Any])?["message"] as? String)?.contains("'\(field)'") == true, "\(refused.text)")
                }
                #expect(fake.received.count == calls)
            }
        }
    }
}
