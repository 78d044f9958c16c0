import Foundation
import NIOHTTP1
@testable import SluiceServer
import SluiceCore
import SluiceProviders
import SluiceTesting
import Testing

/// Every public and admin route against every kind of caller: no credential, app keys of two tenants,
/// a tenant's admin key, the operator's key, and end users' tokens — valid, expired, forged, `alg: none`,
/// algorithm-confused, for another audience, with an unknown key — each with the status it must get.
@Suite struct TrustTests {
    static let issuer = "https://idp.example"
    static let audience = "sluice"

    /// Two schools with their app and admin keys, an operator key, and tokens of school A's users
    /// verified with the keys the fake identity provider serves.
    static func withNode(_ body: (TestNode, TestTokens, FakeUpstream) async throws -> Void) async throws {
        let tokens = try TestTokens()
        try await FakeUpstream.with { idp in
            idp.serve(jwks: tokens.jwks())
            try await TestNode.with(configure: { configuration in
                var a = SluiceConfiguration.Tenant(name: "school-a")
                a.apiKeys = ["app-key-a"]
                a.adminKeys = ["admin-key-a"]
                a.plans = ["free"]
                var b = SluiceConfiguration.Tenant(name: "school-b")
                b.apiKeys = ["app-key-b"]
                b.adminKeys = ["admin-key-b"]
                configuration.tenants = [a, b]
                configuration.auth.adminKeys = ["operator-key"]
                configuration.auth.jwt.jwksURL = idp.jwksURL
                configuration.auth.jwt.issuer = issuer
                configuration.auth.jwt.audience = audience
                configuration.auth.jwt.tenant = "school-a"
            }) { node in
                try await body(node, tokens, idp)
            }
        }
    }

    static func bearer(_ credential: String) -> [String: String] { ["Authorization": "Bearer \(credential)"] }

    static func claims(_ subject: String = "alice", audience: String = audience, expiresIn: Int64 = 300, extra: [String: JSONValue] = [:]) -> [String: JSONValue] {
        TestTokens.claims(subject: subject, issuer: issuer, audience: audience, expiresIn: expiresIn, extra: extra)
    }

    static func chat(_ node: TestNode, _ headers: [String: String], _ question: String = "hello") async throws -> HTTPTestClient.Reply {
        try await node.client.post("/v1/chat/completions", json: chatBody(question), headers: headers)
    }

