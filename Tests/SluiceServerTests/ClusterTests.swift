import Foundation
import Logging
import NIOCore
import SluiceCore
import SluiceStore
import SluiceTesting
import Testing

/// Real `sluice serve` processes on loopback sharing one throwaway PostgreSQL database.
@Suite struct ClusterTests {
    /// Starts `count` nodes on a new database; short leases so that a killed node's jobs come back quickly.
    static func nodes(_ count: Int, config: String = "", environment: [String: String] = [:]) async throws -> [SluiceProcess] {
        try await nodes(count, on: try await TestPostgres.makeDatabase(), config: config, environment: environment)
    }

    static func nodes(_ count: Int, on url: String, config: String = "", environment: [String: String] = [:]) async throws -> [SluiceProcess] {
        let directory = TemporaryDirectory.make()
        let file = directory + "/sluice.yaml"
        try (config.isEmpty ? "cluster: {leaseSeconds: 2, pollSeconds: 0.2}\n" : config).write(toFile: file, atomically: true, encoding: .utf8)
        var nodes: [SluiceProcess] = []
        for n in 0..<count {
            nodes.append(try await SluiceProcess(
                dataDirectory: directory + "/node\(n)", environment: environment.merging(["SLUICE_DATABASE_URL": url]) { $1 },
                arguments: ["--config", file], logFile: directory + "/node\(n).log"))
        }
        return nodes
    }

    @Test func aJobSubmittedOnOneNodeIsStreamedWholeFromAnother() async throws {
        let url = try await TestPostgres.makeDatabase()
        let nodes = try await Self.nodes(2, on: url)
        defer { nodes.forEach { $0.kill() } }
        let id = try await nodes[0].client.submit(chatBody("light through a prism", mock: ["tokens": 120, "tokens_per_second": 40]))
        let stream = try await nodes[1].client.events("/v1/jobs/\(id)/stream")
        #expect(stream.events.last?.name == "done")
        #expect(stream.answer.split(separator: " ").count == 120)
        #expect(stream.ids == stream.ids.sorted() && Set(stream.ids).count == stream.ids.count)
        // The same job, read whole on the node that ran it, says the same.
        let direct = try await nodes[0].client.events("/v1/jobs/\(id)/stream")
        #expect(direct.answer == stream.answer)
        let job = try await nodes[1].client.get("/v1/jobs/\(id)").json
        #expect(job["state"] as? String == "succeeded")
        // Node B had the chunks straight from node A (a relay), not only from A's checkpoints in the store.
        #expect(try await Self.relayedChunks(nodes[1]) > 0)
        #expect(try await Self.relayedChunks(nodes[0]) == 0, "A ran the job itself")
        // An ended job whose stream is gone (retention) answers 204 at once, not a wait.
        _ = try await TestPostgres.query(url, "DELETE FROM sluice_chunk WHERE job_id = '\(id)'")
        let gone = try await nodes[1].client.events("/v1/jobs/\(id)/stream", timeout: .seconds(10))
        #expect(gone.status == 204 && gone.events.isEmpty)
    }

