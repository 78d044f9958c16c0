public import Foundation
import PostgresNIO

extension PostgresStore: DeliveryLog {
    typealias DeliveryRow = (String, String, String, String, String, Int, Double, Double, Int?, String?, Double?)

    public func addDelivery(_ delivery: Delivery) async throws {
        try await client.query(
            """
            INSERT INTO sluice_delivery (id, job_id, tenant, url, state, attempts, next_at, created_at, last_status, last_error, delivered_at)
            VALUES (\(delivery.id), \(delivery.jobID), \(delivery.tenant), \(delivery.url), \(delivery.state.rawValue), \(delivery.attempts),
                    \(delivery.nextAt.timeIntervalSince1970), \(delivery.createdAt.timeIntervalSince1970), \(delivery.lastStatus),
                    \(delivery.lastError), \(delivery.deliveredAt?.timeIntervalSince1970))
            """,
            logger: logger)
    }

    public func jobEnded(_ jobID: String, now: Date) async throws -> Int {
        let rows = try await client.query(
            """
            UPDATE sluice_delivery SET state = 'pending', next_at = \(now.timeIntervalSince1970)
            WHERE job_id = \(jobID) AND state = 'waiting' RETURNING id
            """,
            logger: logger)
        var count = 0
        for try await _ in rows.decode(String.self) { count += 1 }
        return count
    }

    public func takeDueDeliveries(now: Date, limit: Int, leaseSeconds: Double) async throws -> [Delivery] {
        let leased = now.addingTimeInterval(leaseSeconds).timeIntervalSince1970
        let rows = try await client.query(
            """
            UPDATE sluice_delivery SET next_at = \(leased)
            WHERE id IN (
                SELECT id FROM sluice_delivery WHERE state IN ('waiting', 'pending') AND next_at <= \(now.timeIntervalSince1970)
                ORDER BY next_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
            )
            RETURNING id, job_id, tenant, url, state, attempts, next_at, created_at, last_status, last_error, delivered_at
            """,
            logger: logger)
        return try await Self.deliveries(rows)
    }

    public func updateDelivery(_ delivery: Delivery) async throws {
        try await client.query(
            """
            UPDATE sluice_delivery SET state = \(delivery.state.rawValue), attempts = \(delivery.attempts),
                next_at = \(delivery.nextAt.timeIntervalSince1970), last_status = \(delivery.lastStatus), last_error = \(delivery.lastError),
                delivered_at = \(delivery.deliveredAt?.timeIntervalSince1970), created_at = \(delivery.createdAt.timeIntervalSince1970)
            WHERE id = \(delivery.id)
            """,
            logger: logger)
    }

    public func delivery(id: String) async throws -> Delivery? {
        let rows = try await client.query(
            """
            SELECT id, job_id, tenant, url, state, attempts, next_at, created_at, last_status, last_error, delivered_at
            FROM sluice_delivery WHERE id = \(id)
            """,
            logger: logger)
        return try await Self.deliveries(rows).first
    }

    public func deliveries(state: Delivery.State?, tenant: String?, limit: Int) async throws -> [Delivery] {
        let rows = try await client.query(
            """
            SELECT id, job_id, tenant, url, state, attempts, next_at, created_at, last_status, last_error, delivered_at
            FROM sluice_delivery WHERE (\(state?.rawValue)::text IS NULL OR state = \(state?.rawValue))
                AND (\(tenant)::text IS NULL OR tenant = \(tenant))
            ORDER BY created_at DESC LIMIT \(limit)
            """,
            logger: logger)
        return try await Self.deliveries(rows)
    }

    public func pruneDeliveries(before date: Date) async throws {
        try await client.query(
            "DELETE FROM sluice_delivery WHERE state IN ('delivered', 'dead') AND created_at < \(date.timeIntervalSince1970)", logger: logger)
    }

    static func deliveries(_ rows: PostgresRowSequence) async throws -> [Delivery] {
        var found: [Delivery] = []
        for try await row in rows.decode(DeliveryRow.self) {
            guard let state = Delivery.State(rawValue: row.4) else { continue }
            var delivery = Delivery(
                id: row.0, jobID: row.1, tenant: row.2, url: row.3, state: state, nextAt: Date(timeIntervalSince1970: row.6),
                createdAt: Date(timeIntervalSince1970: row.7))
            delivery.attempts = row.5
            delivery.lastStatus = row.8
            delivery.lastError = row.9
            delivery.deliveredAt = row.10.map { Date(timeIntervalSince1970: $0) }
            found.append(delivery)
        }
        return found
    }
}
