import Foundation
import SluiceTesting
import Testing

/// The writes a job costs on PostgreSQL, read from a trigger that records every insert and update of a
/// job row: a job a free worker takes at once is inserted already running, so its life is two
/// writes (the insert, its end), not three (inserted queued, marked running, ended).
@Suite struct PostgresJobWritesTests {
    @Test func aJobAFreeWorkerTakesIsInsertedRunningAndEndsInOneMoreWrite() async throws {
        let url = try await TestPostgres.makeDatabase()
        // A long lease: no heartbeat renews the jobs' leases while they run (each renewal is an update).
        let nodes = try await ClusterTests.nodes(1, on: url, config: "cluster: {leaseSeconds: 60, pollSeconds: 0.2}\n")
        defer { nodes.forEach { $0.kill() } }
        _ = try await TestPostgres.query(url, """
            CREATE TABLE job_write (seq bigserial, id text, old_state text, new_state text);
            CREATE FUNCTION job_write() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO job_write (id, old_state, new_state)
                VALUES (NEW.id, CASE WHEN TG_OP = 'INSERT' THEN 'inserted' ELSE OLD.state END, NEW.state);
                RETURN NEW;
            END $$;
            CREATE TRIGGER job_write AFTER INSERT OR UPDATE ON sluice_job FOR EACH ROW EXECUTE FUNCTION job_write();
            """)
        let client = nodes[0].client
        var ids: [String] = []
        for n in 0..<5 {
            let reply = try await client.post("/v1/chat/completions", json: chatBody("question \(n)", mock: ["tokens": 3]), headers: ["X-Sluice-User": "u\(n)"])
            #expect(reply.status == 200, "\(reply.text)")
            ids.append(try #require(reply.headers["x-sluice-job-id"]))
        }
        for id in ids {
            let writes = try await TestPostgres.query(url, "SELECT old_state || '>' || new_state FROM job_write WHERE id = '\(id)' ORDER BY seq")
            #expect(writes == ["inserted>running", "running>succeeded"], "\(id): \(writes)")
        }
    }
}