    @Test func everyRouteRefusesOrServesEachKindOfCaller() async throws {
        try await Self.withNode { node, tokens, _ in
            let valid = try await tokens.token(claims: Self.claims())
            let callers: [(name: String, headers: [String: String], chat: Int, status: Int, metrics: Int)] = [
                ("no credential", [:], 401, 401, 401),
                ("unknown key", Self.bearer("not-a-key"), 401, 401, 401),
                ("app key of A", Self.bearer("app-key-a"), 200, 403, 403),
                ("app key of B", Self.bearer("app-key-b"), 200, 403, 403),
                ("app key of A asserting admin", Self.bearer("app-key-a").merging(["X-Sluice-Role": "admin"]) { $1 }, 403, 403, 403),
                ("app key of A asserting an unlisted plan", Self.bearer("app-key-a").merging(["X-Sluice-Plan": "paid"]) { $1 }, 403, 403, 403),
                ("admin key of A", Self.bearer("admin-key-a"), 200, 200, 403),
                ("operator key", Self.bearer("operator-key"), 200, 200, 200),
                ("valid token", Self.bearer(valid), 200, 403, 403),
                ("expired token", Self.bearer(try await tokens.token(claims: Self.claims(expiresIn: -600))), 401, 401, 401),
                ("forged token", Self.bearer(try await tokens.forged(claims: Self.claims())), 401, 401, 401),
                ("alg none", Self.bearer(tokens.unsigned(claims: Self.claims(), kid: tokens.rsaKid)), 401, 401, 401),
                ("algorithm confusion", Self.bearer(try await tokens.confused(claims: Self.claims())), 401, 401, 401),
                ("wrong audience", Self.bearer(try await tokens.token(claims: Self.claims(audience: "another-app"))), 401, 401, 401),
                ("unknown kid", Self.bearer(try await tokens.token(kid: "nobody-knows", claims: Self.claims())), 401, 401, 401),
                ("token asserting admin", Self.bearer(try await tokens.token(claims: Self.claims(extra: ["role": "admin"]))), 403, 403, 403),
            ]
            // Every route, by who may reach it: any caller proving an identity, an admin, the operator (the node's metrics).
            enum Owner { case caller, admin, node }
            let importBody = Data(#"{"question": "What is 2+2?", "answer": "4", "model": "default"}"#.utf8)
            let routes: [(owner: Owner, method: HTTPMethod, path: String, body: Data?)] = [
                (.caller, .GET, "/v1/models", nil),
                (.caller, .POST, "/v1/chat/completions", try JSONSerialization.data(withJSONObject: chatBody("hello"))),
                (.caller, .POST, "/v1/jobs", try JSONSerialization.data(withJSONObject: chatBody("a job"))),
                (.admin, .GET, "/admin/api/status?tenant=school-a", nil),
                (.admin, .PUT, "/admin/api/mode?tenant=school-a", Data(#"{"mode": null}"#.utf8)),
                (.admin, .DELETE, "/admin/api/mode?tenant=school-a", nil),
                (.admin, .POST, "/admin/api/cache?tenant=school-a", importBody),
                (.admin, .DELETE, "/admin/api/cache?tenant=school-a&namespace=nothing", nil),
                (.admin, .GET, "/admin/api/audit", nil),
                (.node, .GET, "/metrics", nil),
            ]
            for caller in callers {
                for route in routes {
                    var headers = caller.headers
                    if route.body != nil { headers["Content-Type"] = "application/json" }
                    let reply = try await node.client.send(route.method, route.path, body: route.body, headers: headers)
                    let expected = switch route.owner {
                    case .caller: caller.chat
                    case .admin: caller.status
                    case .node: caller.metrics
                    }
                    if expected == 200 {
                        #expect((200..<300).contains(reply.status), "\(caller.name): \(route.method) \(route.path) \(reply.status) \(reply.text.prefix(200))")
                    } else {
                        #expect(reply.status == expected, "\(caller.name): \(route.method) \(route.path) \(reply.status) \(reply.text.prefix(200))")
                    }
                    if expected == 401 {
                        #expect(["invalid_api_key", "invalid_token"].contains(reply.errorCode ?? ""), "\(caller.name): \(reply.text.prefix(200))")
                    }
                }
            }
            // Health is open to all; the refusals are in the audit trail, with no key or token in it.
            #expect(try await node.client.get("/healthz").status == 200)
            try await eventually("the refusals are in the audit trail") {
                try await node.client.get("/admin/api/audit", headers: Self.bearer("operator-key")).text.contains("refused")
            }
            let audit = try await node.client.get("/admin/api/audit", headers: Self.bearer("operator-key"))
            #expect(audit.status == 200)
            #expect(!audit.text.contains("not-a-key") && !audit.text.contains(valid))
        }
    }

    @Test func aRefusedTokenSaysWhyInBothLanguages() async throws {
        try await Self.withNode { node, tokens, _ in
            let expired = try await tokens.token(claims: Self.claims(expiresIn: -600))
            let english = try await Self.chat(node, Self.bearer(expired))
            #expect(english.errorCode == "invalid_token")
            #expect(english.text.contains("expired"), "\(english.text)")
            let mongolian = try await Self.chat(node, Self.bearer(expired).merging(["Accept-Language": "mn"]) { $1 })
            #expect(mongolian.errorCode == "invalid_token")
            #expect(mongolian.text.contains("Токен"), "\(mongolian.text)")
        }
    }

    @Test func aTenantsAdminActsOnItsOwnTenantOnly() async throws {
        try await Self.withNode { node, _, _ in
            // A's admin sets a mode, naming B: it applies to A.
            let set = try await node.client.send(
                .PUT, "/admin/api/mode?tenant=school-b", body: Data(#"{"mode": "exam"}"#.utf8), headers: Self.bearer("admin-key-a"))
            #expect(set.status == 200)
            let operatorKey = Self.bearer("operator-key")
            #expect(try await node.client.get("/admin/api/status?tenant=school-a", headers: operatorKey).json["mode"] as? String == "exam")
            #expect(try await node.client.get("/admin/api/status?tenant=school-b", headers: operatorKey).json["mode"] as? String != "exam")
            // B's admin sees B, not A's mode.
            #expect(try await node.client.get("/admin/api/status?tenant=school-a", headers: Self.bearer("admin-key-b")).json["tenant"] as? String == "school-b")
            // A's admin cannot clear the cache of B: its invalidation is of A's entries.
            let cached = try await Self.chat(node, Self.bearer("app-key-b"), "what B asked")
            #expect(cached.status == 200)
            let removed = try await node.client.delete("/admin/api/cache?namespace=&tenant=school-b", headers: Self.bearer("admin-key-a")).json["removed"] as? Int
            #expect(removed == 0)
            #expect(try await Self.chat(node, Self.bearer("app-key-b"), "what B asked").headers["x-sluice-cache"] == "exact")
            // A's audit records are A's alone.
            let audit = try await node.client.get("/admin/api/audit", headers: Self.bearer("admin-key-b")).json
            #expect((audit["data"] as? [[String: Any]])?.allSatisfy { $0["tenant"] as? String == "school-b" } == true)
        }
    }

    @Test func aUsersTokenNamesTheUserAndReadsOnlyTheirJobs() async throws {
        try await Self.withNode { node, tokens, _ in
            let alice = Self.bearer(try await tokens.token(claims: Self.claims("alice")))
            let bob = Self.bearer(try await tokens.token(claims: Self.claims("bob")))
            // Alice claims to be bob in the header: her token's subject wins.
            let id = try await node.client.submit(chatBody("alice's question"), headers: alice.merging(["X-Sluice-User": "bob"]) { $1 })
            #expect(try await node.client.get("/v1/jobs/\(id)", headers: alice).status == 200)
            #expect(try await node.client.get("/v1/jobs/\(id)", headers: bob).status == 404)
            #expect(try await node.client.get("/v1/jobs/\(id)", headers: Self.bearer("app-key-b")).status == 404)
            // Nor does OpenAI's `user` field in the body.
            var body = chatBody("alice's other question")
            body["user"] = "bob"
            let other = try await node.client.submit(body, headers: alice)
            #expect(try await node.client.get("/v1/jobs/\(other)", headers: alice).status == 200)
            #expect(try await node.client.get("/v1/jobs/\(other)", headers: bob).status == 404)
        }
    }

    @Test func aRotatedKeySetIsPickedUpWithoutARestart() async throws {
        try await Self.withNode { node, tokens, idp in
            #expect(try await Self.chat(node, Self.bearer(try await tokens.token(claims: Self.claims()))).status == 200)
            // The identity provider rotates to a new key; a token signed with it is accepted once the
            // key set is fetched again (refetches after an unknown key are spaced a few seconds apart).
            let rotated = try TestTokens(rsaKid: "rotated-rsa", ecKid: "rotated-ec")
            idp.serve(jwks: rotated.jwks())
            let token = try await rotated.token(claims: Self.claims())
            try await eventually("a token of the rotated key is accepted", seconds: 30) {
                try await Self.chat(node, Self.bearer(token)).status == 200
            }
        }
    }

    @Test func aBrowserOnAnAllowedOriginGetsCORSAndOthersDoNot() async throws {
        let tokens = try TestTokens()
        try await FakeUpstream.with { idp in
            idp.serve(jwks: tokens.jwks())
            try await TestNode.with(configure: { configuration in
                var a = SluiceConfiguration.Tenant(name: "school-a")
                a.corsOrigins = ["https://tutor.school-a.example"]
                configuration.tenants = [a]
                configuration.auth.jwt.jwksURL = idp.jwksURL
                configuration.auth.jwt.tenant = "school-a"
            }) { node in
                let preflight = try await node.client.send(.OPTIONS, "/v1/chat/completions", headers: [
                    "Origin": "https://tutor.school-a.example", "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization, content-type",
                ])
                #expect(preflight.status == 204)
                #expect(preflight.headers["access-control-allow-origin"] == "https://tutor.school-a.example")
                let foreign = try await node.client.send(.OPTIONS, "/v1/chat/completions", headers: [
                    "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
                ])
                #expect(foreign.headers["access-control-allow-origin"] == nil)
                let token = Self.bearer(try await tokens.token(claims: TestTokens.claims()))
                let allowed = try await Self.chat(node, token.merging(["Origin": "https://tutor.school-a.example"]) { $1 })
                #expect(allowed.status == 200)
                #expect(allowed.headers["access-control-allow-origin"] == "https://tutor.school-a.example")
                let other = try await Self.chat(node, token.merging(["Origin": "https://evil.example"]) { $1 })
                #expect(other.headers["access-control-allow-origin"] == nil)
                // A refusal on an allowed origin is readable by the page (it holds no answer).
                let refused = try await Self.chat(node, ["Authorization": "Bearer expired.or.bad", "Origin": "https://tutor.school-a.example"])
                #expect(refused.status == 401)
                #expect(refused.headers["access-control-allow-origin"] == "https://tutor.school-a.example")
            }
        }
    }

    @Test func aTenantsCeilingsHoldWhileItsAppNamesANewUserOnEveryRequest() async throws {
        try await TestNode.with(configure: { configuration in
            var a = SluiceConfiguration.Tenant(name: "school-a")
            a.apiKeys = ["app-key-a"]
            a.ceilings = .init(requestsPerMinute: 5)
            var b = SluiceConfiguration.Tenant(name: "school-b")
            b.apiKeys = ["app-key-b"]
            b.ceilings = .init(runningJobs: 2)
            configuration.tenants = [a, b]
        }) { node in
            // Per minute, across users: five of ten requests, each from a "new" student.
            var statuses: [Int] = []
            for n in 0..<10 {
                let reply = try await Self.chat(node, Self.bearer("app-key-a").merging(["X-Sluice-User": "student-\(n)"]) { $1 }, "question \(n)")
                statuses.append(reply.status)
                if reply.status == 429 { #expect(reply.errorCode == "rate_limited") }
            }
            #expect(statuses.filter { $0 == 200 }.count == 5, "\(statuses)")
            // Jobs at once: two long jobs run, a third waits for one to end.
            let slow = ["tokens": 200, "tokens_per_second": 20] as [String: Any]
            var ids: [String] = []
            for n in 0..<2 {
                ids.append(try await node.client.submit(chatBody("long \(n)", mock: slow), headers: Self.bearer("app-key-b").merging(["X-Sluice-User": "s\(n)"]) { $1 }))
            }
            let third = try await node.client.post("/v1/jobs", json: chatBody("long 2", mock: slow), headers: Self.bearer("app-key-b").merging(["X-Sluice-User": "s2"]) { $1 })
            #expect(third.status == 429, "\(third.text)")
            _ = try await node.client.delete("/v1/jobs/\(ids[0])", headers: Self.bearer("app-key-b").merging(["X-Sluice-User": "s0"]) { $1 })
            try await eventually("a third job is admitted once one ends") {
                try await node.client.post("/v1/jobs", json: chatBody("long 3", mock: ["tokens": 2]), headers: Self.bearer("app-key-b").merging(["X-Sluice-User": "s3"]) { $1 }).status == 202
            }
            _ = try await node.client.delete("/v1/jobs/\(ids[1])", headers: Self.bearer("app-key-b").merging(["X-Sluice-User": "s1"]) { $1 })
        }
    }

    @Test func theAuditTrailAndModesOutliveARestartAndAFloodOfBadKeysStaysSmall() async throws {
        let directory = TemporaryDirectory.make()
        let configure = { (configuration: inout SluiceConfiguration) in
            var a = SluiceConfiguration.Tenant(name: "school-a")
            a.apiKeys = ["app-key-a"]
            a.adminKeys = ["admin-key-a"]
            configuration.tenants = [a]
            configuration.auth.adminKeys = ["operator-key"]
        }
        try await TestNode.with(dataDirectory: directory, configure: configure) { node in
            for n in 0..<50 { _ = try await Self.chat(node, Self.bearer("bad-key-\(n)")) }
            // Refusals are written in the background.
            try await eventually("the refusal is in the audit trail") {
                try await node.client.get("/admin/api/audit", headers: Self.bearer("operator-key")).text.contains("refused")
            }
            let set = try await node.client.send(.PUT, "/admin/api/mode", body: Data(#"{"mode": "exam"}"#.utf8), headers: Self.bearer("admin-key-a"))
            #expect(set.status == 200)
        }
        try await TestNode.with(dataDirectory: directory, configure: configure) { node in
            let data = try await node.client.get("/admin/api/audit", headers: Self.bearer("operator-key")).json["data"] as? [[String: Any]] ?? []
            let refused = data.filter { $0["action"] as? String == "refused" }
            #expect((1...2).contains(refused.count), "\(refused)")
            #expect(data.contains { $0["action"] as? String == "mode set" && $0["tenant"] as? String == "school-a" && $0["caller"] as? String == "admin key of school-a" })
            #expect(!String(describing: data).contains("bad-key"))
            // The mode school-a's admin set is kept too.
            #expect(try await node.client.get("/admin/api/status?tenant=school-a", headers: Self.bearer("operator-key")).json["mode"] as? String == "exam")
            // A tenant's admin reads its own records only.
            let own = try await node.client.get("/admin/api/audit", headers: Self.bearer("admin-key-a")).json["data"] as? [[String: Any]] ?? []
            #expect(!own.isEmpty && own.allSatisfy { $0["tenant"] as? String == "school-a" })
        }
    }

    @Test func eachTenantKeepsItsOwnCalendar() async throws {
        let today = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate])
        try await TestNode.with(configure: { configuration in
            var a = SluiceConfiguration.Tenant(name: "school-a")
            a.apiKeys = ["app-key-a"]
            a.calendar = SchoolCalendar(periods: [.init(first: today, last: today, mode: "exam")])
            var b = SluiceConfiguration.Tenant(name: "school-b")
            b.apiKeys = ["app-key-b"]
            configuration.tenants = [a, b]
            configuration.auth.adminKeys = ["operator-key"]
        }) { (node: TestNode) async throws in
            let operatorKey = Self.bearer("operator-key")
            #expect(try await node.client.get("/admin/api/status?tenant=school-a", headers: operatorKey).json["mode"] as? String == "exam")
            #expect(try await node.client.get("/admin/api/status?tenant=school-b", headers: operatorKey).json["mode"] is NSNull)
        }
    }

    @Test func aTenantsDayOfTokensOutlivesARestart() async throws {
        let directory = TemporaryDirectory.make()
        let configure = { (configuration: inout SluiceConfiguration) in
            var a = SluiceConfiguration.Tenant(name: "school-a")
            a.apiKeys = ["app-key-a"]
            a.ceilings = .init(tokensPerDay: 80)
            configuration.tenants = [a]
        }
        let ask = { (node: TestNode, n: Int) in
            try await node.client.post(
                "/v1/chat/completions", json: chatBody("question \(n)", extra: ["max_tokens": 20]),
                headers: Self.bearer("app-key-a").merging(["X-Sluice-User": "student-\(n)"]) { $1 })
        }
        try await TestNode.with(dataDirectory: directory, configure: configure) { (node: TestNode) async throws in
            var n = 0
            while try await ask(node, n).status == 200 {
                n += 1
                guard n < 40 else { throw TestFailure("the tenant's tokens per day never ran out") }
            }
            #expect(n > 1)
            #expect(try await ask(node, 100).errorCode == "quota_exceeded")
        }
        try await TestNode.with(dataDirectory: directory, configure: configure) { (node: TestNode) async throws in
            let reply = try await ask(node, 200)
            #expect(reply.status == 429 && reply.errorCode == "quota_exceeded", "\(reply.status) \(reply.text.prefix(200))")
        }
    }

    @Test func aTenantsMonthlyBudgetStopsItsRequestsAndOutlivesARestart() async throws {
        try await FakeUpstream.with { fake in
            let directory = TemporaryDirectory.make()
            let configure = { (configuration: inout SluiceConfiguration) in
                ProviderTests.configure(&configuration, [ProviderTests.deployment("priced", fake) { $0.prices.inputPerMillion = 1; $0.prices.outputPerMillion = 2 }])
                var a = SluiceConfiguration.Tenant(name: "school-a")
                a.apiKeys = ["app-key-a"]
                a.ceilings = .init(spendPerMonthUSD: 0.00001)
                var b = SluiceConfiguration.Tenant(name: "school-b")
                b.apiKeys = ["app-key-b"]
                configuration.tenants = [a, b]
            }
            let ask = { (node: TestNode, key: String, n: Int) in
                try await ProviderTests.ask(node, "question \(n)", headers: Self.bearer(key).merging(["X-Sluice-User": "student-\(n)"]) { $1 })
            }
            try await TestNode.with(dataDirectory: directory, configure: configure) { (node: TestNode) async throws in
                #expect(try await ask(node, "app-key-a", 1).status == 200)
                let refused = try await ask(node, "app-key-a", 2)
                #expect(refused.status == 429 && refused.errorCode == "budget_exceeded", "\(refused.text)")
                #expect(try await ask(node, "app-key-b", 3).status == 200)
            }
            try await TestNode.with(dataDirectory: directory, configure: configure) { (node: TestNode) async throws in
                #expect(try await ask(node, "app-key-a", 4).errorCode == "budget_exceeded")
            }
            #expect(fake.received.count == 2)
        }
    }

    @Test func aJobCancelledMidAnswerIsChargedWhatItWasSent() async throws {
        try await TestNode.with { (node: TestNode) async throws in
            let id = try await node.client.submit(chatBody("a long answer", mock: ["tokens": 400, "tokens_per_second": 40]))
            // Read part of the answer, then cancel before the end.
            let seen = try await node.client.events("/v1/jobs/\(id)/stream", limit: 5)
            #expect(seen.events.count == 5)
            _ = try await node.client.delete("/v1/jobs/\(id)")
            let job = try await node.client.waitForJob(id, states: ["cancelled"])
            let usage = (job["result"] as? [String: Any])?["usage"] as? [String: Any]
            #expect((usage?["completion_tokens"] as? Int ?? 0) >= 4, "\(job)")
            #expect((job["result"] as? [String: Any])?["finish_reason"] as? String == "cancelled")
        }
    }

    @Test func withoutCredentialsAPageFromAnotherSiteIsNotALocalCaller() async throws {
        try await TestNode.with { (node: TestNode) async throws in
            let foreign = try await Self.chat(node, ["Origin": "https://evil.example"])
            #expect(foreign.status == 403 && foreign.errorCode == "local_only")
            #expect(try await Self.chat(node, ["Sec-Fetch-Site": "cross-site"]).status == 403)
            // The chat page served by this node is.
            #expect(try await Self.chat(node, ["Origin": "http://127.0.0.1:\(node.port)", "Sec-Fetch-Site": "same-origin"]).status == 200)
        }
    }
}