    /// What a node's metrics say it relayed from other nodes.
    static func relayedChunks(_ node: SluiceProcess) async throws -> Int {
        let metrics = try await node.client.get("/metrics").text
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("sluice_cluster_relayed_chunks_total") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) } ?? 0
    }

    @Test func aStreamRelayedFromANodeThatDiesGoesOnWithTheRerunWithoutTheClientReconnecting() async throws {
        let nodes = try await Self.nodes(3)
        defer { nodes.forEach { $0.kill() } }
        let id = try await nodes[0].client.submit(chatBody("the water cycle, slowly", mock: ["tokens": 400, "tokens_per_second": 40]))
        async let followed = nodes[1].client.events("/v1/jobs/\(id)/stream", timeout: .seconds(60))
        try await eventually("node B relays node A's stream") { try await Self.relayedChunks(nodes[1]) >= 5 }
        nodes[0].kill()
        let stream = try await followed
        let names = stream.events.map(\.name)
        #expect(names.last == "done")
        #expect(names.filter { $0 == "reset" }.count == 1, "the re-run replaces what the dead node said")
        #expect(stream.ids == stream.ids.sorted() && Set(stream.ids).count == stream.ids.count)
        let reset = try #require(names.firstIndex(of: "reset"))
        let rerun = stream.events[reset...].compactMap { $0.json["text"] as? String }.joined()
        #expect(rerun.split(separator: " ").count == 400)
    }

    @Test func aJobRunningOnOneNodeIsCancelledFromAnother() async throws {
        let nodes = try await Self.nodes(2)
        defer { nodes.forEach { $0.kill() } }
        let id = try await nodes[0].client.submit(chatBody("a very long essay", mock: ["tokens": 400, "tokens_per_second": 20]))
        let started = try await nodes[1].client.events("/v1/jobs/\(id)/stream", limit: 3)
        #expect(started.ids.count == 3)
        let cancelled = try await nodes[1].client.delete("/v1/jobs/\(id)")
        #expect(cancelled.status == 200)
        #expect(cancelled.json["state"] as? String == "cancelled")
        // The node that ran it says the same, and its stream ended with the reason.
        let rest = try await nodes[0].client.events("/v1/jobs/\(id)/stream?after=3")
        #expect(rest.events.last?.name == "error")
        #expect(rest.events.last?.json["code"] as? String == "job_cancelled")
        #expect(rest.answer.split(separator: " ").count < 397, "the provider call stopped")
    }

    @Test func theInternalRoutesRefuseCallersWithoutTheClusterSecret() async throws {
        let nodes = try await Self.nodes(1)
        defer { nodes.forEach { $0.kill() } }
        let id = try await nodes[0].client.submit(chatBody("private", mock: ["tokens": 4]))
        for headers in [[:], ["Authorization": "Bearer guess"]] {
            let read = try await nodes[0].client.get("/internal/v1/jobs/\(id)/chunks", headers: headers)
            #expect(read.status == 401)
            #expect(read.errorCode == "invalid_api_key")
            #expect(!read.text.contains("w1"))
            let cancel = try await nodes[0].client.delete("/internal/v1/jobs/\(id)", headers: headers)
            #expect(cancel.status == 401)
        }
        _ = try await nodes[0].client.waitForJob(id, states: ["succeeded"])
    }

    @Test func killingTheRunningNodeMidStreamFinishesTheJobElsewhereAndTheClientResumesWithoutGapOrDuplicate() async throws {
        let nodes = try await Self.nodes(3)
        defer { nodes.forEach { $0.kill() } }
        // Node 0 has free workers, so it runs what it accepts.
        let id = try await nodes[0].client.submit(chatBody("a long answer about tides", mock: ["tokens": 80, "tokens_per_second": 40]))
        let seen = try await nodes[0].client.events("/v1/jobs/\(id)/stream", limit: 10)
        #expect(seen.ids == Array(1...10))
        nodes[0].kill()

        let rest = try await nodes[1].client.events("/v1/jobs/\(id)/stream", headers: ["Last-Event-ID": "10"], timeout: .seconds(60))
        let names = rest.events.map(\.name)
        #expect(names.last == "done")
        #expect(names.filter { $0 != "delta" } == ["reset", "done"], "one reset before the re-run, then its end")
        #expect(rest.ids.allSatisfy { $0 > 10 })
        #expect(rest.ids == rest.ids.sorted() && Set(rest.ids).count == rest.ids.count)
        let reset = try #require(names.firstIndex(of: "reset"))
        let words = rest.answer.split(separator: " ")
        #expect(words.count == 80)
        let firstAttempt = seen.events + rest.events[..<reset]
        let spoken = firstAttempt.map { $0.json["text"] as? String ?? "" }.joined().split(separator: " ")
        #expect(spoken == Array(words.prefix(spoken.count)), "what the dead node said is the start of the answer")
        let job = try await nodes[2].client.get("/v1/jobs/\(id)").json
        #expect(job["state"] as? String == "succeeded")
        #expect(job["attempt"] as? Int == 2)
    }

    @Test func aRateLimitAcrossThreeNodesAdmitsAtMostTheLimit() async throws {
        let limit = 5
        let nodes = try await Self.nodes(3, config: """
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
        let nodes = try await Self.nodes(3, config: """
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
        let nodes = try await Self.nodes(3, on: url, config: """
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
        let nodes = try await Self.nodes(3, config: """
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
        let nodes = try await Self.nodes(2)
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

    @Test func aNodeWhoseHeartbeatsFailStopsClaimingUntilTheyReachTheStoreAgain() async throws {
        // The node runs as a role of its own, so that its heartbeats alone can be made to fail.
        let url = try await TestPostgres.makeDatabase()
        let migrator = try await PostgresStore(configuration: .init(url: url), logger: Logger(label: "test"))
        await migrator.shutdown()
        let role = "sluice_node_\(UUID().uuidString.prefix(8).lowercased())"
        _ = try await TestPostgres.query(url, """
            CREATE ROLE \(role) LOGIN; GRANT ALL ON ALL TABLES IN SCHEMA public TO \(role); GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO \(role);
            """)
        let directory = TemporaryDirectory.make()
        let config = directory + "/sluice.yaml"
        try "cluster: {leaseSeconds: 1, pollSeconds: 0.2}\n".write(toFile: config, atomically: true, encoding: .utf8)
        let log = directory + "/node.log"
        let node = try await SluiceProcess(
            dataDirectory: directory + "/node", environment: ["SLUICE_DATABASE_URL": url.replacingOccurrences(of: "//sluice@", with: "//\(role)@")],
            arguments: ["--config", config], logFile: log)
        defer { node.kill() }
        func logged(_ text: String) async throws -> Bool {
            for _ in 0..<100 {
                if ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains(text) { return true }
                try await Task.sleep(for: .milliseconds(100))
            }
            return false
        }

        _ = try await TestPostgres.query(url, "REVOKE INSERT, UPDATE ON sluice_node FROM \(role)")
        #expect(try await logged("heartbeats fail; this node stops claiming work"))
        // Work it accepts now waits for a node whose heartbeats reach the store: not this one.
        let id = try await node.client.submit(chatBody("patience", mock: ["tokens": 3]))
        // A check that nothing happens needs time: a node that claimed would run it within a poll (0.2 s).
        try await Task.sleep(for: .seconds(2))
        #expect(try await node.client.get("/v1/jobs/\(id)").json["state"] as? String == "queued")

        _ = try await TestPostgres.query(url, "GRANT INSERT, UPDATE ON sluice_node TO \(role)")
        #expect(try await logged("heartbeats reach the store again"))
        _ = try await node.client.waitForJob(id, states: ["succeeded"])
    }

    @Test func aJobThisNodeClaimedButNeverTookUpIsTakenUpByItsWatchdog() async throws {
        let url = try await TestPostgres.makeDatabase()
        let nodes = try await Self.nodes(1, on: url)
        defer { nodes.forEach { $0.kill() } }
        let store = try await PostgresStore(configuration: .init(url: url), logger: Logger(label: "test"))
        defer { Task { await store.shutdown() } }
        let node = try #require(try await TestPostgres.query(url, "SELECT id FROM sluice_node").first)
        // A claim whose reply was lost: the row says this node holds the job, which this node never
        // heard of. The job may start in 3 s, so the node's own claimer cannot take it first; the claim
        // is made as if 4 s later.
        var job = storeJob("job_unheld")
        job.notBefore = Date().addingTimeInterval(3)
        job.deadline = Date().addingTimeInterval(120)
        try await store.insert(job)
        let claimed = try await store.claim(node: node, limit: 1, leaseSeconds: 2, now: Date().addingTimeInterval(4))
        #expect(claimed.map(\.id) == ["job_unheld"])
        // The node's heartbeats renew the lease, so no rescue comes: without its watchdog the job would
        // wait for good. Two watchdog passes (5 s apart) find it, then it runs.
        var state = JobState.queued
        for _ in 0..<400 where !state.isTerminal {
            try await Task.sleep(for: .milliseconds(100))
            state = try await store.job(id: "job_unheld")?.state ?? state
        }
        #expect(state == .succeeded)
        #expect(nodes[0].log.contains("a job this node claimed was never taken up"))
    }

    @Test func aNodeCarriesOnAfterTheDatabaseRestarts() async throws {
        let server = try await TestPostgres.Server.start()
        let url = try await server.makeDatabase()
        let directory = TemporaryDirectory.make()
        let config = directory + "/sluice.yaml"
        try "cluster: {leaseSeconds: 2, pollSeconds: 0.2}\n".write(toFile: config, atomically: true, encoding: .utf8)
        var nodes: [SluiceProcess] = []
        for n in 0..<2 {
            nodes.append(try await SluiceProcess(
                dataDirectory: directory + "/node\(n)", environment: ["SLUICE_DATABASE_URL": url], arguments: ["--config", config],
                logFile: directory + "/node\(n).log"))
        }
        defer { nodes.forEach { $0.kill() } }
        func listeners() async throws -> [String] {
            try await TestPostgres.query(url, "SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN \"sluice_work\";' AND datname = current_database()")
        }
        let before = try await nodes[0].client.submit(chatBody("before the restart", mock: ["tokens": 3]))
        _ = try await nodes[0].client.waitForJob(before, states: ["succeeded"])

        try await server.restart()
        // Both nodes listen again on new connections…
        var listening: [String] = []
        for _ in 0..<100 where listening.count < 2 {
            listening = (try? await listeners()) ?? []
            if listening.count < 2 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(listening.count == 2, "\(listening)")
        // …accept and run work, and stream it across nodes.
        var after: String?
        for _ in 0..<20 where after == nil {
            after = try? await nodes[0].client.submit(chatBody("after the restart", mock: ["tokens": 20, "tokens_per_second": 40]))
            if after == nil { try await Task.sleep(for: .milliseconds(250)) }
        }
        let id = try #require(after, "the node accepts work again")
        let stream = try await nodes[1].client.events("/v1/jobs/\(id)/stream")
        #expect(stream.events.last?.name == "done")
        #expect(stream.answer.split(separator: " ").count == 20)
        await server.stop()
    }

    @Test func aNodeThatCannotListenExitsInsteadOfLingering() async throws {
        let url = try await TestPostgres.makeDatabase()
        let nodes = try await Self.nodes(1, on: url)
        defer { nodes.forEach { $0.kill() } }
        // The port is taken (by the first node): the second exits with an error, whatever its pool was doing.
        let (status, output) = try await SluiceProcess.run(
            ["serve", "--port", String(nodes[0].port), "--data-dir", TemporaryDirectory.make()], environment: ["SLUICE_DATABASE_URL": url],
            timeout: 30)
        #expect(status == 1, "\(output)")
        #expect(output.contains("Address already in use"))
    }

    @Test func aNodeListensAgainAfterItsListeningConnectionIsKilled() async throws {
        let url = try await TestPostgres.makeDatabase()
        let directory = TemporaryDirectory.make()
        let node = try await SluiceProcess(dataDirectory: directory, environment: ["SLUICE_DATABASE_URL": url])
        defer { node.kill() }
        func listeners() async throws -> [String] {
            try await TestPostgres.query(url, "SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN \"sluice_work\";' AND datname = current_database()")
        }
        var before: [String] = []
        for _ in 0..<100 where before.isEmpty {
            before = try await listeners()
            if before.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(before.count == 1)
        _ = try await TestPostgres.query(url, "SELECT pg_terminate_backend(\(before.first ?? "0"))")
        var after: [String] = []
        for _ in 0..<100 where after.isEmpty || after == before {
            after = try await listeners()
            if after.isEmpty || after == before { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(after.count == 1 && after != before, "a new connection listens")
    }
}
