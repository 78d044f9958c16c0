import Foundation
import NIOHTTP1
import SluiceCore
import SluiceProviders
import SluiceStore
@testable import SluiceServer
import SluiceTesting
import Testing

/// Usage and cost from the rollup: the sum of a user's answers, however they were answered, kept after
/// the jobs; a month's spend cap per user.
@Suite struct UsageTests {
    /// The usage the caller's own jobs say, summed (cache hits excluded: they cost nothing).
    static func summed(_ node: TestNode, headers: [String: String]) async throws -> (prompt: Int, completion: Int, hits: Int, count: Int) {
        let jobs = try await node.client.get("/v1/jobs?limit=100", headers: headers).json["data"] as? [[String: Any]] ?? []
        var total = (prompt: 0, completion: 0, hits: 0, count: jobs.count)
        for job in jobs {
            let usage = (job["result"] as? [String: Any])?["usage"] as? [String: Any] ?? [:]
            if job["cache"] != nil { total.hits += 1; continue }
            total.prompt += usage["prompt_tokens"] as? Int ?? 0
            total.completion += usage["completion_tokens"] as? Int ?? 0
        }
        return total
    }

    @Test func usageIsTheSumOfTheAnswersHoweverTheyCameAndOutlivesTheJobs() async throws {
        try await FakeUpstream.with { flaky in
            try await FakeUpstream.with { good in
                flaky.fallback(.cutAfter(3))
                try await TestNode.with(configure: { configuration in
                    ProviderTests.configure(&configuration, [ProviderTests.deployment("flaky", flaky), ProviderTests.deployment("good", good)])
                    configuration.deployments.append(Deployment(name: "mock", kind: .mock, model: "mock"))
                    configuration.aliases.append(ModelAlias(name: "default", deployments: ["mock"]))
                    configuration.retention.sweepSeconds = 0.1
                }) { node in
                    let alice = ["X-Sluice-User": "alice"]
                    _ = try await node.client.post("/v1/chat/completions", json: chatBody("plain", mock: ["tokens": 7]), headers: alice)
                    _ = try await node.client.events("/v1/chat/completions", method: .POST, json: chatBody("streamed", stream: true, mock: ["tokens": 9]), headers: alice)
                    _ = try await node.client.post("/v1/chat/completions", json: chatBody("plain", mock: ["tokens": 7]), headers: alice)  // a cache hit
                    _ = try await node.client.post("/v1/chat/completions", json: ["model": "gpt", "messages": [["role": "user", "content": "failed over"]]], headers: alice)
                    _ = try await node.client.post("/v1/responses", json: ["model": "default", "input": "a response", "mock": ["tokens": 4]], headers: alice)
                    _ = try await node.client.post("/v1/chat/completions", json: chatBody("bob's", mock: ["tokens": 3]), headers: ["X-Sluice-User": "bob"])
                    let jobs = try await Self.summed(node, headers: alice)
                    // A chat completion served from the cache makes no job: four jobs, five answers.
                    #expect(jobs.count == 4 && jobs.hits == 0)
                    let usage = try await node.client.get("/v1/usage", headers: alice).json
                    let total = try #require(usage["total"] as? [String: Any])
                    #expect(total["requests"] as? Int == 5)
                    #expect(total["prompt_tokens"] as? Int == jobs.prompt && total["completion_tokens"] as? Int == jobs.completion, "\(total) vs \(jobs)")
                    #expect(total["cache_hits"] as? Int == 1)
                    let byDeployment = try await node.client.get("/v1/usage?group_by=deployment", headers: alice).json["data"] as? [[String: Any]] ?? []
                    #expect(Set(byDeployment.compactMap { $0["deployment"] as? String }) == ["mock", "good", "cache"], "the failed-over job is counted on the deployment that answered")
                    // The jobs go (history of a moment); the usage stays.
                    await node.node.sweeper.sweep(now: Date().addingTimeInterval(400 * 86400))
                    #expect(try await Self.summed(node, headers: alice).count == 0, "the jobs are gone")
                    let after = try await node.client.get("/v1/usage", headers: alice).json["total"] as? [String: Any]
                    #expect(after?["requests"] as? Int == 5 && after?["prompt_tokens"] as? Int == jobs.prompt)
                    // The admin's view, by user, as CSV.
                    let csv = try await node.client.get("/admin/api/usage?group_by=user", headers: ["X-Sluice-Role": "admin", "Accept": "text/csv"])
                    #expect(csv.headers["content-type"] == "text/csv; charset=utf-8")
                    let lines = csv.text.split(separator: "\n")
                    #expect(lines.first == "user,requests,failures,prompt_tokens,completion_tokens,total_tokens,cost_usd,cache_hits,saved_tokens")
                    #expect(lines.dropFirst().map { $0.split(separator: ",").first.map(String.init) } == ["alice", "bob"])
                    #expect(try await node.client.get("/v1/usage?group_by=week", headers: alice).status == 400)
                    #expect(try await node.client.get("/v1/usage?from=yesterday", headers: alice).status == 400)
                }
            }
        }
    }

