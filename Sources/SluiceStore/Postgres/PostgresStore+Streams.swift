import Foundation
import Logging
import NIOCore
import PostgresNIO
public import SluiceCore

/// A job's stream in PostgreSQL: its chunks appended under the job's fence, and read back in order.
extension PostgresStore {
    public func append(_ chunks: [StreamChunk], to jobID: String, fence: Int?) async throws {
        guard !chunks.isEmpty else { return }
        let rows = try Self.encode(chunks)
        guard let fence else {
            try await client.withConnection { connection in try await Self.insert(rows, jobID: jobID, on: connection, logger: logger) }
            return
        }
        // One statement: the shared row lock holds off a rescue until these chunks are in, so the next
        // holder sees them; a lapsed fence writes nothing.
        let seqs = rows.map(\.0)
        let bodies = rows.map { ByteBuffer(bytes: $0.1) }
        let held = try await StatementDeadline.writes.run { [client, logger] in try await Self.count(client.query(
            """
            WITH held AS (
                SELECT id FROM sluice_job WHERE id = \(jobID) AND fence = \(fence) FOR SHARE
            ), appended AS (
                INSERT INTO sluice_chunk (job_id, seq, data)
                SELECT held.id, s, d FROM held, unnest(\(seqs)::bigint[], \(bodies)::bytea[]) AS t (s, d)
                ON CONFLICT (job_id, seq) DO UPDATE SET data = EXCLUDED.data
            )
            SELECT count(*) FROM held
            """,
            logger: logger)) }
        guard held > 0 else { throw LeaseLost(jobID: jobID) }
    }

    public func chunks(of jobID: String, after seq: Int) async throws -> [StreamChunk] {
        try await StatementDeadline.reads.run { [client, logger] in
            var chunks: [StreamChunk] = []
            let rows = try await client.query(
                "SELECT seq, data FROM sluice_chunk WHERE job_id = \(jobID) AND seq > \(seq) ORDER BY seq", logger: logger)
            for try await (seq, data) in rows.decode((Int, Data).self) {
                chunks.append(StreamChunk(seq: seq, event: try Self.decoder.decode(StreamEvent.self, from: data)))
            }
            return chunks
        }
    }

    static func encode(_ chunks: [StreamChunk]) throws -> [(Int, Data)] {
        try chunks.map { ($0.seq, try encoder.encode($0.event)) }
    }

    /// One statement for a batch of chunks, whatever its size.
    static func insert(_ rows: [(Int, Data)], jobID: String, on connection: PostgresConnection, logger: Logger) async throws {
        guard !rows.isEmpty else { return }
        let seqs = rows.map(\.0)
        let data = rows.map { ByteBuffer(bytes: $0.1) }
        try await connection.query(
            """
            INSERT INTO sluice_chunk (job_id, seq, data) SELECT \(jobID), s, d FROM unnest(\(seqs)::bigint[], \(data)::bytea[]) AS t (s, d)
            ON CONFLICT (job_id, seq) DO UPDATE SET data = EXCLUDED.data
            """,
            logger: logger)
    }
}
