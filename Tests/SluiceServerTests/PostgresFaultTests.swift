import Foundation
import SluiceCore
import SluiceTesting
import Testing

/// PostgreSQL killed mid-run (`pg_ctl stop -m immediate`: every backend gone, no checkpoint) and brought
/// back: a node on it strands no accepted job and needs no restart.
@Suite struct PostgresFaultTests {
    @Test func aDatabaseKilledMidRunStrandsNoJob() async throws {
        let server = try await TestPostgres.Server.start()
        let url = try await server.makeDatabase()
        let node = try #require(try await ClusterTests.nodes(1, on: url, config: "cluster: {leaseSeconds: 4, pollSeconds: 0.2}\n").first)
        defer { node.kill() }
        var ids: [String] = []
        for index in 0..<4 {
            ids.append(try await node.client.submit(chatBody("question \(index) before the crash", mock: ["tokens": 150, "tokens_per_second": 50])))
        }
        for id in ids { _ = try await node.client.waitForJob(id, states: ["running", "succeeded"]) }

        let crashed = Date()
        try await server.crash()
        // The node notices at once (its listening connection drops) and says so…
        var ready = try await node.client.get("/readyz")
        for _ in 0..<100 where ready.status == 200 {
            try await Task.sleep(for: .milliseconds(50))
            ready = try await node.client.get("/readyz")
        }
        #expect(ready.status == 503 && ready.json["store"] as? String == "down", "\(ready.text)")
        print("database crash: /readyz said so after \(Int(Date().timeIntervalSince(crashed) * 1000)) ms")
        // …and a new request is refused with a retry hint, not accepted and lost, nor left waiting.
        let refused = try await node.client.post("/v1/chat/completions", json: chatBody("asked while the database is down"))
        #expect([503, 507].contains(refused.status), "\(refused.status) \(refused.text)")
        #expect(refused.headers["retry-after"] != nil)
        // Time itself: the database stays down a while (2 s), as after a real crash, before it is back.
        try await Task.sleep(for: .seconds(2))
        try await server.start()

        for id in ids {
            let job = try await node.client.waitForJob(id, states: ["succeeded", "failed", "cancelled", "expired"], timeout: 90)
            #expect(job["state"] as? String == "succeeded", "\(id): \(job)")
            #expect(((job["result"] as? [String: Any])?["text"] as? String)?.split(separator: " ").count == 150)
        }
        print("database crash: every job ended \(Int(Date().timeIntervalSince(crashed))) s after the crash (down for 2 s)")
        // And the node takes new work.
        let after = try await node.client.post("/v1/chat/completions", json: chatBody("after the crash", mock: ["tokens": 5]))
        #expect(after.status == 200)
        await server.stop()
    }

    @Test func afterADatabaseStallLongerThanALeaseNoNodeRescuesTheJobsOfNodesThatAreAlive() async throws {
        let server = try await TestPostgres.Server.start()
        let url = try await server.makeDatabase()
        let nodes = try await ClusterTests.nodes(2, on: url, config: "cluster: {leaseSeconds: 6, pollSeconds: 0.2}\n")
        defer { nodes.forEach { $0.kill() } }
        var ids: [(node: Int, id: String)] = []
        for n in 0..<2 {
            for index in 0..<2 {
                ids.append((n, try await nodes[n].client.submit(chatBody("node \(n) question \(index)", mock: ["tokens": 300, "tokens_per_second": 25]))))
            }
        }
        for (n, id) in ids { _ = try await nodes[n].client.waitForJob(id, states: ["running"]) }
        // Every node's renewals fail for longer than a lease: every lease lapses.
        try await server.crash()
        try await Task.sleep(for: .seconds(8))
        try await server.start()
        let back = Date()
        for (n, id) in ids {
            let job: [String: Any]
            do {
                job = try await nodes[n].client.waitForJob(id, states: ["succeeded", "failed", "cancelled", "expired"], timeout: 90)
            } catch {
                // What the database and the nodes say of a job left unfinished, to find out why.
                let row = try await TestPostgres.query(
                    url, "SELECT state, node, fence, lease_until < now(), not_before FROM sluice_job WHERE id = '\(id)'")
                // What each connection does, and which waits for a lock: a statement that never ends shows here.
                let activity = try await TestPostgres.query(
                    url, """
                    SELECT pid, state, wait_event_type, wait_event, now() - xact_start, pg_blocking_pids(pid), left(query, 160)
                    FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                    """)
                let said = nodes.enumerated().flatMap { index, node in
                    let lines = node.log.split(separator: "\n")
                    let notable = lines.filter { line in [id, " warning ", " error ", " critical "].contains { line.contains($0) } }
                    return (notable.suffix(40) + ["…"] + lines.suffix(10)).map { "node \(index): \($0.prefix(400))" }
                }
                let connections = activity.joined(separator: "\n")
                Issue.record("\(id) (node \(n)) unfinished; its row: \(row); the database's connections:\n\(connections)\nthe nodes said:\n\(said.joined(separator: "\n"))")
                throw error
            }
            #expect(job["state"] as? String == "succeeded", "\(id): \(job)")
            // Not rescued and run again by the first node back: one attempt, on the node that took it.
            #expect(job["attempt"] as? Int == 1, "\(id) on node \(n): \(job["attempt"] ?? "?") attempts")
        }
        print("database stall: every job ended \(Int(Date().timeIntervalSince(back))) s after the database was back")
        await server.stop()
    }
}
