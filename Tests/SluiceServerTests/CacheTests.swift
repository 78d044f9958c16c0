import Foundation
import NIOHTTP1
import SluiceCache
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore
import SluiceTesting
import Testing

@Suite struct CacheTests {
    static func ask(_ content: String, tokens: Int = 6, extra: [String: Any] = [:]) -> [String: Any] {
        ["model": "default", "messages": [["role": "user", "content": content]], "mock": ["tokens": tokens]].merging(extra) { $1 }
    }

    static func text(_ reply: HTTPTestClient.Reply) -> String {
        (((reply.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String) ?? ""
    }

    /// A non-streamed hit is served from bytes encoded once per cached answer: the same bytes each time,
    /// with the answer's own time, and never an older answer's once the cache holds a newer one.
    @Test func aHitIsTheSameBytesUntilItsAnswerIsReplaced() async throws {
        try await TestNode.with { node in
            let question = Self.ask("What is a prism?")
            _ = try await node.client.post("/v1/chat/completions", json: question)
            let hit = try await node.client.post("/v1/chat/completions", json: question)
            let again = try await node.client.post("/v1/chat/completions", json: question)
            #expect(hit.headers["x-sluice-cache"] == "exact" && again.headers["x-sluice-cache"] == "exact")
            #expect(hit.text == again.text)
            // Each hit still counts against its plan: its own rate-limit headers.
            #expect(hit.headers["x-ratelimit-remaining-requests"] != nil || hit.headers["x-ratelimit-reset"] != nil)
            let created = try #require(hit.json["created"] as? Int)
            try await Task.sleep(for: .milliseconds(1100))
            // Asked again past the cache: the new answer replaces the cached one, and hits serve it.
            let fresh = try await node.client.post("/v1/chat/completions", json: question, headers: ["Cache-Control": "no-cache"])
            #expect(fresh.headers["x-sluice-cache"] == "miss")
            let newer = try await node.client.post("/v1/chat/completions", json: question)
            #expect(newer.headers["x-sluice-cache"] == "exact")
            #expect(try #require(newer.json["created"] as? Int) > created, "\(newer.text)")
            #expect(node.node.mock.totalCalls == 2)
        }
    }

    /// A streamed hit is the cached answer's events made once per answer and form (with or without the
    /// usage chunk): the same events each time, numbered from 1, never a non-streamed hit's body, and the
    /// newer answer's once the cache holds one.
    @Test func aStreamedHitIsTheSameEventsUntilItsAnswerIsReplaced() async throws {
        try await TestNode.with { node in
            let question = Self.ask("What is a lens?")
            let streamed = Self.ask("What is a lens?", extra: ["stream": true])
            let withUsage = Self.ask("What is a lens?", extra: ["stream": true, "stream_options": ["include_usage": true]])
            let miss = try await node.client.events("/v1/chat/completions", method: .POST, json: streamed)
            #expect(miss.headers["x-sluice-cache"] == "miss")
            let hit = try await node.client.events("/v1/chat/completions", method: .POST, json: streamed)
            let again = try await node.client.events("/v1/chat/completions", method: .POST, json: streamed)
            #expect(hit.headers["x-sluice-cache"] == "exact" && again.headers["x-sluice-cache"] == "exact")
            #expect(hit.events.map(\.id) == again.events.map(\.id) && hit.events.map(\.data) == again.events.map(\.data))
            #expect(hit.events.dropLast().compactMap(\.seq) == Array(1...(hit.events.count - 1)))
            #expect(hit.events.last?.data == "[DONE]")
            func text(_ stream: SSEStream) -> String {
                stream.events.dropLast().compactMap { (($0.json["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String }.joined()
            }
            #expect(!text(hit).isEmpty && text(hit) == text(miss))
            #expect(hit.events.allSatisfy { $0.json["usage"] == nil })
            // The other form of the same answer: one usage chunk more, before [DONE].
            let counted = try await node.client.events("/v1/chat/completions", method: .POST, json: withUsage)
            #expect(counted.events.count == hit.events.count + 1)
            #expect(counted.events.dropLast().last?.json["usage"] != nil)
            #expect(text(counted) == text(hit))
            // Not streamed, the same answer is one chat.completion object.
            let whole = try await node.client.post("/v1/chat/completions", json: question)
            #expect(whole.headers["x-sluice-cache"] == "exact")
            #expect(whole.json["object"] as? String == "chat.completion" && Self.text(whole) == text(hit))
            let created = try #require(hit.events.first?.json["created"] as? Int)
            try await Task.sleep(for: .milliseconds(1100))
            _ = try await node.client.post("/v1/chat/completions", json: question, headers: ["Cache-Control": "no-cache"])
            let newer = try await node.client.events("/v1/chat/completions", method: .POST, json: streamed)
            #expect(newer.headers["x-sluice-cache"] == "exact")
            #expect(try #require(newer.events.first?.json["created"] as? Int) > created)
            #expect(node.node.mock.totalCalls == 2)
        }
    }

    @Test func aRepeatedQuestionIsAnsweredFromTheCacheInEveryFormat() async throws {
        try await TestNode.with { node in
            let first = try await node.client.post("/v1/chat/completions", json: Self.ask("What is refraction?"))
            #expect(first.headers["x-sluice-cache"] == "miss")
            let second = try await node.client.post("/v1/chat/completions", json: Self.ask("What is refraction?"))
            #expect(second.headers["x-sluice-cache"] == "exact")
            #expect(second.headers["x-ratelimit-reset"] != nil)
            #expect(Self.text(second) == Self.text(first))
            #expect((second.json["usage"] as? [String: Int]) == (first.json["usage"] as? [String: Int]))
            #expect(node.node.mock.totalCalls == 1)
            // Streamed, in OpenAI's chunk format.
            let streamed = try await node.client.events(
                "/v1/chat/completions", method: .POST, json: Self.ask("What is refraction?", extra: ["stream": true, "stream_options": ["include_usage": true]]))
            #expect(streamed.headers["x-sluice-cache"] == "exact")
            #expect(streamed.events.last?.data == "[DONE]")
            let pieces = streamed.events.dropLast().compactMap { (($0.json["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String }
            #expect(pieces.joined() == Self.text(first))
            #expect(streamed.events.dropLast().last?.json["usage"] != nil)
            // Through the jobs API: a finished job whose stream replays the answer.
            let job = try await node.client.post("/v1/jobs", json: Self.ask("What is refraction?"))
            #expect(job.status == 202)
            #expect(job.json["state"] as? String == "succeeded")
            #expect(job.json["cache"] as? String == "exact")
            let replay = try await node.client.events("/v1/jobs/\(job.json["id"] as! String)/stream")
            #expect(replay.answer == Self.text(first))
            #expect(replay.events.last?.json["cache"] as? String == "exact")
            #expect(node.node.mock.totalCalls == 1)
            let metrics = try await node.client.get("/metrics").text
            #expect(metrics.contains(#"sluice_cache_lookups_total{layer="exact",result="hit"} 3"#))
            #expect(metrics.contains(#"sluice_cache_lookups_total{layer="exact",result="miss"} 1"#))
            #expect(metrics.contains("sluice_cache_entries 1"))
        }
    }

    @Test func cacheControlAndEveryParameterThatChangesTheAnswerAreHonoured() async throws {
        // The exact layer alone: the semantic one would (rightly) match "Q" and "q".
        try await TestNode.with(configure: { $0.semantic.enabled = false }) { node in
            _ = try await node.client.post("/v1/chat/completions", json: Self.ask("q"))
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("q"), headers: ["Cache-Control": "no-cache"]).headers["x-sluice-cache"] == "miss")
            #expect(node.node.mock.totalCalls == 2)
            for variant in [
                Self.ask("q", extra: ["temperature": 0.3]), Self.ask("q", extra: ["top_p": 0.5]), Self.ask("q", extra: ["max_tokens": 99]),
                Self.ask("q", extra: ["model": "mock"]), Self.ask("Q"),
            ] {
                #expect(try await node.client.post("/v1/chat/completions", json: variant).headers["x-sluice-cache"] == "miss")
            }
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("q"), headers: ["X-Sluice-Namespace": "physics:10"]).headers["x-sluice-cache"] == "miss")
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("q"), headers: ["X-Sluice-Namespace": "physics:10"]).headers["x-sluice-cache"] == "exact")
            // no-store: answered fresh and not kept.
            _ = try await node.client.post("/v1/chat/completions", json: Self.ask("private"), headers: ["Cache-Control": "no-store"])
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("private")).headers["x-sluice-cache"] == "miss")
            // A conversation with other earlier turns is another key.
            let turns: [String: Any] = ["model": "default", "messages": [["role": "user", "content": "hi"], ["role": "assistant", "content": "hello"], ["role": "user", "content": "q"]], "mock": ["tokens": 6]]
            #expect(try await node.client.post("/v1/chat/completions", json: turns).headers["x-sluice-cache"] == "miss")
        }
    }

    @Test func noAnswerIsEverServedAcrossTenants() async throws {
        try await TestNode.with(configure: { $0.auth.apiKeys = ["school-a:key-a", "school-b:key-b"] }) { node in
            let a = ["Authorization": "Bearer key-a"]
            let b = ["Authorization": "Bearer key-b"]
            _ = try await node.client.post("/v1/chat/completions", json: Self.ask("Why is the sky blue?"), headers: a)
            // Near-identical and identical questions from another tenant: no hit, exact or semantic.
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("why is the sky blue"), headers: b).headers["x-sluice-cache"] == "miss")
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("Why is the sky blue?"), headers: b).headers["x-sluice-cache"] != "exact")
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("Why is the sky blue?"), headers: a).headers["x-sluice-cache"] == "exact")
            #expect(node.node.mock.totalCalls == 2)
            // Headers cannot pick another tenant's entries.
            _ = try await node.client.post("/v1/chat/completions", json: Self.ask("Who painted the Mona Lisa?"), headers: a)
            let spoof = ["Authorization": "Bearer key-b", "X-Sluice-Tenant": "school-a", "X-Sluice-Namespace": ""]
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("Who painted the Mona Lisa?"), headers: spoof).headers["x-sluice-cache"] == "miss")
            #expect(node.node.mock.totalCalls == 4)
        }
    }

    @Test func identicalRequestsInFlightShareOneProviderCall() async throws {
        try await TestNode.with { node in
            let replies = try await withThrowingTaskGroup(of: HTTPTestClient.Reply.self) { group in
                for n in 0..<6 {
                    group.addTask {
                        let body = Self.ask("shared question", extra: ["mock": ["tokens": 20, "tokens_per_second": 50]])
                        return try await node.client.post("/v1/chat/completions", json: body, headers: ["X-Sluice-User": "student-\(n)"])
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(replies.allSatisfy { $0.status == 200 })
            #expect(Set(replies.map(Self.text)).count == 1)
            #expect(Self.text(replies[0]).split(separator: " ").count == 20)
            #expect(node.node.mock.totalCalls == 1)
            let followers = replies.filter { $0.headers["x-sluice-single-flight"] == "follower" }
            #expect(followers.count == 5)
            // A follower can read and resume the job it followed.
            let follower = try #require(followers.first)
            let jobID = try #require(follower.headers["x-sluice-job-id"])
            let index = replies.firstIndex { $0.headers["x-sluice-job-id"] == jobID && $0.headers["x-sluice-single-flight"] == "follower" }!
            let user = ["X-Sluice-User": "student-\(index)"]
            #expect(try await node.client.get("/v1/jobs/\(jobID)", headers: user).status == 200)
            #expect(try await node.client.events("/v1/jobs/\(jobID)/stream?after=5", headers: user).events.count == 16)
            // Someone who neither owns nor follows it still gets 404.
            #expect(try await node.client.get("/v1/jobs/\(jobID)", headers: ["X-Sluice-User": "stranger"]).status == 404)
        }
    }

    @Test func hitsAreServedInOverloadAndCountOnlyAMessage() async throws {
        try await TestNode.with(configure: {
            $0.queue.workers = 1
            $0.admission.reservedBypassWorkers = 0
            $0.admission.tiers.highAt = 100
            $0.admission.tiers.peakAt = 100
            $0.admission.tiers.overloadAt = 2
            var plan = Plan(name: "free")
            plan.requestsPerMinute = 3
            plan.messagesPerDay = 6
            $0.admission.plans = ["free": plan]
        }) { node in
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("popular")).status == 200)
            let blocker = try await node.client.submit(Self.ask("blocker", extra: ["mock": ["tokens": 1, "ttft_ms": 60_000]]), headers: ["X-Sluice-User": "b"])
            _ = try await node.client.submit(Self.ask("queued"), headers: ["X-Sluice-User": "c"])
            _ = try await node.client.waitForJob(blocker, states: ["running"], headers: ["X-Sluice-User": "b"])
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("new question")).status == 503)
            // Hits pass overload and the per-minute limit (3), and count against the day's messages (6).
            var statuses: [Int] = []
            for _ in 0..<6 { statuses.append(try await node.client.post("/v1/chat/completions", json: Self.ask("popular")).status) }
            #expect(statuses == [200, 200, 200, 200, 200, 429])
            _ = try await node.client.delete("/v1/jobs/\(blocker)", headers: ["X-Sluice-User": "b"])
        }
    }

    @Test func entriesExpireAreEvictedAndCanBeInvalidatedOrImported() async throws {
        try await TestNode.with(configure: { $0.cache.maxEntries = 2 }) { node in
            let admin = ["X-Sluice-Role": "admin"]
            for question in ["one", "two", "three"] { _ = try await node.client.post("/v1/chat/completions", json: Self.ask(question)) }
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("three")).headers["x-sluice-cache"] == "exact")
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("one")).headers["x-sluice-cache"] == "miss")
            #expect(try await node.client.get("/metrics").text.contains("sluice_cache_evictions 2"))
            // Import an answered question, then invalidate by tag and by namespace.
            let imported = try await node.client.post(
                "/admin/api/cache", json: ["question": "What is light?", "namespace": "physics", "answer": "Electromagnetic radiation.", "tags": ["ch1"]],
                headers: admin)
            #expect(imported.status == 201)
            let hit = try await node.client.post("/v1/chat/completions", json: ["model": "default", "messages": [["role": "user", "content": "What is light?"]]], headers: ["X-Sluice-Namespace": "physics"])
            #expect(hit.headers["x-sluice-cache"] == "exact")
            #expect(Self.text(hit) == "Electromagnetic radiation.")
            #expect(try await node.client.delete("/admin/api/cache?tag=ch1", headers: admin).json["removed"] as? Int == 1)
            #expect(try await node.client.delete("/admin/api/cache?tag=ch1", headers: admin).json["removed"] as? Int == 0)
            #expect(try await node.client.delete("/admin/api/cache", headers: admin).status == 400)
            #expect(try await node.client.delete("/admin/api/cache?namespace=physics").status == 403)
        }
        // A TTL long enough for the second ask to come before it even on a busy machine.
        try await TestNode.with(configure: { $0.cache.ttlSeconds = 3 }) { node in
            _ = try await node.client.post("/v1/chat/completions", json: Self.ask("fleeting"))
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("fleeting")).headers["x-sluice-cache"] == "exact")
            // Time itself: the entry must outlive its 3 s TTL.
            try await Task.sleep(for: .milliseconds(3100))
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("fleeting")).headers["x-sluice-cache"] == "miss")
        }
    }

    @Test func theCacheSurvivesARestart() async throws {
        let data = TemporaryDirectory.make()
        let first = try await TestNode.with(dataDirectory: data) { node in
            Self.text(try await node.client.post("/v1/chat/completions", json: Self.ask("kept")))
        }
        try await TestNode.with(dataDirectory: data) { node in
            let again = try await node.client.post("/v1/chat/completions", json: Self.ask("kept"))
            #expect(again.headers["x-sluice-cache"] == "exact")
            #expect(Self.text(again) == first)
            #expect(node.node.mock.totalCalls == 0)
        }
    }

    @Test func simpleModeAnswersAreNotCached() async throws {
        try await TestNode.with(configure: { $0.admission.tiers.simpleModeFrom = .normal }) { node in
            _ = try await node.client.post("/v1/chat/completions", json: Self.ask("brief"))
            #expect(try await node.client.post("/v1/chat/completions", json: Self.ask("brief")).headers["x-sluice-cache"] == "miss")
        }
    }
}
