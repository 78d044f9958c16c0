import Crypto
import Foundation
import SluiceCore
import SluiceServer
import SluiceTesting
import Testing

@testable import SluiceServer

/// Signed callbacks (`callback_url`), delayed jobs (`not_before`), the dead-letter list.
@Suite struct CallbackTests {
    /// A Standard Webhooks secret: `whsec_` and 32 random bytes in base64.
    static let secretBytes = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
    static var secret: String { "whsec_" + secretBytes.base64EncodedString() }
    static let admin = ["X-Sluice-Role": "admin"]

    static func configure(_ configuration: inout SluiceConfiguration, allowed: [String] = ["127.0.0.1"], maxAge: Double = 60) {
        configuration.webhooks.secrets = [secret]
        configuration.webhooks.allowedHosts = allowed
        configuration.webhooks.backoffBaseMs = 20
        configuration.webhooks.backoffMaxMs = 60
        configuration.webhooks.maxAgeSeconds = maxAge
        configuration.webhooks.timeoutSeconds = 2
    }

    /// Verifies a callback as a receiver would, with the secret alone: `v1,` base64 HMAC-SHA256 of `id.timestamp.body`.
    static func verifies(_ received: FakeUpstream.Received, secret: Data = secretBytes) -> Bool {
        guard let id = received.headers["webhook-id"], let timestamp = received.headers["webhook-timestamp"],
              let signatures = received.headers["webhook-signature"]
        else { return false }
        let signed = Data("\(id).\(timestamp).".utf8) + received.body
        let expected = "v1," + Data(HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: secret))).base64EncodedString()
        return signatures.split(separator: " ").contains { $0 == expected }
    }

    @Test func aCallbackArrivesSignedAndAReceiverThatFailsTwiceGetsItOnTheThirdTry() async throws {
        try await FakeUpstream.with { hooks in
            hooks.hooks([500, 503])
            try await TestNode.with(configure: { Self.configure(&$0) }) { node in
                let url = "http://127.0.0.1:\(hooks.port)/hooks/tutor"
                let reply = try await node.client.post("/v1/jobs", json: chatBody("explain tides", extra: ["callback_url": url]))
                #expect(reply.status == 202)
                let id = try #require(reply.json["id"] as? String)
                try await eventually("the third attempt arrives") { hooks.callbacks.count >= 3 }
                let attempts = hooks.callbacks
                #expect(attempts.count == 3)
                // One message id across the retries, each attempt signed afresh.
                #expect(Set(attempts.compactMap { $0.headers["webhook-id"] }).count == 1)
                #expect(attempts.allSatisfy { Self.verifies($0) })
                #expect(!Self.verifies(attempts[2], secret: Data((0..<32).map { _ in 7 })))
                let timestamp = try #require(Double(attempts[2].headers["webhook-timestamp"] ?? ""))
                #expect(abs(timestamp - Date().timeIntervalSince1970) < 30)
                let event = attempts[2].json
                #expect(event["type"] as? String == "job.succeeded")
                let data = try #require(event["data"] as? [String: Any])
                #expect(data["id"] as? String == id)
                let job = try await node.client.get("/v1/jobs/\(id)").json
                #expect((data["result"] as? [String: Any])?["text"] as? String == (job["result"] as? [String: Any])?["text"] as? String)
                #expect(job["callback_url"] as? String == url)
                // The body a receiver verifies is exactly the body it got: a changed byte fails.
                var tampered = attempts[2]
                tampered.body = tampered.body + Data(" ".utf8)
                #expect(!Self.verifies(tampered))
                try await eventually("the delivery is recorded as delivered") {
                    let list = try await node.client.get("/admin/api/deliveries?state=delivered", headers: Self.admin).json["data"] as? [[String: Any]]
                    return list?.first?["attempts"] as? Int == 3 && list?.first?["job_id"] as? String == id
                }
                let metrics = try await node.client.get("/metrics", headers: Self.admin).text
                #expect(metrics.contains(#"sluice_callback_deliveries_total{outcome="retrying"} 2"#))
                #expect(metrics.contains(#"sluice_callback_deliveries_total{outcome="delivered"} 1"#))
                #expect(!metrics.contains(Self.secret))
            }
        }
    }

    @Test func aBackgroundResponseTellsItsEndAndACacheHitIsToldAtOnce() async throws {
        try await FakeUpstream.with { hooks in
            try await TestNode.with(configure: { Self.configure(&$0) }) { node in
                let url = "http://127.0.0.1:\(hooks.port)/hooks/responses"
                let reply = try await node.client.post("/v1/responses", json: [
                    "model": "default", "input": "what is a prime number", "background": true, "callback_url": url,
                ])
                #expect(reply.status == 200)
                let id = try #require(reply.json["id"] as? String)
                try await eventually("the response's callback arrives") { hooks.callbacks.count == 1 }
                let event = hooks.callbacks[0].json
                #expect(event["type"] as? String == "response.completed")
                #expect((event["data"] as? [String: Any])?["id"] as? String == id)
                #expect(Self.verifies(hooks.callbacks[0]))
                // Not background: nobody is left to tell, so it is refused by name.
                let foreground = try await node.client.post("/v1/responses", json: ["model": "default", "input": "hi", "callback_url": url])
                #expect(foreground.status == 400)
                // The same question through the jobs API is a cache hit: its callback is due at once.
                let body = chatBody("cached question", extra: ["callback_url": url])
                let first = try await node.client.submit(body)
                _ = try await node.client.waitForJob(first, states: ["succeeded"])
                let hit = try await node.client.post("/v1/jobs", json: body)
                #expect(hit.json["cache"] as? String == "exact")
                try await eventually("both jobs' callbacks arrive") { hooks.callbacks.count == 3 }
                let told: [String] = hooks.callbacks.compactMap { ($0.json["data"] as? [String: Any])?["id"] as? String }
                let hitID = try #require(hit.json["id"] as? String)
                #expect(told.contains(hitID))
            }
        }
    }

    @Test func aReceiverThatAlwaysFailsEndsInTheDeadLetterListAndAReplayDeliversIt() async throws {
        try await FakeUpstream.with { hooks in
            hooks.hooks([], then: 502)
            try await TestNode.with(configure: { Self.configure(&$0, maxAge: 0.4) }) { node in
                let url = "http://127.0.0.1:\(hooks.port)/hooks/grading"
                let id = try await node.client.submit(chatBody("grade this essay", extra: ["callback_url": url]))
                var dead: [String: Any] = [:]
                try await eventually("the delivery is given up") {
                    let list = try await node.client.get("/admin/api/deliveries?state=dead", headers: Self.admin).json["data"] as? [[String: Any]]
                    dead = list?.first ?? [:]
                    return dead["job_id"] as? String == id
                }
                let tries = try #require(dead["attempts"] as? Int)
                #expect(tries >= 2)
                #expect(dead["last_status"] as? Int == 502)
                #expect(hooks.callbacks.count == tries)
                // The receiver is fixed; the operator replays the delivery.
                hooks.hooks([], then: 200)
                let deliveryID = try #require(dead["id"] as? String)
                let replay = try await node.client.post("/admin/api/deliveries/\(deliveryID)/retry", json: [:], headers: Self.admin)
                #expect(replay.status == 200)
                #expect(replay.json["state"] as? String == "pending")
                try await eventually("the replay is delivered") { hooks.callbacks.count == tries + 1 }
                #expect(hooks.callbacks.last?.headers["webhook-id"] == deliveryID)
                #expect(Self.verifies(hooks.callbacks.last!))
                try await eventually("it leaves the dead-letter list") {
                    let list = try await node.client.get("/admin/api/deliveries?state=dead", headers: Self.admin).json["data"] as? [[String: Any]]
                    return list?.isEmpty == true
                }
                // Only admins read the list.
                let student = try await node.client.get("/admin/api/deliveries", headers: ["X-Sluice-Role": "student"])
                #expect(student.status == 403)
                let unknown = try await node.client.post("/admin/api/deliveries/msg_nope/retry", json: [:], headers: Self.admin)
                #expect(unknown.status == 404)
            }
        }
    }

    @Test func aTenantsOwnSecretsSignItsCallbacksTwiceDuringARotation() async throws {
        let old = Data((0..<24).map { UInt8($0) })
        let new = Data((0..<48).map { UInt8(255 - $0) })
        try await FakeUpstream.with { hooks in
            try await TestNode.with(configure: { configuration in
                Self.configure(&configuration, allowed: [])
                var tenant = SluiceConfiguration.Tenant(name: "local")
                tenant.webhookSecrets = ["whsec_" + old.base64EncodedString(), "whsec_" + new.base64EncodedString()]
                tenant.webhookAllowedHosts = ["127.0.0.1"]
                configuration.tenants = [tenant]
            }) { node in
                // The tenant's own list allows loopback, though the global one is empty.
                _ = try await node.client.submit(chatBody("rotate", extra: ["callback_url": "http://127.0.0.1:\(hooks.port)/hooks/rotation"]))
                try await eventually("the callback arrives") { hooks.callbacks.count == 1 }
                let received = hooks.callbacks[0]
                #expect(received.headers["webhook-signature"]?.split(separator: " ").count == 2)
                // A receiver holding either secret accepts it; the global secret is not the tenant's.
                #expect(Self.verifies(received, secret: old))
                #expect(Self.verifies(received, secret: new))
                #expect(!Self.verifies(received))
            }
        }
    }

    @Test func aReceiversRefusalIsNotRetried() async throws {
        try await FakeUpstream.with { hooks in
            hooks.hooks([], then: 410)
            try await TestNode.with(configure: { Self.configure(&$0) }) { node in
                let id = try await node.client.submit(chatBody("gone", extra: ["callback_url": "http://127.0.0.1:\(hooks.port)/hooks/gone"]))
                try await eventually("the delivery is given up after one attempt") {
                    let list = try await node.client.get("/admin/api/deliveries?state=dead", headers: Self.admin).json["data"] as? [[String: Any]]
                    return list?.first?["job_id"] as? String == id
                }
                try await Task.sleep(for: .milliseconds(300))
                #expect(hooks.callbacks.count == 1)
            }
        }
    }

    @Test func aNameThatResolvesToNothingIsNeverCalledAndEndsDead() async throws {
        try await TestNode.with(configure: { Self.configure(&$0, allowed: [], maxAge: 0.3) }) { node in
            let id = try await node.client.submit(chatBody("nowhere", extra: ["callback_url": "https://hooks.sluice-test.invalid/x"]))
            var dead: [String: Any] = [:]
            try await eventually("the delivery is given up") {
                let list = try await node.client.get("/admin/api/deliveries?state=dead", headers: Self.admin).json["data"] as? [[String: Any]]
                dead = list?.first ?? [:]
                return dead["job_id"] as? String == id
            }
            #expect((dead["last_error"] as? String)?.contains("could not resolve") == true, "\(dead)")
            #expect(dead["last_status"] == nil)
        }
    }

    @Test func callbacksToLoopbackOrPrivateAddressesAreRefusedUnlessAllowed() async throws {
        try await TestNode.with(configure: { Self.configure(&$0, allowed: []) }) { node in
            for url in [
                "http://127.0.0.1:9/hooks", "http://localhost:9/", "http://10.1.2.3/", "http://192.168.1.1/x", "http://[::1]:9/",
                "http://169.254.169.254/latest/meta-data", "http://[fd00::1]/", "http://0.0.0.0:9/", "http://[::ffff:127.0.0.1]/",
            ] {
                let reply = try await node.client.post("/v1/jobs", json: chatBody("x", extra: ["callback_url": url]))
                #expect(reply.status == 400, "\(url)")
                #expect(reply.errorCode == "invalid_parameter")
                #expect(reply.text.contains("callback_url"))
            }
            for url in ["ftp://example.org/", "not a url", "http://user:pw@example.org/"] {
                let reply = try await node.client.post("/v1/jobs", json: chatBody("x", extra: ["callback_url": url]))
                #expect(reply.status == 400, "\(url)")
            }
            let mongolian = try await node.client.post(
                "/v1/jobs", json: chatBody("x", extra: ["callback_url": "http://10.0.0.1/"]), headers: ["Accept-Language": "mn"])
            #expect(mongolian.text.contains("дотоод сүлжээ"))
            // A public address is accepted.
            let fine = try await node.client.post("/v1/jobs", json: chatBody("x", extra: ["callback_url": "https://203.0.113.7/hooks"]))
            #expect(fine.status == 202)
            // Refused requests stored nothing: the only job is the accepted one.
            let history = try await node.client.get("/v1/jobs").json["data"] as? [Any]
            #expect(history?.count == 1)
        }
        // With a list, only its hosts; a listed private address is allowed.
        try await TestNode.with(configure: { Self.configure(&$0, allowed: ["hooks.school.mn", "10.9.0.0/16"]) }) { node in
            let elsewhere = try await node.client.post("/v1/jobs", json: chatBody("x", extra: ["callback_url": "https://example.org/hooks"]))
            #expect(elsewhere.status == 400)
            #expect(elsewhere.text.contains("allowedHosts"))
            let listed = try await node.client.post("/v1/jobs", json: chatBody("y", extra: ["callback_url": "http://10.9.3.4/hooks"]))
            #expect(listed.status == 202)
        }
        // Without a secret, callbacks are off.
        try await TestNode.with { node in
            let reply = try await node.client.post("/v1/jobs", json: chatBody("x", extra: ["callback_url": "https://example.org/hooks"]))
            #expect(reply.status == 400)
            #expect(reply.text.contains("webhooks.secret"))
        }
    }

    @Test func aNameIsJudgedByTheAddressesItResolvesTo() async throws {
        let open = CallbackTarget(allowedHosts: [])
        #expect(open.problem(host: "hooks.school.mn", addresses: ["10.0.0.5"]) != nil)
        #expect(open.problem(host: "hooks.school.mn", addresses: ["203.0.113.9", "::1"]) != nil)
        #expect(open.problem(host: "hooks.school.mn", addresses: ["203.0.113.9"]) == nil)
        let listed = CallbackTarget(allowedHosts: ["hooks.school.mn", "*.example.org"])
        #expect(listed.problem(host: "hooks.school.mn", addresses: ["10.0.0.5"]) == nil)
        // A wildcard admits names, never their private addresses.
        #expect(listed.problem(host: "a.example.org", addresses: ["10.0.0.5"]) != nil)
        #expect(listed.problem(host: "a.example.org", addresses: ["203.0.113.9"]) == nil)
        #expect(listed.problem(host: "example.net", addresses: ["203.0.113.9"]) != nil)
        #expect(try await CallbackTarget.resolve("localhost").contains { $0 == "127.0.0.1" || $0 == "::1" })
    }

    @Test func aDelayedJobStartsNoEarlierThanNotBefore() async throws {
        try await TestNode.with { node in
            let notBefore = Date().timeIntervalSince1970 + 1.5
            let reply = try await node.client.post("/v1/jobs", json: chatBody("later", extra: ["not_before": notBefore]))
            #expect(reply.status == 202)
            #expect(reply.json["state"] as? String == "scheduled")
            let id = try #require(reply.json["id"] as? String)
            let early = try await node.client.get("/v1/jobs/\(id)").json
            #expect(early["state"] as? String == "scheduled")
            #expect(abs((early["not_before"] as? Double ?? 0) - notBefore) < 0.001)
            let done = try await node.client.waitForJob(id, states: ["succeeded", "failed"])
            #expect(done["state"] as? String == "succeeded")
            #expect(try #require(done["started_at"] as? Double) >= notBefore)
            // Its deadline counts from its time, not from when it was asked.
            #expect(try #require(done["deadline"] as? Double) >= notBefore + 1)
            for bad in ["tomorrow" as Any, Date().timeIntervalSince1970 + 40 * 86_400] {
                let refused = try await node.client.post("/v1/jobs", json: chatBody("x", extra: ["not_before": bad]))
                #expect(refused.status == 400)
                #expect(refused.text.contains("not_before"))
            }
            // A time already past runs at once.
            let past = try await node.client.submit(chatBody("now", extra: ["not_before": 1000]))
            #expect(try await node.client.waitForJob(past, states: ["succeeded"])["state"] as? String == "succeeded")
        }
    }

    @Test func aDelayedJobWaitsAcrossARestart() async throws {
        let directory = TemporaryDirectory.make()
        let notBefore = Date().timeIntervalSince1970 + 2
        let id = try await TestNode.with(dataDirectory: directory) { node in
            try await node.client.submit(chatBody("after the restart", extra: ["not_before": notBefore]))
        }
        try await TestNode.with(dataDirectory: directory) { node in
            let done = try await node.client.waitForJob(id, states: ["succeeded", "failed", "expired"])
            #expect(done["state"] as? String == "succeeded")
            #expect(try #require(done["started_at"] as? Double) >= notBefore)
        }
    }
}
