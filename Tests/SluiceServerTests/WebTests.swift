import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore
@testable import SluiceServer
import SluiceTesting
import Testing

/// The web side's server: pages from the binary under a strict policy, the dashboard's session (cookie,
/// CSRF), its one live stream, the job inspector, and the queue notices a waiting client hears.
@Suite struct WebTests {
    static func withKeyedNode(_ body: (TestNode) async throws -> Void) async throws {
        try await TestNode.with(configure: { configuration in
            var a = SluiceConfiguration.Tenant(name: "school-a")
            a.apiKeys = ["app-key-a"]
            a.adminKeys = ["admin-key-a"]
            var b = SluiceConfiguration.Tenant(name: "school-b")
            b.apiKeys = ["app-key-b"]
            b.adminKeys = ["admin-key-b"]
            configuration.tenants = [a, b]
            configuration.auth.adminKeys = ["operator-key"]
            var exam = Mode(name: "exam")
            exam.requestsPerMinute = 100
            configuration.admission.modes = ["exam": exam]
        }, body)
    }

    /// Signs in at `/admin/session`; the cookie's `name=value` and the CSRF token.
    static func signIn(_ node: TestNode, key: String) async throws -> (cookie: String, csrf: String, setCookie: String) {
        let reply = try await node.client.post("/admin/session", json: ["key": key])
        #expect(reply.status == 200, "\(reply.text)")
        let setCookie = reply.headers["set-cookie"] ?? ""
        let cookie = String(setCookie.split(separator: ";").first ?? "")
        return (cookie, reply.json["csrf_token"] as? String ?? "", setCookie)
    }

    @Test func pagesComeFromTheBinaryUnderAStrictPolicy() async throws {
        try await TestNode.with { node in
            for (path, type) in [("/", "text/html"), ("/admin", "text/html"), ("/sluice.js", "text/javascript"), ("/assets/chat.js", "text/javascript"),
                                 ("/assets/admin.js", "text/javascript"), ("/assets/i18n.js", "text/javascript"),
                                 ("/assets/sluice.css", "text/css"), ("/assets/admin.css", "text/css")] {
                let reply = try await node.client.get(path)
                #expect(reply.status == 200, "\(path)")
                #expect(reply.headers["content-type"]?.hasPrefix(type) == true, "\(path): \(reply.headers)")
                #expect(reply.headers["content-security-policy"]?.contains("script-src 'self'") == true, "\(path)")
                #expect(reply.headers["x-content-type-options"] == "nosniff")
                #expect(reply.body.count > 100, "\(path) is a real file")
                let again = try await node.client.get(path, headers: ["If-None-Match": reply.headers["etag"] ?? "none"])
                #expect(again.status == 304, "\(path)")
            }
            // Apps on other origins import the client library as a module.
            #expect(try await node.client.get("/sluice.js").headers["access-control-allow-origin"] == "*")
            #expect(try await node.client.get("/").headers["access-control-allow-origin"] == nil)
            // Nothing inline: the policy forbids it, so a page that had some would break in a browser.
            for path in ["/", "/admin"] {
                let page = try await node.client.get(path).text
                #expect(!page.contains("<style"), "\(path)")
                #expect(!page.contains(" style=\""), "\(path)")
                #expect(page.components(separatedBy: "<script").dropFirst().allSatisfy { $0.contains("src=") }, "\(path)")
            }
        }
    }

