public import Foundation
import GRDB

extension EmbeddedStore: AuditLog {
    public func appendAudit(_ records: [AuditRecord]) async throws {
        try await committer.write { db in
            for record in records {
                try db.execute(
                    sql: "INSERT INTO audit (at, action, caller, tenant, origin, detail) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [record.at.timeIntervalSince1970, record.action, record.caller, record.tenant, record.from, record.detail])
            }
        }
    }

    public func auditRecords(after seq: Int64, limit: Int, tenant: String?) async throws -> [AuditRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT seq, at, action, caller, tenant, origin, detail FROM audit
                    WHERE seq > ? AND (? IS NULL OR tenant = ?) ORDER BY seq LIMIT ?
                    """,
                arguments: [seq, tenant, tenant, limit]
            ).map { row in
                AuditRecord(
                    seq: row["seq"], at: Date(timeIntervalSince1970: row["at"]), action: row["action"], caller: row["caller"],
                    tenant: row["tenant"], from: row["origin"], detail: row["detail"])
            }
        }
    }

    public func pruneAudit(before date: Date) async throws {
        try await committer.write { db in try db.execute(sql: "DELETE FROM audit WHERE at < ?", arguments: [date.timeIntervalSince1970]) }
    }
}
