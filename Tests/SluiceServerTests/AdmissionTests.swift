import Foundation
import NIOHTTP1
import SluiceCore
import SluiceProviders
@testable import SluiceServer
import SluiceStore
import SluiceTesting
import Synchronization
import Testing

@Suite struct AdmissionTests {
    static func plan(_ change: (inout Plan) -> Void) -> Plan {
        var plan = Plan(name: "free")
        plan.maxStreams = 1000
        plan.reconnectsPerMinute = 1000
        change(&plan)
        return plan
    }

    static func job(_ content: String, tokens: Int = 5, extra: [String: Any] = [:]) -> [String: Any] {
        ["model": "default", "messages": [["role": "user", "content": content]], "mock": ["tokens": tokens]].merging(extra) { $1 }
    }

    @Test func twoHundredConcurrentRequestsFromOneUserAdmitAtMostTheLimit() async throws {
        try await TestNode.with(configure: { $0.admission.plans = ["free": Self.plan { $0.requestsPerMinute = 10 }] }) { node in
            let replies = try await withThrowingTaskGroup(of: HTTPTestClient.Reply.self) { group in
                for n in 0..<200 {
                    group.addTask { try await node.client.post("/v1/jobs", json: Self.job("q\(n)"), headers: ["X-Sluice-User": "eager"]) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(replies.filter { $0.status == 202 }.count == 10)
            let refused = replies.filter { $0.status == 429 }
            #expect(refused.count == 190)
            #expect(refused.allSatisfy { $0.errorCode == "rate_limited" })
            let sample = try #require(refused.first)
            let wait = try #require(Int(sample.headers["retry-after"] ?? ""))
            #expect(wait >= 1 && wait <= 60)
            #expect(sample.headers["x-ratelimit-limit"] == "10")
            #expect(sample.headers["x-ratelimit-remaining"] == "0")
            #expect(((sample.json["error"] as? [String: Any])?["message"] as? String)?.contains("\(wait) seconds") == true)
            #expect(sample.json["retry_after"] as? Int == wait)
            let admitted = try #require(replies.first { $0.status == 202 })
            #expect(admitted.headers["x-ratelimit-limit"] == "10")
            #expect(admitted.headers["x-ratelimit-remaining"] != nil && admitted.headers["x-ratelimit-reset"] != nil)
            // Another user is not affected, and the refusal is in Mongolian when asked.
            #expect(try await node.client.post("/v1/jobs", json: Self.job("other"), headers: ["X-Sluice-User": "calm"]).status == 202)
            let mongolian = try await node.client.post("/v1/jobs", json: Self.job("again"), headers: ["X-Sluice-User": "eager", "Accept-Language": "mn"])
            #expect(((mongolian.json["error"] as? [String: Any])?["message"] as? String)?.contains("секунд хүлээнэ үү") == true)
            let metrics = try await node.client.get("/metrics").text
            #expect(metrics.contains(#"sluice_rejections_total{reason="rate_limited"} 191"#))
            #expect(metrics.contains(#"sluice_quota_messages_total{plan="free"} 11"#))
        }
    }

    @Test func aTokenBudgetCannotBeOvershotAndUnusedReservationsComeBack() async throws {
        try await TestNode.with(configure: {
            $0.admission.plans = ["free": Self.plan { $0.requestsPerMinute = nil; $0.tokensPerDay = 1000; $0.maxTokens = 100 }]
        }) { node in
            // Each request reserves its prompt (2 tokens) and max_tokens (100): 9 fit in 1,000.
            func round(_ label: String) async throws -> [HTTPTestClient.Reply] {
                try await withThrowingTaskGroup(of: HTTPTestClient.Reply.self) { group in
                    // Slow answers: no reservation settles while the round is admitted.
                    for n in 0..<30 {
                        group.addTask {
                            try await node.client.post(
                                "/v1/jobs", json: Self.job("\(label) \(n)", extra: ["mock": ["tokens": 5, "ttft_ms": 5000]]), headers: ["X-Sluice-User": "budget"])
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            let first = try await round("a")
            let admitted = first.filter { $0.status == 202 }
            #expect(admitted.count == 9)
            #expect(first.filter { $0.status == 429 }.allSatisfy { $0.errorCode == "quota_exceeded" && $0.headers["retry-after"] != nil })
            // Two run at a time (the user's running cap), 5 s each: the last of the nine ends after ~25 s,
            // and the replies' order is not the order they run in.
            for reply in admitted {
                _ = try await node.client.waitForJob(reply.json["id"] as! String, states: ["succeeded"], headers: ["X-Sluice-User": "budget"], timeout: 60)
            }
            // Each answer used 7 tokens, not 102: the rest of every reservation came back.
            let second = try await round("b")
            #expect(second.filter { $0.status == 202 }.count == 9)
        }
    }

    @Test func aDailyMessageQuotaIsRefusedWithItsResetTime() async throws {
        try await TestNode.with(configure: { $0.admission.plans = ["free": Self.plan { $0.requestsPerMinute = nil; $0.messagesPerDay = 3 }] }) { node in
            for n in 0..<3 { #expect(try await node.client.post("/v1/chat/completions", json: Self.job("m\(n)")).status == 200) }
            let refused = try await node.client.post("/v1/chat/completions", json: Self.job("m3"))
            #expect(refused.status == 429)
            #expect(refused.errorCode == "quota_exceeded")
            let message = ((refused.json["error"] as? [String: Any])?["message"] as? String) ?? ""
            #expect(message.contains("limit of 3"))
            #expect(message.contains("T00:00:00"))
        }
    }

    @Test func aFailedJobGivesItsMessageBack() async throws {
        try await TestNode.with(configure: {
            $0.admission.plans = ["free": Self.plan { $0.requestsPerMinute = nil; $0.messagesPerDay = 1 }]
            $0.queue.maxAttempts = 1
        }) { node in
            let failed = try await node.client.post("/v1/chat/completions", json: Self.job("x", extra: ["mock": ["fail": "status:500"]]))
            #expect(failed.status == 502)
            #expect(try await node.client.post("/v1/chat/completions", json: Self.job("y")).status == 200)
            #expect(try await node.client.post("/v1/chat/completions", json: Self.job("z")).status == 429)
        }
    }

    @Test func overloadRejectsNewStudentsWhileTeachersAndAcceptedJobsAreServed() async throws {
        try await TestNode.with(configure: {
            $0.queue.workers = 2
            $0.admission.reservedBypassWorkers = 1
            $0.admission.tiers.highAt = 100
            $0.admission.tiers.peakAt = 100
            $0.admission.tiers.overloadAt = 5
        }) { node in
            let blocker = try await node.client.submit(Self.job("blocker", extra: ["mock": ["tokens": 1, "ttft_ms": 60_000]]), headers: ["X-Sluice-User": "b"])
            _ = try await node.client.waitForJob(blocker, states: ["running"], headers: ["X-Sluice-User": "b"])
            var accepted: [(String, String)] = []
            for n in 0..<4 {
                let user = "waiting-\(n)"
                accepted.append((try await node.client.submit(Self.job("queued \(n)"), headers: ["X-Sluice-User": user]), user))
            }
            let admin = ["X-Sluice-Role": "admin", "X-Sluice-User": "ops"]
            #expect(try await node.client.get("/admin/api/status", headers: admin).json["tier"] as? String == "overload")
            let student = try await node.client.post("/v1/chat/completions", json: Self.job("new"), headers: ["X-Sluice-User": "late"])
            #expect(student.status == 503)
            #expect(student.errorCode == "system_busy")
            #expect(student.headers["retry-after"] == "30")
            let mongolian = try await node.client.post("/v1/chat/completions", json: Self.job("new"), headers: ["X-Sluice-User": "late", "Accept-Language": "mn"])
            #expect(((mongolian.json["error"] as? [String: Any])?["message"] as? String)?.contains("Систем завгүй байна") == true)
            // A teacher is admitted and served at once, on the worker kept for bypass.
            let teacher = try await node.client.post("/v1/chat/completions", json: Self.job("teacher"), headers: ["X-Sluice-User": "tina", "X-Sluice-Role": "teacher"])
            #expect(teacher.status == 200)
            // Work accepted before the overload continues once capacity frees.
            _ = try await node.client.delete("/v1/jobs/\(blocker)", headers: ["X-Sluice-User": "b"])
            for (id, user) in accepted { _ = try await node.client.waitForJob(id, states: ["succeeded"], headers: ["X-Sluice-User": user]) }
            #expect(try await node.client.get("/admin/api/status", headers: admin).json["tier"] as? String == "normal")
            #expect(try await node.client.post("/v1/chat/completions", json: Self.job("new"), headers: ["X-Sluice-User": "late"]).status == 200)
            #expect(try await node.client.get("/metrics").text.contains(#"sluice_rejections_total{reason="overload"} 2"#))
        }
    }

    @Test func theTierTightensLimitsAndSwitchesOnSimpleMode() async throws {
        try await TestNode.with(configure: {
            $0.queue.workers = 1
            $0.admission.plans = ["free": Self.plan { $0.requestsPerMinute = 10 }]
            $0.admission.tiers.highAt = 2
            $0.admission.tiers.peakAt = 8
            $0.admission.tiers.overloadAt = 1000
            $0.admission.tiers.simpleMaxTokens = 7
        }) { node in
            let blocker = try await node.client.submit(Self.job("blocker", extra: ["mock": ["tokens": 1, "ttft_ms": 60_000]]), headers: ["X-Sluice-User": "b"])
            _ = try await node.client.waitForJob(blocker, states: ["running"], headers: ["X-Sluice-User": "b"])
            // Load 1: normal, no cap from simple mode.
            let normal = try await node.client.submit(Self.job("n"), headers: ["X-Sluice-User": "n"])
            #expect(try await node.client.get("/v1/jobs/\(normal)", headers: ["X-Sluice-User": "n"]).json["max_tokens"] as? Int == 4096)
            // Load 2 and more: high, 5 a minute.
            var statuses: [Int] = []
            for n in 0..<6 { statuses.append(try await node.client.post("/v1/jobs", json: Self.job("h\(n)"), headers: ["X-Sluice-User": "h"]).status) }
            #expect(statuses == [202, 202, 202, 202, 202, 429])
            // Load 7, then 8: peak, where simple mode caps answers for students but not for teachers.
            _ = try await node.client.submit(Self.job("p1"), headers: ["X-Sluice-User": "p1"])
            let simple = try await node.client.submit(Self.job("p2"), headers: ["X-Sluice-User": "p2"])
            #expect(try await node.client.get("/v1/jobs/\(simple)", headers: ["X-Sluice-User": "p2"]).json["max_tokens"] as? Int == 7)
            let teacher = try await node.client.submit(Self.job("t"), headers: ["X-Sluice-User": "t", "X-Sluice-Role": "teacher"])
            #expect(try await node.client.get("/v1/jobs/\(teacher)", headers: ["X-Sluice-User": "t"]).json["max_tokens"] as? Int == 4096)
            let status = try await node.client.get("/admin/api/status", headers: ["X-Sluice-Role": "admin"]).json
            #expect(status["tier"] as? String == "peak")
            #expect(try await node.client.get("/metrics").text.contains("sluice_tier 2"))
            _ = try await node.client.delete("/v1/jobs/\(blocker)", headers: ["X-Sluice-User": "b"])
        }
    }

    @Test func simpleModeAddsTheBrevityInstruction() throws {
        var policy = AdmissionPolicy()
        policy.tiers.peakAt = 1
        policy.tiers.simpleMaxTokens = 50
        let controller = AdmissionController(policy: policy, metrics: SluiceMetrics(), clock: { Date() }, load: { 1 })
        var request = ChatRequest(model: "default", messages: [ChatMessage(role: "user", content: "Explain photosynthesis")], maxTokens: 500)
        _ = try controller.admit(&request, principal: Principal(tenant: "t", user: "u"), jobID: "j1")
        #expect(request.messages.first == ChatMessage(role: "system", content: policy.tiers.brevityInstruction))
        #expect(request.messages.count == 2)
        #expect(request.tokenCap == 50)
        var teacher = ChatRequest(model: "default", messages: [ChatMessage(role: "user", content: "Explain photosynthesis")], maxTokens: 500)
        _ = try controller.admit(&teacher, principal: Principal(tenant: "t", user: "v", role: "teacher"), jobID: "j2")
        #expect(teacher.messages.count == 1 && teacher.tokenCap == 500)
    }

    @Test func theCalendarSwitchesExamModeOnTheSchoolsMidnight() async throws {
        let now = Mutex(ISO8601DateFormatter().date(from: "2026-12-13T15:30:00Z")!)
        try await TestNode.with(configure: {
            $0.admission.plans = ["free": Self.plan { $0.requestsPerMinute = 10 }]
            var exam = Mode(name: "exam")
            exam.requestsPerMinute = 2
            $0.admission.modes = ["exam": exam]
            $0.admission.calendar = SchoolCalendar(
                timeZone: TimeZone(identifier: "Asia/Ulaanbaatar")!, periods: [.init(first: "2026-12-14", last: "2026-12-20", mode: "exam")])
        }, clock: { now.withLock { $0 } }) { node in
            let admin = ["X-Sluice-Role": "admin"]
            // 23:30 in Ulaanbaatar on the 13th: no mode, 10 a minute.
            #expect(try await node.client.get("/admin/api/status", headers: admin).json["mode"] is NSNull)
            for n in 0..<3 { #expect(try await node.client.post("/v1/jobs", json: Self.job("a\(n)"), headers: ["X-Sluice-User": "s1"]).status == 202) }
            // An hour later it is the 14th there: exam mode, 2 a minute for students.
            now.withLock { $0 = $0.addingTimeInterval(3600) }
            #expect(try await node.client.get("/admin/api/status", headers: admin).json["mode"] as? String == "exam")
            var statuses: [Int] = []
            for n in 0..<3 { statuses.append(try await node.client.post("/v1/jobs", json: Self.job("b\(n)"), headers: ["X-Sluice-User": "s2"]).status) }
            #expect(statuses == [202, 202, 429])
            // Teachers keep their plan's limit in exam mode.
            for n in 0..<3 {
                #expect(try await node.client.post("/v1/jobs", json: Self.job("t\(n)"), headers: ["X-Sluice-User": "t", "X-Sluice-Role": "teacher"]).status == 202)
            }
            #expect(try await node.client.get("/metrics").text.contains(#"sluice_mode{mode="exam"} 1"#))
            // An admin can switch the mode off by hand, and give it back to the calendar.
            #expect(try await node.client.send(.PUT, "/admin/api/mode", body: Data(#"{"mode": null}"#.utf8), headers: admin).json["mode_source"] as? String == "admin")
            #expect(try await node.client.get("/admin/api/status", headers: admin).json["mode"] is NSNull)
            #expect(try await node.client.delete("/admin/api/mode", headers: admin).json["mode"] as? String == "exam")
            #expect(try await node.client.send(.PUT, "/admin/api/mode", body: Data(#"{"mode": "exam"}"#.utf8)).status == 403)
        }
    }

    @Test func guardsStopAbuseBeforeAnyProviderCall() async throws {
        try await TestNode.with(configure: {
            $0.admission.plans = ["free": Self.plan { $0.maxPromptBytes = 100; $0.maxTokens = 50; $0.maxStreams = 2; $0.reconnectsPerMinute = 2 }]
        }) { node in
            let big = try await node.client.post("/v1/jobs", json: Self.job(String(repeating: "x", count: 101)))
            #expect(big.status == 400 && big.errorCode == "prompt_too_large")
            let greedy = try await node.client.post("/v1/jobs", json: Self.job("hi", extra: ["max_tokens": 51]))
            #expect(greedy.status == 400 && greedy.errorCode == "invalid_max_tokens")
            let unknownPlan = try await node.client.post("/v1/jobs", json: Self.job("hi"), headers: ["X-Sluice-Plan": "platinum"])
            #expect(unknownPlan.status == 400)
            #expect(node.node.mock.totalCalls == 0)
            // Slow enough that the three streams below stay open together, waiting for new events.
            let id = try await node.client.submit(Self.job("long", extra: ["mock": ["tokens": 50, "tokens_per_second": 2]]))
            async let one = node.client.events("/v1/jobs/\(id)/stream", limit: 2)
            async let two = node.client.events("/v1/jobs/\(id)/stream", limit: 2)
            _ = try await (one, two)
            // Both clients left; once the server notices (its next write fails), two more may open,
            // but never three at once.
            let user = Principal(tenant: "local", user: "anonymous", role: "student", plan: "free").userKey
            func streamsClosed() async throws {
                let deadline = Date().addingTimeInterval(20)
                while node.node.jobs.admission.openStreams(of: user) > 0 {
                    guard Date() < deadline else { throw TestFailure("the server never noticed the clients leave") }
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            try await streamsClosed()
            let streams = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<3 { group.addTask { try await node.client.events("/v1/jobs/\(id)/stream", limit: 12).status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(streams.sorted() == [200, 200, 429])
            for _ in 0..<2 {
                try await streamsClosed()
                #expect(try await node.client.events("/v1/jobs/\(id)/stream?after=1", limit: 1).status == 200)
            }
            try await streamsClosed()
            let tooMany = try await node.client.get("/v1/jobs/\(id)/stream?after=1")
            #expect(tooMany.status == 429 && tooMany.errorCode == "too_many_reconnects")
            _ = try await node.client.delete("/v1/jobs/\(id)")
        }
    }
}
