import Foundation
import Logging
import NIOHTTP1
import ServiceLifecycle
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore
import SluiceTesting
import Testing

/// `sluice mock-upstream`: the mock provider as a standalone OpenAI-compatible server.
@Suite struct MockUpstreamTests {
    func withUpstream(_ body: (HTTPTestClient) async throws -> Void) async throws {
        var logger = Logger(label: "test.mock-upstream")
        logger.logLevel = .warning
        let upstream = MockUpstream(host: "127.0.0.1", port: 0, configuration: .init(ttftMs: 5, tokensPerSecond: 0, tokens: 10), logger: logger)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let group = ServiceGroup(configuration: .init(services: [.init(service: upstream.service { continuation.yield($0) })], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            do {
                try await body(HTTPTestClient(baseURL: "http://127.0.0.1:\(port)"))
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func answersInOpenAIFormatsStreamedAndNot() async throws {
        try await withUpstream { client in
            let plain = try await client.post("/v1/chat/completions", json: ["model": "gpt-4o", "messages": [["role": "user", "content": "hi"]]])
            #expect(plain.status == 200)
            let text = (((plain.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String) ?? ""
            #expect(text.split(separator: " ").count == 10)
            let stream = try await client.events(
                "/v1/chat/completions", method: .POST,
                json: ["model": "gpt-4o", "stream": true, "messages": [["role": "user", "content": "hi"]]])
            #expect(stream.events.last?.data == "[DONE]")
            let streamed = stream.events.dropLast().compactMap {
                (($0.json["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String
            }.joined()
            #expect(streamed == text)
        }
    }

    @Test func scriptedToolCallsStreamInFragmentsWithTheirIndexes() async throws {
        try await withUpstream { client in
            let body: [String: Any] = [
                "model": "gpt-4o", "stream": true, "messages": [["role": "user", "content": "find it"]],
                "mock": ["tool_calls": [["name": "search", "arguments": "{\"q\": \"light\"}"], ["name": "open", "arguments": "{}"]], "argument_chunk": 4],
            ]
            let stream = try await client.events("/v1/chat/completions", method: .POST, json: body)
            let calls = stream.events.dropLast().flatMap {
                ((($0.json["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["tool_calls"] as? [[String: Any]]) ?? []
            }
            #expect(calls.map { $0["index"] as? Int ?? -1 } == [0, 0, 0, 0, 0, 1, 1])
            #expect(calls.compactMap { ($0["function"] as? [String: Any])?["arguments"] as? String } == ["", "{\"q\"", ": \"l", "ight", "\"}", "", "{}"])
            let finish = stream.events.compactMap { ($0.json["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
            #expect(finish == ["tool_calls"])
        }
    }

    @Test func scriptedFailuresReachTheClient() async throws {
        try await withUpstream { client in
            let failed = try await client.post(
                "/v1/chat/completions", json: ["model": "mock", "messages": [["role": "user", "content": "hi"]], "mock": ["fail": "status:503"]])
            #expect(failed.status == 503)
            #expect(failed.json["error"] != nil)
            let cut = try await client.events(
                "/v1/chat/completions", method: .POST,
                json: ["model": "mock", "stream": true, "messages": [["role": "user", "content": "hi"]], "mock": ["tokens": 8, "fail": "after:3"]])
            #expect(cut.events.count == 4)
            #expect(cut.events.last?.json["error"] != nil)
            #expect(!cut.events.contains { $0.data == "[DONE]" })
        }
    }
}
