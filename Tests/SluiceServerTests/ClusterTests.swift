import Foundation
import Logging
import NIOCore
import SluiceCore
import SluiceStore
import SluiceTesting
import Testing

/// Real `sluice serve` processes on loopback sharing one throwaway PostgreSQL database: streams and
/// cancels across nodes. The other cluster suites start their nodes with `ClusterTests.nodes`.
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
}
