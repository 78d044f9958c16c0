import Foundation
import NIOHTTP1
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore
import SluiceTesting
import Testing

@Suite struct IdentityTests {
    @Test func aJobIsVisibleToItsOwnerOnly() async throws {
        try await TestNode.with { node in
            let alice = ["X-Sluice-User": "alice"]
            let mallory = ["X-Sluice-User": "mallory"]
            let id = try await node.client.submit(chatBody("mine", mock: ["tokens": 200, "tokens_per_second": 100]), headers: alice)
            #expect(try await node.client.get("/v1/jobs/\(id)", headers: mallory).status == 404)
            #expect(try await node.client.get("/v1/jobs/\(id)/stream", headers: mallory).status == 404)
            let cancel = try await node.client.delete("/v1/jobs/\(id)", headers: mallory)
            #expect(cancel.status == 404 && cancel.errorCode == "job_not_found")
            let job = try await node.client.get("/v1/jobs/\(id)", headers: alice).json
            #expect(job["state"] as? String != "cancelled")
            #expect(try await node.client.delete("/v1/jobs/\(id)", headers: alice).json["state"] as? String == "cancelled")
        }
    }

    @Test func theOpenAIUserFieldNamesTheOwner() async throws {
        try await TestNode.with { node in
            let reply = try await node.client.post("/v1/chat/completions", json: chatBody("hi", extra: ["user": "student-7"]))
            let id = try #require(reply.headers["x-sluice-job-id"])
            #expect(try await node.client.get("/v1/jobs/\(id)", headers: ["X-Sluice-User": "student-7"]).status == 200)
            #expect(try await node.client.get("/v1/jobs/\(id)").status == 404)
        }
    }

    @Test func appKeysAreRequiredWhenConfigured() async throws {
        try await TestNode.with(configure: { $0.auth.apiKeys = ["school-a:sk-alpha", "school-b:sk-beta"] }) { node in
            let missing = try await node.client.post("/v1/chat/completions", json: chatBody("hi"))
            #expect(missing.status == 401 && missing.errorCode == "invalid_api_key")
            #expect(!missing.text.contains("sk-alpha"))
            let wrong = try await node.client.post("/v1/chat/completions", json: chatBody("hi"), headers: ["Authorization": "Bearer sk-gamma"])
            #expect(wrong.status == 401)
            let right = try await node.client.post("/v1/chat/completions", json: chatBody("hi"), headers: ["Authorization": "Bearer sk-alpha", "X-Sluice-User": "u"])
            #expect(right.status == 200)
            // The same user name in another tenant is another principal.
            let id = try #require(right.headers["x-sluice-job-id"])
            #expect(try await node.client.get("/v1/jobs/\(id)", headers: ["Authorization": "Bearer sk-beta", "X-Sluice-User": "u"]).status == 404)
            #expect(try await node.client.get("/v1/jobs/\(id)", headers: ["Authorization": "Bearer sk-alpha", "X-Sluice-User": "u"]).status == 200)
            #expect(try await node.client.get("/healthz").status == 200)
        }
    }

    @Test func anonymousUseServesOnlyCallersOnThisMachine() async throws {
        try await TestNode.with { node in
            // Straight from loopback, with a loopback Host (any port, any loopback name): served.
            for host in ["127.0.0.1:\(node.port)", "localhost:\(node.port)", "LOCALHOST", "[::1]:\(node.port)"] {
                #expect(try await node.client.post("/v1/chat/completions", json: chatBody("hi"), headers: ["Host": host]).status == 200, "\(host)")
            }
            // A page doing DNS rebinding against localhost, or anything behind a proxy: refused, admin included.
            for headers in [
                ["Host": "attacker.example"], ["Host": "attacker.example:\(node.port)"], ["Host": "127.0.0.1.attacker.example"],
                ["X-Forwarded-For": "203.0.113.9"], ["Forwarded": "for=203.0.113.9"], ["X-Real-IP": "203.0.113.9"],
            ] {
                for (method, path) in [("POST", "/v1/chat/completions"), ("GET", "/admin/api/status")] {
                    let reply = method == "POST"
                        ? try await node.client.post(path, json: chatBody("hi"), headers: headers)
                        : try await node.client.get(path, headers: headers.merging(["X-Sluice-Role": "admin"]) { $1 })
                    #expect(reply.status == 403 && reply.errorCode == "local_only", "\(headers) \(path): \(reply.status) \(reply.text)")
                }
            }
            // The four served asks were one question: one provider call, the rest from the cache; none refused reached it.
            #expect(node.node.mock.totalCalls == 1)
        }
    }

    @Test func anUnknownRoleIsRejected() async throws {
        try await TestNode.with { node in
            let reply = try await node.client.post("/v1/chat/completions", json: chatBody("hi"), headers: ["X-Sluice-Role": "superuser"])
            #expect(reply.status == 400 && reply.errorCode == "invalid_parameter")
        }
    }

    @Test func bindingBeyondLoopbackWithoutKeysRefusesToStart() async throws {
        let (status, output) = try await SluiceProcess.run(
            ["serve", "--host", "0.0.0.0", "--port", String(SluiceProcess.freePort()), "--data-dir", TemporaryDirectory.make()])
        #expect(status != 0)
        #expect(output.contains("without API keys"))
    }
}