    @Test func theDashboardSignsInWithAnAdminKeyIntoAnHttpOnlyStrictCookie() async throws {
        try await Self.withKeyedNode { node in
            // Wrong keys and app keys do not sign in.
            for key in ["nope", "app-key-a", ""] {
                let refused = try await node.client.post("/admin/session", json: ["key": key])
                #expect(refused.status == 401, "\(key)")
                #expect(refused.headers["set-cookie"] == nil)
            }
            let (cookie, csrf, setCookie) = try await Self.signIn(node, key: "operator-key")
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict") && setCookie.contains("Path=/admin"), "\(setCookie)")
            #expect(!setCookie.contains("operator-key") && !csrf.isEmpty)
            // The cookie stands for the key on the admin routes; the page learns its token again after a reload.
            #expect(try await node.client.get("/admin/api/status", headers: ["Cookie": cookie]).status == 200)
            let whoAmI = try await node.client.get("/admin/session", headers: ["Cookie": cookie])
            #expect(whoAmI.json["caller"] as? String == "operator key" && whoAmI.json["csrf_token"] as? String == csrf)
            // A write needs the session's CSRF token (a page of another site cannot read it).
            let forged = try await node.client.send(.PUT, "/admin/api/mode", body: Data(#"{"mode":"exam"}"#.utf8), headers: ["Cookie": cookie, "Content-Type": "application/json"])
            #expect(forged.status == 403 && forged.errorCode == "forbidden", "\(forged.text)")
            let wrongToken = try await node.client.send(.PUT, "/admin/api/mode", body: Data(#"{"mode":"exam"}"#.utf8), headers: ["Cookie": cookie, "X-CSRF-Token": csrf + "x", "Content-Type": "application/json"])
            #expect(wrongToken.status == 403)
            let set = try await node.client.send(.PUT, "/admin/api/mode", body: Data(#"{"mode":"exam"}"#.utf8), headers: ["Cookie": cookie, "X-CSRF-Token": csrf, "Content-Type": "application/json"])
            #expect(set.status == 200 && set.json["mode"] as? String == "exam", "\(set.text)")
            // A cookie changed by hand proves nothing; the cookie does not reach the API.
            let tampered = cookie.replacingOccurrences(of: "=", with: "=x", options: [], range: cookie.range(of: "="))
            #expect(try await node.client.get("/admin/api/status", headers: ["Cookie": tampered]).status == 401)
            #expect(try await node.client.post("/v1/chat/completions", json: chatBody("hi"), headers: ["Cookie": cookie]).status == 401)
            // The audit trail records the sign-in, never the key.
            let audit = try await node.client.get("/admin/api/audit", headers: ["Authorization": "Bearer operator-key"])
            #expect(audit.text.contains("dashboard sign-in") && !audit.text.contains("operator-key"))
            // Signing out needs the token too, and clears the cookie.
            #expect(try await node.client.delete("/admin/session", headers: ["Cookie": cookie]).status == 403)
            let out = try await node.client.delete("/admin/session", headers: ["Cookie": cookie, "X-CSRF-Token": csrf])
            #expect(out.status == 204 && out.headers["set-cookie"]?.contains("Max-Age=0") == true)
        }
    }

    @Test func aTenantsAdminSeesItsOwnTenantAndJobsOnly() async throws {
        try await Self.withKeyedNode { node in
            let (cookie, _, _) = try await Self.signIn(node, key: "admin-key-a")
            let ownJob = try await node.client.post("/v1/jobs", json: chatBody("a question of school a"), headers: ["Authorization": "Bearer app-key-a", "X-Sluice-User": "s1"])
            let otherJob = try await node.client.post("/v1/jobs", json: chatBody("a question of school b"), headers: ["Authorization": "Bearer app-key-b", "X-Sluice-User": "s2"])
            let feed = try await node.client.events("/admin/api/events", headers: ["Cookie": cookie], limit: 1)
            #expect(feed.events.first?.name == "status")
            #expect(feed.events.first?.json["tenant"] as? String == "school-a")
            let own = try await node.client.get("/admin/api/jobs/\(ownJob.json["id"] as? String ?? "")", headers: ["Cookie": cookie])
            #expect(own.status == 200, "\(own.text)")
            let other = try await node.client.get("/admin/api/jobs/\(otherJob.json["id"] as? String ?? "")", headers: ["Cookie": cookie])
            #expect(other.status == 404)
        }
    }

    @Test func theLiveStreamShowsQueueDeploymentsCacheAndTopUsers() async throws {
        try await Self.withKeyedNode { node in
            let app = ["Authorization": "Bearer app-key-a", "X-Sluice-User": "ada"]
            for question in ["why is the sky blue", "why is the sky blue", "what is a prime number"] {
                let reply = try await node.client.post("/v1/chat/completions", json: chatBody(question), headers: app)
                #expect(reply.status == 200)
            }
            let operatorKey = ["Authorization": "Bearer operator-key"]
            // The top lists are refreshed every ten seconds: the first snapshot may predate the answers.
            var snapshot: [String: Any] = [:]
            try await eventually("the top users", seconds: 30, every: .milliseconds(500)) {
                let stream = try await node.client.events("/admin/api/events", headers: operatorKey, limit: 1)
                snapshot = stream.events.first?.json ?? [:]
                return (snapshot["top_users"] as? [[String: Any]])?.isEmpty == false
            }
            let deployments = snapshot["deployments"] as? [[String: Any]] ?? []
            let mock = deployments.first { $0["alias"] as? String == "default" }
            #expect((mock?["calls"] as? Int ?? 0) >= 2, "\(deployments)")
            #expect(mock?["ttft_p50_ms"] is Double && mock?["breaker"] as? String == "closed", "\(deployments)")
            let cache = snapshot["cache"] as? [String: Any] ?? [:]
            #expect(cache["hits"] as? Int == 1 && (cache["saved_tokens"] as? Int ?? 0) > 0, "\(cache)")
            let top = (snapshot["top_users"] as? [[String: Any]])?.first
            #expect(top?["user"] as? String == "ada" && top?["tenant"] as? String == "school-a" && (top?["requests"] as? Int ?? 0) == 3, "\(snapshot["top_users"] ?? "")")
            #expect((snapshot["modes"] as? [String]) == ["exam"] && snapshot["tier"] as? String == "normal")
            let queue = snapshot["queue"] as? [String: Any] ?? [:]
            #expect((queue["queued"] as? [String: Any])?.keys.sorted() == ["batch", "bypass", "interactive"])
            // The next snapshot comes when something changes: a question answered moves the counts, on the
            // same stream, without asking again.
            let calls: @Sendable (SSEEvent?) -> Int = { event in
                ((event?.json["deployments"] as? [[String: Any]])?.first { $0["alias"] as? String == "default" }?["calls"] as? Int) ?? 0
            }
            let before = calls(snapshot.isEmpty ? nil : try await node.client.events("/admin/api/events", headers: operatorKey, limit: 1).events.first)
            let waiting = Task { try await node.client.events("/admin/api/events", headers: operatorKey, timeout: .seconds(20)) { calls($0) == before + 1 } }
            try await Task.sleep(for: .milliseconds(1500))
            #expect(try await node.client.post("/v1/chat/completions", json: chatBody("what is photosynthesis"), headers: app).status == 200)
            let stream = try await waiting.value
            #expect(calls(stream.events.last) == before + 1, "\(stream.events.map(\.data))")
            // Only admins: an app key and no credential are refused.
            #expect(try await node.client.get("/admin/api/events", headers: ["Authorization": "Bearer app-key-a"]).status == 403)
            #expect(try await node.client.get("/admin/api/events").status == 401)
        }
    }

    @Test func aWaitingStreamHearsItsPlaceInTheQueueThenThatItRuns() async throws {
        try await TestNode.with(configure: {
            $0.queue.workers = 2
            $0.admission.reservedBypassWorkers = 1
        }) { node in
            // One worker for students: the first job holds it for a while.
            let first = try await node.client.post("/v1/jobs", json: chatBody("first", mock: ["tokens": 20, "tokens_per_second": 10]), headers: ["X-Sluice-User": "a"])
            try await eventually("the first job runs") {
                try await node.client.get("/v1/jobs/\(first.json["id"] as? String ?? "")", headers: ["X-Sluice-User": "a"]).json["state"] as? String == "running"
            }
            let second = try await node.client.post("/v1/jobs", json: chatBody("second", mock: ["tokens": 3]), headers: ["X-Sluice-User": "b"])
            let id = second.json["id"] as? String ?? ""
            async let withoutNotices = node.client.events("/v1/jobs/\(id)/stream", headers: ["X-Sluice-User": "b"])
            let stream = try await node.client.events("/v1/jobs/\(id)/stream?queue_notices=true", headers: ["X-Sluice-User": "b"])
            let plain = try await withoutNotices
            #expect(!plain.events.contains { $0.name == "queue" } && plain.events.last?.name == "done", "notices are asked for")
            let names = stream.events.map(\.name)
            #expect(names.first == "queue", "\(names)")
            #expect(stream.events.first?.json["position"] as? Int == 1 && stream.events.first?.json["ahead"] as? Int == 0)
            #expect(stream.events.first?.id == nil, "a notice leaves Last-Event-ID alone")
            let running = stream.events.firstIndex { $0.name == "queue" && $0.json["state"] as? String == "running" }
            let firstDelta = stream.events.firstIndex { $0.name == "delta" }
            #expect(running != nil && firstDelta != nil && running! < firstDelta!, "\(names)")
            #expect(names.last == "done")
        }
    }

    @Test func theInspectorShowsAJobsOwnerTimingsAndEvents() async throws {
        try await TestNode.with { node in
            let reply = try await node.client.post("/v1/chat/completions", json: chatBody("inspect me"), headers: ["X-Sluice-User": "kim"])
            let id = reply.headers["x-sluice-job-id"] ?? ""
            let inspection = try await node.client.get("/admin/api/jobs/\(id)", headers: ["X-Sluice-Role": "admin"])
            #expect(inspection.status == 200, "\(inspection.text)")
            let job = inspection.json["job"] as? [String: Any] ?? [:]
            #expect(job["state"] as? String == "succeeded" && (job["owner"] as? [String: Any])?["user"] as? String == "kim")
            #expect(job["queue_ms"] is Int && job["run_ms"] is Int && job["deployment"] as? String != nil)
            let events = inspection.json["events"] as? [[String: Any]] ?? []
            #expect(events.last?["event"] as? String == "done" && events.contains { $0["event"] as? String == "delta" }, "\(events)")
            #expect(try await node.client.get("/admin/api/jobs/job_nothing", headers: ["X-Sluice-Role": "admin"]).status == 404)
            #expect(try await node.client.get("/admin/api/jobs/\(id)", headers: ["X-Sluice-User": "kim"]).status == 403)
        }
    }

    @Test func anOpenDashboardCountsAsOneOfItsCallersStreams() async throws {
        try await TestNode.with(configure: { $0.admission.plans = ["free": AdmissionTests.plan { $0.maxStreams = 2 }] }) { node in
            let admin = ["X-Sluice-Role": "admin", "X-Sluice-User": "ops"]
            let open = (0..<2).map { _ in Task { try await node.client.events("/admin/api/events", headers: admin, limit: 1_000, timeout: .seconds(60)) } }
            defer { open.forEach { $0.cancel() } }
            try await eventually("two dashboards are open") { node.node.jobs.admission.openStreams(of: "local\u{1F}ops") == 2 }
            let third = try await node.client.get("/admin/api/events", headers: admin)
            #expect(third.status == 429 && third.errorCode == "too_many_streams", "\(third.text)")
            // Another caller is not affected.
            let other = try await node.client.events("/admin/api/events", headers: ["X-Sluice-Role": "admin", "X-Sluice-User": "ops-2"], limit: 1)
            #expect(other.events.first?.name == "status")
        }
    }
}