    @Test func aJobRestartedAfterAKill9IsCountedOnce() async throws {
        let data = TemporaryDirectory.make()
        let first = try await SluiceProcess(dataDirectory: data, environment: ["SLUICE_QUEUE_WORKERS": "1"])
        // Five seconds of answer: long enough that a loaded machine cannot finish it before the kill.
        let id = try await first.client.submit(chatBody("a long answer", mock: ["tokens": 200, "tokens_per_second": 40]))
        _ = try await first.client.events("/v1/jobs/\(id)/stream", limit: 3)
        let before = try await first.client.get("/v1/jobs/\(id)").json["state"] as? String
        first.kill()
        try #require(before == "running", "the answer must still be streaming when the node dies, not \(before ?? "nil")")
        let second = try await SluiceProcess(dataDirectory: data, environment: ["SLUICE_QUEUE_WORKERS": "1"])
        defer { second.kill() }
        let job = try await second.client.waitForJob(id, states: ["succeeded"])
        #expect(job["attempt"] as? Int == 2)
        let usage = try #require((job["result"] as? [String: Any])?["usage"] as? [String: Any])
        let total = try #require(try await second.client.get("/v1/usage").json["total"] as? [String: Any])
        #expect(total["requests"] as? Int == 1)
        #expect(total["completion_tokens"] as? Int == usage["completion_tokens"] as? Int && total["prompt_tokens"] as? Int == usage["prompt_tokens"] as? Int)
    }

    @Test func aUsersMonthlySpendCapRefusesTheRequestAfterItIsReached() async throws {
        try await FakeUpstream.with { upstream in
            try await TestNode.with(configure: { configuration in
                ProviderTests.configure(&configuration, [ProviderTests.deployment("priced", upstream) { $0.prices.inputPerMillion = 100_000; $0.prices.outputPerMillion = 100_000 }])
                var plan = configuration.admission.plans["free"]!
                plan.spendPerMonthUSD = 2.5
                configuration.admission.plans["free"] = plan
            }) { node in
                let alice = ["X-Sluice-User": "alice"]
                // Each answer costs (11 prompt + 8 completion tokens) × $0.10 = $1.90.
                let first = try await node.client.post("/v1/chat/completions", json: ["model": "gpt", "messages": [["role": "user", "content": "one"]]], headers: alice)
                #expect(first.status == 200)
                let second = try await node.client.post("/v1/chat/completions", json: ["model": "gpt", "messages": [["role": "user", "content": "two"]]], headers: alice)
                #expect(second.status == 200, "under the cap when admitted: it may pass the cap by its own cost")
                let third = try await node.client.post("/v1/chat/completions", json: ["model": "gpt", "messages": [["role": "user", "content": "three"]]], headers: alice)
                #expect(third.status == 429 && third.errorCode == "budget_exceeded", "\(third.text)")
                let bob = try await node.client.post("/v1/chat/completions", json: ["model": "gpt", "messages": [["role": "user", "content": "one"]]], headers: ["X-Sluice-User": "bob"])
                #expect(bob.status == 200, "another user's month is their own")
                let cost = try await node.client.get("/v1/usage", headers: alice).json["total"] as? [String: Any]
                #expect(abs((cost?["cost_usd"] as? Double ?? 0) - 3.8) < 0.001)
            }
        }
    }
}

/// The rollup's day of a moment, by arithmetic, against Foundation's ISO 8601 formatter in UTC.
@Suite struct UsageDayTests {
    @Test func theDayOfAMomentIsFoundationsUTCDay() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        var rng = SystemRandomNumberGenerator()
        var moments: [Double] = [0, -1, 86_399.999, 86_400, 951_782_400, 951_868_799, 4_107_542_400, 1_796_083_200 - 0.001, -86_400 * 365.25 * 30]
        moments += (0..<2_000).map { _ in Double.random(in: -2_000_000_000...7_000_000_000, using: &rng) }
        for seconds in moments {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(UsageRow.day(of: date) == formatter.string(from: date), "\(seconds)")
        }
    }
}
