public import Foundation
import NIOCore
import PostgresNIO
import SluiceCore

extension PostgresStore: BatchStore {
    public func addFile(_ file: StoredFile, content: Data) async throws {
        let meta = ByteBuffer(bytes: try Self.encoder.encode(file))
        try await client.query(
            """
            INSERT INTO sluice_batch_file (id, user_key, purpose, created_at, expires_at, meta, content)
            VALUES (\(file.id), \(file.owner.userKey), \(file.purpose), \(file.createdAt.timeIntervalSince1970),
                    \(file.expiresAt.timeIntervalSince1970), \(meta), \(ByteBuffer(bytes: content)))
            """,
            logger: logger)
    }

    public func file(id: String) async throws -> StoredFile? {
        let rows = try await client.query("SELECT meta FROM sluice_batch_file WHERE id = \(id)", logger: logger)
        for try await meta in rows.decode(Data.self) { return try Self.decoder.decode(StoredFile.self, from: meta) }
        return nil
    }

    public func fileContent(id: String) async throws -> Data? {
        let rows = try await client.query("SELECT content FROM sluice_batch_file WHERE id = \(id)", logger: logger)
        for try await content in rows.decode(Data.self) { return content }
        return nil
    }

    public func files(userKey: String, purpose: String?, limit: Int) async throws -> [StoredFile] {
        let rows = try await client.query(
            """
            SELECT meta FROM sluice_batch_file WHERE user_key = \(userKey) AND (\(purpose)::text IS NULL OR purpose = \(purpose))
            ORDER BY created_at DESC LIMIT \(limit)
            """,
            logger: logger)
        var files: [StoredFile] = []
        for try await meta in rows.decode(Data.self) { files.append(try Self.decoder.decode(StoredFile.self, from: meta)) }
        return files
    }

    public func deleteFile(id: String) async throws -> Bool {
        let rows = try await client.query("DELETE FROM sluice_batch_file WHERE id = \(id) RETURNING id", logger: logger)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    public func deleteExpiredFiles(now: Date) async throws -> Int {
        let rows = try await client.query(
            "DELETE FROM sluice_batch_file WHERE expires_at <= \(now.timeIntervalSince1970) RETURNING id", logger: logger)
        var count = 0
        for try await _ in rows.decode(String.self) { count += 1 }
        return count
    }

    public func saveBatch(_ batch: BatchRecord) async throws {
        let data = ByteBuffer(bytes: try Self.encoder.encode(batch))
        try await client.query(
            """
            INSERT INTO sluice_batch (id, user_key, created_at, active, data)
            VALUES (\(batch.id), \(batch.owner.userKey), \(batch.createdAt.timeIntervalSince1970), \(batch.status.isActive), \(data))
            ON CONFLICT (id) DO UPDATE SET active = excluded.active, data = excluded.data
            """,
            logger: logger)
    }

    public func batch(id: String) async throws -> BatchRecord? {
        let rows = try await client.query("SELECT data, cancel_at FROM sluice_batch WHERE id = \(id)", logger: logger)
        return try await Self.batches(rows).first
    }

    public func batches(userKey: String, after: String?, limit: Int) async throws -> [BatchRecord] {
        let rows = try await client.query(
            """
            SELECT data, cancel_at FROM sluice_batch WHERE user_key = \(userKey)
            AND (\(after)::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM sluice_batch WHERE id = \(after)))
            ORDER BY created_at DESC, id DESC LIMIT \(limit)
            """,
            logger: logger)
        return try await Self.batches(rows)
    }

    public func claimBatches(node: String, limit: Int, leaseSeconds: Double) async throws -> [BatchRecord] {
        let rows = try await client.query(
            """
            UPDATE sluice_batch SET node = \(node), lease_until = clock_timestamp() + make_interval(secs => \(leaseSeconds))
            WHERE id IN (
                SELECT id FROM sluice_batch WHERE active AND (lease_until IS NULL OR lease_until < clock_timestamp())
                ORDER BY created_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
            )
            RETURNING data, cancel_at
            """,
            logger: logger)
        return try await Self.batches(rows)
    }

    public func renewBatch(id: String, node: String, leaseSeconds: Double) async throws -> Bool {
        let rows = try await client.query(
            """
            UPDATE sluice_batch SET lease_until = clock_timestamp() + make_interval(secs => \(leaseSeconds))
            WHERE id = \(id) AND node = \(node) RETURNING id
            """,
            logger: logger)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    public func releaseBatch(id: String, node: String) async throws {
        try await client.query("UPDATE sluice_batch SET node = NULL, lease_until = NULL WHERE id = \(id) AND node = \(node)", logger: logger)
    }

    public func releaseAllBatches() async throws {
        try await client.query("UPDATE sluice_batch SET node = NULL, lease_until = NULL WHERE active", logger: logger)
    }

    public func addBatchResults(batchID: String, _ results: [BatchLineResult]) async throws {
        guard !results.isEmpty else { return }
        let lines = results.map(\.line)
        let oks = results.map(\.ok)
        let data = results.map { ByteBuffer(bytes: $0.data) }
        try await client.query(
            """
            INSERT INTO sluice_batch_result (batch_id, line, ok, data)
            SELECT \(batchID), * FROM unnest(\(lines)::int[], \(oks)::boolean[], \(data)::bytea[])
            ON CONFLICT (batch_id, line) DO UPDATE SET ok = excluded.ok, data = excluded.data
            """,
            logger: logger)
    }

    public func batchResults(batchID: String) async throws -> [BatchLineResult] {
        let rows = try await client.query(
            "SELECT line, ok, data FROM sluice_batch_result WHERE batch_id = \(batchID) ORDER BY line", logger: logger)
        var results: [BatchLineResult] = []
        for try await (line, ok, data) in rows.decode((Int, Bool, Data).self) {
            results.append(BatchLineResult(line: line, ok: ok, data: data))
        }
        return results
    }

    public func deleteBatchResults(batchID: String) async throws {
        try await client.query("DELETE FROM sluice_batch_result WHERE batch_id = \(batchID)", logger: logger)
    }

    public func cancelBatch(id: String, at date: Date) async throws {
        try await client.query(
            "UPDATE sluice_batch SET cancel_at = coalesce(cancel_at, \(date.timeIntervalSince1970)) WHERE id = \(id)", logger: logger)
    }

    static func batches(_ rows: PostgresRowSequence) async throws -> [BatchRecord] {
        var batches: [BatchRecord] = []
        for try await (data, cancelAt) in rows.decode((Data, Double?).self) {
            batches.append(try decoder.decode(BatchRecord.self, from: data).applying(cancelAt: cancelAt.map { Date(timeIntervalSince1970: $0) }))
        }
        return batches
    }
}
