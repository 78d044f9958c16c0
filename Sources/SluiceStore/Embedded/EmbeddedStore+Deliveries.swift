public import Foundation
import GRDB

extension EmbeddedStore: DeliveryLog {
    static let deliveryColumns = "id, job_id, tenant, url, state, attempts, next_at, created_at, last_status, last_error, delivered_at"

    public func addDelivery(_ delivery: Delivery) async throws {
        try await committer.write { db in
            try db.execute(
                sql: "INSERT INTO delivery (\(Self.deliveryColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: Self.arguments(delivery))
        }
    }

    public func jobEnded(_ jobID: String, now: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE delivery SET state = 'pending', next_at = ? WHERE job_id = ? AND state = 'waiting'",
                arguments: [now.timeIntervalSince1970, jobID])
            return db.changesCount
        }
    }

    public func takeDueDeliveries(now: Date, limit: Int, leaseSeconds: Double) async throws -> [Delivery] {
        let leased = now.addingTimeInterval(leaseSeconds)
        return try await pool.write { db in
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT \(Self.deliveryColumns) FROM delivery WHERE state IN ('waiting', 'pending') AND next_at <= ? ORDER BY next_at LIMIT ?",
                arguments: [now.timeIntervalSince1970, limit])
            var taken: [Delivery] = []
            for row in rows {
                guard var delivery = Self.delivery(row) else { continue }
                delivery.nextAt = leased
                try db.execute(sql: "UPDATE delivery SET next_at = ? WHERE id = ?", arguments: [leased.timeIntervalSince1970, delivery.id])
                taken.append(delivery)
            }
            return taken
        }
    }

    public func updateDelivery(_ delivery: Delivery) async throws {
        try await committer.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO delivery (\(Self.deliveryColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: Self.arguments(delivery))
        }
    }

    public func delivery(id: String) async throws -> Delivery? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.deliveryColumns) FROM delivery WHERE id = ?", arguments: [id]).flatMap(Self.delivery)
        }
    }

    public func deliveries(state: Delivery.State?, tenant: String?, limit: Int) async throws -> [Delivery] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.deliveryColumns) FROM delivery WHERE (? IS NULL OR state = ?) AND (? IS NULL OR tenant = ?)
                    ORDER BY created_at DESC LIMIT ?
                    """,
                arguments: [state?.rawValue, state?.rawValue, tenant, tenant, limit]
            ).compactMap(Self.delivery)
        }
    }

    public func pruneDeliveries(before date: Date) async throws {
        try await committer.write { db in
            try db.execute(
                sql: "DELETE FROM delivery WHERE state IN ('delivered', 'dead') AND created_at < ?", arguments: [date.timeIntervalSince1970])
        }
    }

    static func arguments(_ delivery: Delivery) -> StatementArguments {
        [
            delivery.id, delivery.jobID, delivery.tenant, delivery.url, delivery.state.rawValue, delivery.attempts,
            delivery.nextAt.timeIntervalSince1970, delivery.createdAt.timeIntervalSince1970, delivery.lastStatus, delivery.lastError,
            delivery.deliveredAt?.timeIntervalSince1970,
        ]
    }

    static func delivery(_ row: Row) -> Delivery? {
        guard let state = Delivery.State(rawValue: row["state"]) else { return nil }
        var delivery = Delivery(
            id: row["id"], jobID: row["job_id"], tenant: row["tenant"], url: row["url"], state: state,
            nextAt: Date(timeIntervalSince1970: row["next_at"]), createdAt: Date(timeIntervalSince1970: row["created_at"]))
        delivery.attempts = row["attempts"]
        delivery.lastStatus = row["last_status"]
        delivery.lastError = row["last_error"]
        delivery.deliveredAt = (row["delivered_at"] as Double?).map { Date(timeIntervalSince1970: $0) }
        return delivery
    }
}
