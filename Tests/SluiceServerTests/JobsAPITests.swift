import Foundation
import NIOHTTP1
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore
import SluiceTesting
import Testing

@Suite struct JobsAPITests {
    @Test func submitReadAndStreamAJob() async throws {
        try await TestNode.with { node in
            let reply = try await node.client.post("/v1/jobs", json: chatBody("explain refraction", mock: ["tokens": 8]))
            #expect(reply.status == 202)
            let id = try #require(reply.json["id"] as? String)
            #expect(reply.json["stream_url"] as? String == "/v1/jobs/\(id)/stream")
            #expect(["queued", "running", "succeeded"].contains(reply.json["state"] as? String ?? ""))
            let stream = try await node.client.events("/v1/jobs/\(id)/stream")
            #expect(stream.retry == 3000)
            #expect(stream.events.map(\.name) == Array(repeating: "delta", count: 8) + ["done"])
            #expect(stream.ids == Array(1...9))
            let done = stream.events.last!.json
            #expect(done["finish_reason"] as? String == "stop")
            #expect(done["cache"] as? String == "miss")
            let job = try await node.client.get("/v1/jobs/\(id)").json
            #expect(job["state"] as? String == "succeeded")
            #expect(job["attempt"] as? Int == 1)
            #expect((job["result"] as? [String: Any])?["text"] as? String == stream.answer)
            #expect(job["finished_at"] != nil && job["started_at"] != nil)
        }
    }

    @Test func resumeReturnsExactlyTheChunksAfterN() async throws {
        try await TestNode.with { node in
            let id = try await node.client.submit(chatBody("a long answer", mock: ["tokens": 40, "tokens_per_second": 200]))
            let full = try await node.client.events("/v1/jobs/\(id)/stream", limit: 5)
            #expect(full.ids == [1, 2, 3, 4, 5])
            // Dropped after 5: resume with Last-Event-ID, and with ?after.
            let rest = try await node.client.events("/v1/jobs/\(id)/stream", headers: ["Last-Event-ID": "5"])
            #expect(rest.ids == Array(6...41))
            let byQuery = try await node.client.events("/v1/jobs/\(id)/stream?after=17")
            #expect(byQuery.ids == Array(18...41))
            let whole = try await node.client.events("/v1/jobs/\(id)/stream")
            #expect(whole.events == full.events + rest.events)
            let afterEnd = try await node.client.events("/v1/jobs/\(id)/stream?after=41")
            #expect(afterEnd.events.isEmpty)
            let bad = try await node.client.get("/v1/jobs/\(id)/stream?after=-3")
            #expect(bad.status == 400 && bad.errorCode == "invalid_parameter")
        }
    }

    @Test func severalSubscribersFollowOneJobAndADroppedClientDoesNotCancelIt() async throws {
        try await TestNode.with { node in
            let id = try await node.client.submit(chatBody("shared", mock: ["tokens": 30, "tokens_per_second": 100]))
            async let first = node.client.events("/v1/jobs/\(id)/stream")
            async let second = node.client.events("/v1/jobs/\(id)/stream")
            async let dropped = node.client.events("/v1/jobs/\(id)/stream", limit: 2)
            let (a, b, c) = try await (first, second, dropped)
            #expect(c.events.count == 2)
            #expect(a.events == b.events)
            #expect(a.events.last?.name == "done")
            let job = try await node.client.waitForJob(id, states: ["succeeded", "cancelled", "failed"])
            #expect(job["state"] as? String == "succeeded")
        }
    }

    @Test func heartbeatsKeepAnIdleStreamAlive() async throws {
        try await TestNode.with(configure: { $0.server.heartbeatSeconds = 0.2 }) { node in
            let id = try await node.client.submit(chatBody("slow start", mock: ["tokens": 2, "ttft_ms": 2000]))
            let stream = try await node.client.events("/v1/jobs/\(id)/stream")
            #expect(stream.comments.filter { $0 == "heartbeat" }.count >= 2)
            #expect(stream.events.last?.name == "done")
        }
    }

    @Test func cancelStopsTheProviderCall() async throws {
        try await TestNode.with { node in
            let id = try await node.client.submit(chatBody("cancel me", mock: ["tokens": 1000, "tokens_per_second": 50]))
            let started = try await node.client.events("/v1/jobs/\(id)/stream", limit: 3)
            #expect(started.events.count == 3)
            #expect(node.node.mock.activeCalls == 1)
            let reply = try await node.client.delete("/v1/jobs/\(id)")
            #expect(reply.status == 200)
            #expect(reply.json["state"] as? String == "cancelled")
            #expect(node.node.mock.activeCalls == 0)
            let tokensAfterCancel = node.node.mock.totalTokens
            // A check that nothing happens needs time: a call that went on would add ten tokens in it.
            try await Task.sleep(for: .milliseconds(200))
            #expect(node.node.mock.totalTokens == tokensAfterCancel)
            let stream = try await node.client.events("/v1/jobs/\(id)/stream")
            #expect(stream.events.last?.name == "error")
            #expect(stream.events.last?.json["code"] as? String == "job_cancelled")
            // Cancelling again changes nothing.
            let again = try await node.client.delete("/v1/jobs/\(id)")
            #expect(again.json["state"] as? String == "cancelled")
        }
    }

    @Test func cancelOfAQueuedJobEndsItBeforeItRuns() async throws {
        try await TestNode.with(configure: { $0.queue.workers = 1 }) { node in
            let blocker = try await node.client.submit(chatBody("blocker", mock: ["tokens": 1, "ttft_ms": 60_000]))
            let queued = try await node.client.submit(chatBody("never runs"))
            _ = try await node.client.waitForJob(blocker, states: ["running"])
            let calls = node.node.mock.totalCalls
            let reply = try await node.client.delete("/v1/jobs/\(queued)")
            #expect(reply.json["state"] as? String == "cancelled")
            _ = try await node.client.delete("/v1/jobs/\(blocker)")
            // Once the blocker's worker is free and nothing waits, the cancelled job would have run by now.
            try await eventually("the node is idle after the cancels") {
                let ready = try await node.client.get("/readyz").json
                return ready["queued"] as? Int == 0 && ready["running"] as? Int == 0
            }
            #expect(node.node.mock.totalCalls == calls)
            let job = try await node.client.get("/v1/jobs/\(queued)").json
            #expect(job["attempt"] as? Int == 0)
        }
    }
}
