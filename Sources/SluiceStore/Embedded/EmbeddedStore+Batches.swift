public import Foundation
import GRDB
import SluiceCore

extension EmbeddedStore: BatchStore {
    public func addFile(_ file: StoredFile, content: Data) async throws {
        let meta = try Self.encoder.encode(file)
        try await committer.write { db in
            try db.execute(
                sql: "INSERT INTO batch_file (id, user_key, purpose, created_at, expires_at, meta, content) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [
                    file.id, file.owner.userKey, file.purpose, file.createdAt.timeIntervalSince1970, file.expiresAt.timeIntervalSince1970, meta,
                    content,
                ])
        }
    }

    public func file(id: String) async throws -> StoredFile? {
        let meta = try await pool.read { db in try Data.fetchOne(db, sql: "SELECT meta FROM batch_file WHERE id = ?", arguments: [id]) }
        return try meta.map { try Self.decoder.decode(StoredFile.self, from: $0) }
    }

    public func fileContent(id: String) async throws -> Data? {
        try await pool.read { db in try Data.fetchOne(db, sql: "SELECT content FROM batch_file WHERE id = ?", arguments: [id]) }
    }

    public func files(userKey: String, purpose: String?, limit: Int) async throws -> [StoredFile] {
        let rows = try await pool.read { db in
            try Data.fetchAll(
                db, sql: "SELECT meta FROM batch_file WHERE user_key = ? AND (? IS NULL OR purpose = ?) ORDER BY created_at DESC LIMIT ?",
                arguments: [userKey, purpose, purpose, limit])
        }
        return try rows.map { try Self.decoder.decode(StoredFile.self, from: $0) }
    }

    public func deleteFile(id: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM batch_file WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    public func deleteExpiredFiles(now: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM batch_file WHERE expires_at <= ?", arguments: [now.timeIntervalSince1970])
            return db.changesCount
        }
    }

    public func saveBatch(_ batch: BatchRecord) async throws {
        let data = try Self.encoder.encode(batch)
        try await committer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO batch (id, user_key, created_at, active, data) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET active = excluded.active, data = excluded.data
                    """,
                arguments: [batch.id, batch.owner.userKey, batch.createdAt.timeIntervalSince1970, batch.status.isActive, data])
        }
    }

    public func batch(id: String) async throws -> BatchRecord? {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT data, cancel_at FROM batch WHERE id = ?", arguments: [id]).map(Self.batch).first
        }
    }

    public func cancelBatch(id: String, at date: Date) async throws {
        try await committer.write { db in
            try db.execute(sql: "UPDATE batch SET cancel_at = coalesce(cancel_at, ?) WHERE id = ?", arguments: [date.timeIntervalSince1970, id])
        }
    }

    static func batch(_ row: Row) throws -> BatchRecord {
        try decoder.decode(BatchRecord.self, from: row["data"] as Data)
            .applying(cancelAt: (row["cancel_at"] as Double?).map { Date(timeIntervalSince1970: $0) })
    }

    public func batches(userKey: String, after: String?, limit: Int) async throws -> [BatchRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT data, cancel_at FROM batch WHERE user_key = ?
                    AND (? IS NULL OR created_at < (SELECT created_at FROM batch WHERE id = ?)
                         OR (created_at = (SELECT created_at FROM batch WHERE id = ?) AND id < ?))
                    ORDER BY created_at DESC, id DESC LIMIT ?
                    """,
                arguments: [userKey, after, after, after, after, limit]
            ).map(Self.batch)
        }
    }

    public func claimBatches(node: String, limit: Int, leaseSeconds: Double) async throws -> [BatchRecord] {
        let now = Date().timeIntervalSince1970
        return try await pool.write { db in
            let found = try Row.fetchAll(
                db,
                sql: "SELECT id, data, cancel_at FROM batch WHERE active = 1 AND (lease_until IS NULL OR lease_until < ?) ORDER BY created_at LIMIT ?",
                arguments: [now, limit])
            for row in found {
                try db.execute(sql: "UPDATE batch SET node = ?, lease_until = ? WHERE id = ?", arguments: [node, now + leaseSeconds, row["id"] as String])
            }
            return try found.map(Self.batch)
        }
    }

    public func renewBatch(id: String, node: String, leaseSeconds: Double) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE batch SET lease_until = ? WHERE id = ? AND node = ?", arguments: [Date().timeIntervalSince1970 + leaseSeconds, id, node])
            return db.changesCount > 0
        }
    }

    public func releaseBatch(id: String, node: String) async throws {
        try await committer.write { db in
            try db.execute(sql: "UPDATE batch SET node = NULL, lease_until = NULL WHERE id = ? AND node = ?", arguments: [id, node])
        }
    }

    public func releaseAllBatches() async throws {
        try await committer.write { db in try db.execute(sql: "UPDATE batch SET node = NULL, lease_until = NULL WHERE active = 1") }
    }

    public func addBatchResults(batchID: String, _ results: [BatchLineResult]) async throws {
        guard !results.isEmpty else { return }
        try await committer.write { db in
            for result in results {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO batch_result (batch_id, line, ok, data) VALUES (?, ?, ?, ?)",
                    arguments: [batchID, result.line, result.ok, result.data])
            }
        }
    }

    public func batchResults(batchID: String) async throws -> [BatchLineResult] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT line, ok, data FROM batch_result WHERE batch_id = ? ORDER BY line", arguments: [batchID])
                .map { BatchLineResult(line: $0["line"], ok: $0["ok"], data: $0["data"]) }
        }
    }

    public func deleteBatchResults(batchID: String) async throws {
        try await committer.write { db in try db.execute(sql: "DELETE FROM batch_result WHERE batch_id = ?", arguments: [batchID]) }
    }
}
