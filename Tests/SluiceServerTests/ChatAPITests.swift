import Foundation
import NIOHTTP1
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore
import SluiceTesting
import Testing

@Suite struct ChatAPITests {
    @Test func nonStreamingCompletionHasOpenAIShapeAndUsage() async throws {
        try await TestNode.with { node in
            let reply = try await node.client.post("/v1/chat/completions", json: chatBody("why does light bend?", extra: ["future_field": 1, "temperature": 0.2]))
            #expect(reply.status == 200)
            #expect(reply.headers["x-sluice-job-id"]?.hasPrefix("job_") == true)
            #expect(reply.headers["x-sluice-cache"] == "miss")
            let json = reply.json
            #expect(json["object"] as? String == "chat.completion")
            #expect((json["id"] as? String)?.hasPrefix("chatcmpl-") == true)
            let choice = (json["choices"] as? [[String: Any]])?.first
            let message = choice?["message"] as? [String: Any]
            #expect(message?["role"] as? String == "assistant")
            #expect((message?["content"] as? String)?.split(separator: " ").count == 6)
            #expect(choice?["finish_reason"] as? String == "stop")
            let usage = json["usage"] as? [String: Int]
            #expect(usage?["completion_tokens"] == 6)
            #expect(usage?["total_tokens"] == (usage?["prompt_tokens"] ?? 0) + 6)
        }
    }

    @Test func streamingCompletionCarriesIdsJobIdUsageAndDone() async throws {
        try await TestNode.with { node in
            let body = chatBody("why does light bend?", stream: true, extra: ["stream_options": ["include_usage": true]])
            let stream = try await node.client.events("/v1/chat/completions", method: .POST, json: body)
            #expect(stream.status == 200)
            #expect(stream.headers["content-type"] == "text/event-stream; charset=utf-8")
            #expect(stream.headers["x-accel-buffering"] == "no")
            let jobID = try #require(stream.headers["x-sluice-job-id"])
            #expect(stream.events.last?.data == "[DONE]")
            let chunks = stream.events.dropLast().map(\.json)
            #expect(chunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
            let deltas = chunks.compactMap { (($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any]) }
            #expect(deltas.first?["role"] as? String == "assistant")
            let text = deltas.compactMap { $0["content"] as? String }.joined()
            #expect(text.split(separator: " ").count == 6)
            let usage = chunks.last?["usage"] as? [String: Int]
            #expect(usage?["completion_tokens"] == 6)
            let ids = stream.events.dropLast().compactMap(\.seq)
            #expect(ids.first == 1 && ids == ids.sorted())
            // The same answer can be read again through the jobs stream with the id from the header.
            let again = try await node.client.events("/v1/jobs/\(jobID)/stream")
            #expect(again.answer == text)
        }
    }

    @Test func modelsListsTheAliases() async throws {
        try await TestNode.with { node in
            let reply = try await node.client.get("/v1/models")
            let ids = (reply.json["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
            #expect(reply.status == 200)
            #expect(ids == ["default", "mock"])
        }
    }

    @Test func theWebPageIsServed() async throws {
        try await TestNode.with { node in
            let reply = try await node.client.get("/")
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"]?.hasPrefix("text/html") == true)
            // The page's script speaks the jobs API through the client library.
            #expect(reply.text.contains("/assets/chat.js"))
            #expect(try await node.client.get("/sluice.js").text.contains("/v1/jobs"))
        }
    }
}
