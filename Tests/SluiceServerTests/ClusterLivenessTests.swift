import Foundation
import Logging
import NIOCore
import SluiceCore
import SluiceStore
import SluiceTesting
import Testing

/// A node of a cluster through trouble: heartbeats that fail, a claim never taken up, the database
/// restarting, a port it cannot bind, its listening connection killed.
@Suite struct ClusterLivenessTests {
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
        let nodes = try await ClusterTests.nodes(1, on: url)
        defer { nodes.forEach { $0.kill() } }
        let store = try await PostgresStore(configuration: .init(url: url), logger: Logger(label: "test"))
        defer { Task { await store.shutdown() } }
        // The node's row is written by its first heartbeat, which may come just after it listens.
        try await eventually("the node's first heartbeat records it") { try await !TestPostgres.query(url, "SELECT id FROM sluice_node").isEmpty }
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
        let nodes = try await ClusterTests.nodes(1, on: url)
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
