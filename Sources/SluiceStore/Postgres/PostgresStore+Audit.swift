public import Foundation
import PostgresNIO

extension PostgresStore: AuditLog {
    public func appendAudit(_ records: [AuditRecord]) async throws {
        for record in records {
            try await client.query(
                """
                INSERT INTO sluice_audit (at, action, caller, tenant, origin, detail)
                VALUES (\(record.at.timeIntervalSince1970), \(record.action), \(record.caller), \(record.tenant), \(record.from), \(record.detail))
                """,
                logger: logger)
        }
    }

    public func auditRecords(after seq: Int64, limit: Int, tenant: String?) async throws -> [AuditRecord] {
        let rows = try await client.query(
            """
            SELECT seq, at, action, caller, tenant, origin, detail FROM sluice_audit
            WHERE seq > \(seq) AND (\(tenant)::text IS NULL OR tenant = \(tenant)) ORDER BY seq LIMIT \(limit)
            """,
            logger: logger)
        var records: [AuditRecord] = []
        for try await (seq, at, action, caller, tenant, origin, detail) in rows.decode((Int64, Double, String, String, String?, String?, String).self) {
            records.append(AuditRecord(
                seq: seq, at: Date(timeIntervalSince1970: at), action: action, caller: caller, tenant: tenant, from: origin, detail: detail))
        }
        return records
    }

    public func pruneAudit(before date: Date) async throws {
        try await client.query("DELETE FROM sluice_audit WHERE at < \(date.timeIntervalSince1970)", logger: logger)
    }
}
