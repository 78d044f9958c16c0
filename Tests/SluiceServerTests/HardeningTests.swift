import Foundation
import NIOHTTP1
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceTesting
import Testing

/// Numbers and sizes from outside — a client's resume point, a provider's `Retry-After`, its events and
/// its answer's length, a caller's identifiers — are bounded before they are used: a precise error, or a
/// cut-off provider call, never a trap that kills the node.
@Suite struct HardeningTests {
    @Test func extremeResumePointsAreRefusedAndTheNodeLivesOn() async throws {
        try await TestNode.with { node in
            let id = try await node.client.submit(chatBody("a slow answer", mock: ["tokens": 40, "tokens_per_second": 20]))
            _ = try await node.client.waitForJob(id, states: ["running"])
            for (name, value) in [("Last-Event-ID", String(Int.max)), ("Last-Event-ID", String(Int.max - 1)), ("Last-Event-ID", "-1"), ("Last-Event-ID", "1e3")] {
                let reply = try await node.client.get("/v1/jobs/\(id)/stream", headers: [name: value])
                #expect(reply.status == 400 && reply.errorCode == "invalid_parameter", "\(value): \(reply.text)")
            }
            let query = try await node.client.get("/v1/jobs/\(id)/stream?after=\(Int.max)")
            #expect(query.status == 400 && query.errorCode == "invalid_parameter")
            // The running job and the node are unharmed.
            let done = try await node.client.waitForJob(id, states: ["succeeded", "failed"])
            #expect(done["state"] as? String == "succeeded")
            #expect(try await node.client.get("/healthz").status == 200)
        }
    }

    @Test func absurdRetryAfterIsCappedAndNeverTraps() async throws {
        try await FakeUpstream.with { fake in
            fake.script([.throttled(retryAfter: "1e300"), .throttled(retryAfter: "86400"), .throttled(retryAfter: "inf")])
            try await TestNode.with(configure: {
                ProviderTests.configure(&$0, [ProviderTests.deployment("only", fake)])
                $0.providers.maxRetryAfterSeconds = 1
                $0.queue.maxAttempts = 5
            }) { node in
                let started = Date()
                let reply = try await ProviderTests.ask(node)
                #expect(reply.status == 200, "\(reply.text)")
                #expect(ProviderTests.text(reply) == "w1 w2 w3 w4 w5 w6 w7 w8")
                #expect(fake.received.count == 4)
                // Three waits of at most a second (and the breaker's cool-down), not a day.
                #expect(Date().timeIntervalSince(started) < 30)
            }
        }
    }

    @Test func aProviderSendingAHugeEventOrAnEndlessAnswerIsCutOff() async throws {
        try await FakeUpstream.with { fake in
            fake.answer(containing: "[huge]", with: .raw(events: [String(repeating: "x", count: 5 << 20)], body: "{}"))
            fake.answer(containing: "[endless]", with: .endless(chunkBytes: 16 << 10))
            try await TestNode.with(configure: {
                // Both pass the answer's cap of 2 MiB (the parser's cap on one event is never above it).
                ProviderTests.configure(&$0, [ProviderTests.deployment("only", fake) { $0.maxAnswerBytes = 2 << 20 }])
                $0.queue.maxAttempts = 1
            }) { node in
                for tag in ["[huge]", "[endless]"] {
                    let reply = try await ProviderTests.ask(node, "answer \(tag)")
                    #expect(reply.status == 502, "\(tag): \(reply.status) \(reply.text.prefix(300))")
                    #expect(["provider_error", "stream_interrupted"].contains(reply.errorCode ?? ""), "\(tag): \(reply.text.prefix(300))")
                }
                // The node goes on serving.
                #expect(try await ProviderTests.ask(node, "a normal question").status == 200)
            }
        }
    }

    @Test func identifiersFromHeadersAreBoundedNotCut() async throws {
        try await TestNode.with { node in
            for (header, value) in [("X-Sluice-User", String(repeating: "u", count: 300)), ("X-Sluice-Plan", String(repeating: "p", count: 65)),
                                    ("X-Sluice-Namespace", String(repeating: "n", count: 300))] {
                let reply = try await node.client.post("/v1/chat/completions", json: chatBody("hi"), headers: [header: value])
                #expect(reply.status == 400 && reply.errorCode == "invalid_parameter", "\(header): \(reply.text)")
                #expect(((reply.json["error"] as? [String: Any])?["message"] as? String)?.contains(header) == true)
            }
            #expect(node.node.mock.totalCalls == 0)
        }
    }
}
