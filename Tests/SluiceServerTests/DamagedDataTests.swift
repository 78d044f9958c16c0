import Foundation
import GRDB
import Logging
import SluiceCore
@testable import SluiceServer
import SluiceStore
import SluiceTesting
import Testing

/// Damaged data: a stored row that cannot be read is quarantined, not fatal; a damaged data file is named,
/// with how to recover.
@Suite struct DamagedDataTests {
    @Test func anUnreadableRowIsQuarantinedAndTheRestRecovered() async throws {
        let directory = TemporaryDirectory.make()
        let owner = Principal(tenant: "local", user: "anonymous", role: "student", plan: "free")
        let now = Date()
        func job(_ id: String) -> Job {
            Job(id: id, owner: owner, priority: .interactive, request: ChatRequest(model: "default", messages: [ChatMessage(role: "user", content: id)], mock: MockScript(tokens: 3)),
                createdAt: now, deadline: now.addingTimeInterval(600))
        }
        do {
            let store = try EmbeddedStore(configuration: .init(directory: directory, synchronous: "normal"))
            try await store.insert(job("job_good"))
            try await store.insert(job("job_damaged"))
        }
        // Damage one job row and add an unreadable cache entry, as a bad disk or a bad edit would.
        let file = try DatabaseQueue(path: directory + "/sluice.sqlite")
        try await file.write { db in
            try db.execute(sql: "UPDATE job SET data = ? WHERE id = 'job_damaged'", arguments: [Data("{\"id\": 42}".utf8)])
            try db.execute(sql: "INSERT INTO cache_entry (key, expires_at, data) VALUES ('broken', 9e9, ?)", arguments: [Data([0xFF, 0x00])])
        }
        try file.close()

        try await TestNode.with(dataDirectory: directory) { node in
            let good = try await node.client.waitForJob("job_good", states: ["succeeded"])
            #expect(good["state"] as? String == "succeeded")
            #expect(try await node.client.get("/v1/jobs/job_damaged").status == 404)
            let store = try #require(node.node.jobs.store as? EmbeddedStore)
            let quarantined = try await store.quarantined()
            #expect(quarantined.map(\.source).sorted() == ["cache_entry", "job"])
            #expect(quarantined.first { $0.source == "job" }?.key == "job_damaged")
            #expect(quarantined.allSatisfy { !$0.reason.isEmpty })
        }
    }

    @Test func onPostgreSQLToo() async throws {
        let url = try await TestPostgres.makeDatabase()
        let store = try await PostgresStore(configuration: .init(url: url), logger: Logger(label: "test"))
        let owner = Principal(tenant: "local", user: "anonymous", role: "student", plan: "free")
        for id in ["job_good", "job_damaged"] {
            try await store.insert(Job(
                id: id, owner: owner, priority: .interactive, request: ChatRequest(model: "default", messages: [ChatMessage(role: "user", content: id)]),
                createdAt: Date(), deadline: Date().addingTimeInterval(600)))
        }
        _ = try await TestPostgres.query(url, "UPDATE sluice_job SET data = convert_to('{\"id\": 42}', 'UTF8') WHERE id = 'job_damaged'")
        #expect(try await store.unfinishedJobs().map(\.id) == ["job_good"])
        #expect(try await TestPostgres.query(url, "SELECT source || ' ' || key FROM sluice_quarantine") == ["sluice_job job_damaged"])
        #expect(try await TestPostgres.query(url, "SELECT count(*) FROM sluice_job WHERE id = 'job_damaged'") == ["0"])
        await store.shutdown()
    }

    @Test func aDamagedDataFileIsNamedWithHowToRecover() async throws {
        let directory = TemporaryDirectory.make()
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: directory + "/sluice.sqlite"))
        let (status, output) = try await SluiceProcess.run(["serve", "--port", "0", "--data-dir", directory], timeout: 30)
        #expect(status != 0)
        #expect(output.contains(directory + "/sluice.sqlite") && output.contains("damaged") && output.contains("move it aside"), "\(output)")
    }
}
