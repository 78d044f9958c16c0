import Foundation
import NIOCore
import SluiceCore
import SluiceTesting
import Testing

/// Streams of jobs that wait in the shared queue, held by no node: they cost the database one query
/// every interval for all of them, not queries of their own, and each still gets its whole answer once
/// a node takes its job.
@Suite struct ClusterWaitingStreamsTests {
    /// Transactions the database has counted (each statement outside a transaction is one).
    static func transactions(_ url: String) async throws -> Int {
        let rows = try await TestPostgres.query(url, "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
        return Int(rows.first ?? "") ?? 0
    }

    @Test func streamsOfJobsNoNodeHoldsCostOneQueryForAllAndEachEndsWhole() async throws {
        let url = try await TestPostgres.makeDatabase()
        // One worker: while it answers the first question, the others wait in the shared queue unheld.
        let nodes = try await ClusterTests.nodes(1, on: url, config: "cluster: {leaseSeconds: 2, pollSeconds: 0.2}\nqueue: {workers: 1}\n")
        defer { nodes.forEach { $0.kill() } }
        let client = nodes[0].client
        _ = try await client.submit(chatBody("a long answer first", mock: ["tokens": 80, "tokens_per_second": 8]), headers: ["X-Sluice-User": "first"])
        let waiting = 40
        var ids: [String] = []
        for n in 0..<waiting {
            ids.append(try await client.submit(chatBody("question \(n)", mock: ["tokens": 3]), headers: ["X-Sluice-User": "student-\(n)"]))
        }
        let streams = Task {
            try await withThrowingTaskGroup(of: SSEStream.self) { group in
                for (n, id) in ids.enumerated() {
                    group.addTask { try await client.events("/v1/jobs/\(id)/stream", headers: ["X-Sluice-User": "student-\(n)"], timeout: .seconds(90)) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        let unheld = try await TestPostgres.query(url, "SELECT count(*) FROM sluice_job WHERE state = 'queued' AND node IS NULL")
        #expect(Int(unheld.first ?? "") ?? 0 >= waiting - 2, "the questions wait unheld: \(unheld)")
        // Six seconds of 40 waiting streams. When each asked the store itself (its chunks and its job's
        // holder every 200 ms) this measured 675 transactions; with one query for all of them, 226-245
        // (the node's own loops: claims, heartbeats, the cache feed, the running job's checkpoints).
        try await Task.sleep(for: .seconds(1))
        let before = try await Self.transactions(url)
        try await Task.sleep(for: .seconds(6))
        let queries = try await Self.transactions(url) - before
        #expect(queries < 450, "\(queries) transactions in 6 s while \(waiting) streams waited")
        let ended = try await streams.value
        #expect(ended.count == waiting)
        for stream in ended {
            #expect(stream.status == 200 && stream.events.last?.name == "done" && stream.answer.split(separator: " ").count == 3, "\(stream.status): \(stream.events.map(\.data))")
        }
    }
}
