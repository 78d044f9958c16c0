import Foundation
import Logging
import NIOCore
import SluiceCore
import SluiceStore
import SluiceTesting
import Testing

/// What nodes sharing one PostgreSQL database keep together: rate, token and stream limits, daily
/// quotas and the cache, each held across nodes as on one.
@Suite struct ClusterSharedLimitsTests {
    @Test func aRateLimitAcrossThreeNodesAdmitsAtMostTheLimit() async throws {
        let limit = 5
        let nodes = try await ClusterTests.nodes(3, config: """
            cluster: {leaseSeconds: 2, pollSeconds: 0.2}
            plans: {names: [free], free: {requestsPerMinute: \(limit)}}
            cache: {enabled: false}
            """)
        defer { nodes.forEach { $0.kill() } }
        // The shared window is a calendar minute: start well inside one.
        let second = Int(Date().timeIntervalSince1970) % 60
        if second > 50 { try await Task.sleep(for: .seconds(61 - second)) }
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for n in 0..<15 {
                group.addTask {
                    try await nodes[n % 3].client.post(
                        "/v1/chat/completions", json: chatBody("question \(n)", mock: ["tokens": 2]), headers: ["X-Sluice-User": "eager-student"]
                    ).status
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == 200 }.count == limit, "\(statuses)")
        #expect(statuses.filter { $0 == 429 }.count == 15 - limit)
    }

    @Test func aTokensPerMinuteLimitAcrossThreeNodesAdmitsAtMostTheLimit() async throws {
        // Each request reserves its prompt (a few tokens) and its 100-token cap: three fit in 350, four do not.
        let nodes = try await ClusterTests.nodes(3, config: """
            cluster: {leaseSeconds: 2, pollSeconds: 0.2}
            plans: {names: [free], free: {requestsPerMinute: 0, tokensPerMinute: 350}}
            cache: {enabled: false}
            """)
        defer { nodes.forEach { $0.kill() } }
        // The shared window is a calendar minute: start well inside one.
        let second = Int(Date().timeIntervalSince1970) % 60
        if second > 50 { try await Task.sleep(for: .seconds(61 - second)) }
        let replies = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
            for n in 0..<12 {
                group.addTask {
                    let reply = try await nodes[n % 3].client.post(
                        "/v1/chat/completions", json: chatBody("essay \(n)", mock: ["tokens": 2], extra: ["max_tokens": 100]),
                        headers: ["X-Sluice-User": "token-hungry"])
                    return (reply.status, reply.errorCode)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(replies.filter { $0.0 == 200 }.count == 3, "\(replies)")
        #expect(replies.filter { $0.0 == 429 }.count == 9)
        #expect(replies.filter { $0.0 == 429 }.allSatisfy { $0.1 == "rate_limited" })
    }

    @Test func aUsersOpenStreamsAcrossNodesStayWithinThePlansLimit() async throws {
        let url = try await TestPostgres.makeDatabase()
        let nodes = try await ClusterTests.nodes(3, on: url, config: """
            cluster: {leaseSeconds: 2, pollSeconds: 0.2}
            plans: {names: [free], free: {requestsPerMinute: 0, maxStreams: 2}}
            """)
        defer { nodes.forEach { $0.kill() } }
        let tabs = ["X-Sluice-User": "many-tabs"]
        let id = try await nodes[0].client.submit(chatBody("a long reading", mock: ["tokens": 600, "tokens_per_second": 20]), headers: tabs)
        let path = "/v1/jobs/\(id)/stream"
        // Two tabs on two nodes…
        async let first = nodes[0].client.events(path, headers: tabs)
        async let second = nodes[1].client.events(path, headers: tabs)
        var open = 0
        for _ in 0..<100 where open < 2 {
            open = Int(try await TestPostgres.query(url, "SELECT coalesce(sum(count), 0) FROM sluice_open_stream WHERE user_key LIKE '%many-tabs'").first ?? "") ?? 0
            if open < 2 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(open == 2)
        // …and a third on a third node is one too many.
        let third = try await nodes[2].client.get(path, headers: tabs)
        #expect(third.status == 429)
        #expect(third.errorCode == "too_many_streams")
        // Once the job ends, the tabs close and a new one opens.
        #expect(try await nodes[2].client.delete("/v1/jobs/\(id)", headers: tabs).status == 200)
        #expect(try await first.events.last?.name == "error")
        #expect(try await second.events.last?.name == "error")
        var status = 0
        for _ in 0..<50 where status != 200 {
            status = try await nodes[2].client.events(path, headers: tabs).status
            if status != 200 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(status == 200)
    }

    @Test func aDailyQuotaAcrossThreeNodesAdmitsAtMostTheQuota() async throws {
        let quota = 4
        let nodes = try await ClusterTests.nodes(3, config: """
            cluster: {leaseSeconds: 2, pollSeconds: 0.2}
            plans: {names: [free], free: {requestsPerMinute: 0, messagesPerDay: \(quota)}}
            cache: {enabled: false}
            """)
        defer { nodes.forEach { $0.kill() } }
        let replies = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
            for n in 0..<12 {
                group.addTask {
                    let reply = try await nodes[n % 3].client.post(
                        "/v1/chat/completions", json: chatBody("homework \(n)", mock: ["tokens": 2]), headers: ["X-Sluice-User": "night-owl"])
                    return (reply.status, reply.errorCode)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(replies.filter { $0.0 == 200 }.count == quota, "\(replies)")
        #expect(replies.filter { $0.0 == 429 }.allSatisfy { $0.1 == "quota_exceeded" })
        #expect(replies.filter { $0.0 == 429 }.count == 12 - quota)
    }

    @Test func anAnswerStoredByOneNodeIsServedFromCacheByTheOthers() async throws {
        let nodes = try await ClusterTests.nodes(2)
        defer { nodes.forEach { $0.kill() } }
        let body = chatBody("What is the boiling point of water at sea level?", mock: ["tokens": 8])
        let chemistry = ["X-Sluice-Namespace": "chemistry"]
        let first = try await nodes[0].client.post("/v1/chat/completions", json: body, headers: chemistry)
        #expect(first.status == 200)
        #expect(first.headers["x-sluice-cache"] == "miss")
        var served: String?
        for _ in 0..<50 where served != "exact" {
            served = try await nodes[1].client.post("/v1/chat/completions", json: body, headers: chemistry).headers["x-sluice-cache"]
            if served != "exact" { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(served == "exact")
        // Invalidated on A, it is no longer served by B either.
        let removed = try await nodes[0].client.delete("/admin/api/cache?namespace=chemistry", headers: ["X-Sluice-Role": "admin"])
        #expect(removed.status == 200, "\(removed.text)")
        #expect(removed.json["removed"] as? Int == 1)
        for _ in 0..<50 where served == "exact" {
            try await Task.sleep(for: .milliseconds(100))
            served = try await nodes[1].client.post("/v1/chat/completions", json: body, headers: chemistry).headers["x-sluice-cache"]
        }
        #expect(served == "miss")
    }
}
