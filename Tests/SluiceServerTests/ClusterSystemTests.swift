import Foundation
import NIOHTTP1
import SluiceCore
import SluiceTesting
import Testing

/// The cluster as one system: the tier follows the whole cluster's work, a provider account's caps hold
/// across aliases and nodes, and an invalidation reaches entries wherever they are.
@Suite struct ClusterSystemTests {
    @Test func oneAccountsCapHoldsAcrossAliasesAndNodes() async throws {
        try await FakeUpstream.with { fake in
            fake.fallback(.answer(tokens: 10, tokensPerSecond: 10))
            let config = """
                cluster: {leaseSeconds: 2, pollSeconds: 0.2}
                queue: {workers: 32, maxRunningPerUser: 100}
                deployments:
                  names: [account]
                  account: {provider: openai, baseURL: "\(fake.openAIBaseURL)", model: up, maxInFlight: 4, timeouts: {firstToken: 60, idle: 60, total: 120}}
                models:
                  aliases: [tutor, grader]
                  tutor: {deployments: [account]}
                  grader: {deployments: [account]}

                """
            let url = try await TestPostgres.makeDatabase()
            let nodes = try await ClusterTests.nodes(3, on: url, config: config)
            defer { nodes.forEach { $0.kill() } }
            // Every node has heard of the others: each takes its share of the cap.
            for node in nodes {
                try await eventually("every node counts three live nodes", every: .milliseconds(100)) {
                    let status = try await node.client.get("/admin/api/status", headers: ["X-Sluice-Role": "admin"]).json
                    return (status["cluster"] as? [String: Any])?["nodes"] as? Int == 3
                }
            }
            let replies = try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 0..<24 {
                    group.addTask {
                        let body: [String: Any] = ["model": n % 2 == 0 ? "tutor" : "grader", "messages": [["role": "user", "content": "question \(n)"]]]
                        return try await nodes[n % 3].client.post("/v1/chat/completions", json: body, headers: ["X-Sluice-User": "student-\(n)"]).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(replies.allSatisfy { $0 == 200 }, "\(replies)")
            #expect(fake.received.count == 24)
            #expect(fake.maxInFlight <= 4, "the account saw \(fake.maxInFlight) calls at once")
            #expect(fake.maxInFlight >= 3, "the nodes used their shares")
        }
    }

    static func ask(_ node: SluiceProcess, _ question: String) async throws -> HTTPTestClient.Reply {
        try await node.client.post("/v1/chat/completions", json: ["model": "tutor", "messages": [["role": "user", "content": question]]])
    }

    @Test func aProvidersRetryAfterHoldsOnEveryNode() async throws {
        try await FakeUpstream.with { fake in
            fake.script([.throttled(retryAfter: "6")])
            fake.fallback(.answer(tokens: 3))
            let config = """
                cluster: {leaseSeconds: 2, pollSeconds: 0.2}
                deployments:
                  names: [account]
                  account: {provider: openai, baseURL: "\(fake.openAIBaseURL)", model: up, timeouts: {firstToken: 60, idle: 60, total: 120}}
                models:
                  aliases: [tutor]
                  tutor: {deployments: [account]}

                """
            let nodes = try await ClusterTests.nodes(2, config: config)
            defer { nodes.forEach { $0.kill() } }
            // Node A's call is told to wait six seconds.
            async let first = Self.ask(nodes[0], "first question")
            var waited = 0
            while fake.received.isEmpty {
                waited += 1
                guard waited < 300 else { throw TestFailure("the provider was never called") }
                try await Task.sleep(for: .milliseconds(20))
            }
            let throttledAt = fake.received[0].at
            // Node B hears of it through the store…
            var cooling = 0.0
            for _ in 0..<50 where cooling <= 0 {
                let status = try await nodes[1].client.get("/admin/api/status", headers: ["X-Sluice-Role": "admin"]).json
                cooling = ((status["deployments"] as? [[String: Any]])?.first?["cooling_seconds"] as? Double) ?? 0
                if cooling <= 0 { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(cooling > 0, "node B never heard that the account cools down")
            print("cluster cool-down: node B kept the account aside \(Int(Date().timeIntervalSince(throttledAt) * 1000)) ms after node A's 429 (poll 0.2 s)")
            // …and leaves the account alone until then, though it had never called it.
            #expect(try await Self.ask(nodes[1], "second question").status == 200)
            #expect(try await first.status == 200)
            let later = fake.received.dropFirst().map { $0.at.timeIntervalSince(throttledAt) }
            #expect(later.count == 2)
            #expect(later.allSatisfy { $0 >= 5 }, "calls after the 429 came \(later) seconds after it")
        }
    }

    @Test func theTierFollowsTheWholeClustersWork() async throws {
        let nodes = try await ClusterTests.nodes(3, config: "cluster: {leaseSeconds: 2, pollSeconds: 0.2}\ntiers: {highAt: 3}\n")
        defer { nodes.forEach { $0.kill() } }
        let admin = ["X-Sluice-Role": "admin"]
        #expect(try await nodes[1].client.get("/admin/api/status", headers: admin).json["tier"] as? String == "normal")
        for n in 0..<5 {
            _ = try await nodes[0].client.submit(chatBody("long question \(n)", mock: ["tokens": 200, "tokens_per_second": 20]))
        }
        // Every node's tier switches with the cluster's load, those that run none of it included.
        for node in nodes {
            try await eventually("every node's tier is high", every: .milliseconds(100)) {
                try await node.client.get("/admin/api/status", headers: admin).json["tier"] as? String == "high"
            }
        }
    }

    @Test func anInvalidationRemovesMatchingEntriesEverywhereEvenThoseTheInvalidatingNodeDoesNotHold() async throws {
        let url = try await TestPostgres.makeDatabase()
        let directory = TemporaryDirectory.make()
        try "cluster: {leaseSeconds: 2, pollSeconds: 0.2}\n".write(toFile: directory + "/sluice.yaml", atomically: true, encoding: .utf8)
        // B holds one entry in memory at most: it learns of A's answers, but keeps only the last.
        var nodes: [SluiceProcess] = []
        for (n, environment) in [[:], ["SLUICE_CACHE_MAX_ENTRIES": "1"]].enumerated() {
            nodes.append(try await SluiceProcess(
                dataDirectory: directory + "/node\(n)", environment: environment.merging(["SLUICE_DATABASE_URL": url]) { $1 },
                arguments: ["--config", directory + "/sluice.yaml"], logFile: directory + "/node\(n).log"))
        }
        defer { nodes.forEach { $0.kill() } }
        let chemistry = ["X-Sluice-Namespace": "chemistry"]
        let questions = ["What is the boiling point of water?", "What is the melting point of iron?"].map { chatBody($0, mock: ["tokens": 6]) }
        for question in questions {
            #expect(try await nodes[0].client.post("/v1/chat/completions", json: question, headers: chemistry).status == 200)
        }
        #expect(try await nodes[0].client.post("/v1/chat/completions", json: questions[0], headers: chemistry).headers["x-sluice-cache"] == "exact")
        // Wait until B has seen both (it serves the second; the first left its memory). Its own misses
        // meanwhile store nothing: a node's eviction deletes the row (a documented departure).
        var seen: String?
        let noStore = chemistry.merging(["Cache-Control": "no-store"]) { $1 }
        for _ in 0..<50 where seen != "exact" {
            seen = try await nodes[1].client.post("/v1/chat/completions", json: questions[1], headers: noStore).headers["x-sluice-cache"]
            if seen != "exact" { try await Task.sleep(for: .milliseconds(100)) }
        }
        let removed = try await nodes[1].client.delete("/admin/api/cache?namespace=chemistry", headers: ["X-Sluice-Role": "admin"])
        #expect(removed.json["removed"] as? Int == 2, "\(removed.text)")
        // A stops serving the first too, which B never held when it invalidated.
        var served = "exact"
        for _ in 0..<50 where served == "exact" {
            try await Task.sleep(for: .milliseconds(100))
            served = try await nodes[0].client.post("/v1/chat/completions", json: questions[0], headers: chemistry.merging(["Cache-Control": "no-store"]) { $1 }).headers["x-sluice-cache"] ?? ""
        }
        #expect(served == "miss")
    }
}
