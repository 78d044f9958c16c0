public import Foundation
import Logging
import PostgresNIO
public import SluiceCore

extension PostgresStore {
    public func history(_ scope: HistoryScope, before cursor: String?, since: Date?, limit: Int) async throws -> [Job] {
        let floor = since?.timeIntervalSince1970 ?? 0
        // The column is one of two names fixed here, never a caller's text.
        let (column, owner) = switch scope {
        case .user(let key): ("user_key", key)
        case .tenant(let tenant): ("tenant", tenant)
        }
        let rows: PostgresRowSequence
        if let cursor {
            rows = try await client.query(
                """
                SELECT j.data, j.node, j.fence FROM sluice_job j, (SELECT created_at, id FROM sluice_job WHERE id = \(cursor)) m
                WHERE j.\(unescaped: column) = \(owner) AND j.created_at >= \(floor) AND (j.created_at, j.id) < (m.created_at, m.id)
                ORDER BY j.created_at DESC, j.id DESC LIMIT \(limit)
                """, logger: logger)
        } else {
            rows = try await client.query(
                """
                SELECT data, node, fence FROM sluice_job WHERE \(unescaped: column) = \(owner) AND created_at >= \(floor)
                ORDER BY created_at DESC, id DESC LIMIT \(limit)
                """, logger: logger)
        }
        return try await Self.jobs(rows)
    }

    public func erase(user: String) async throws -> Int {
        try await transaction { connection in
            try await connection.query(
                "DELETE FROM sluice_chunk WHERE job_id IN (SELECT id FROM sluice_job WHERE user_key = \(user) AND finished_at IS NOT NULL)",
                logger: logger)
            try await connection.query(
                "DELETE FROM sluice_job_follower WHERE job_id IN (SELECT id FROM sluice_job WHERE user_key = \(user) AND finished_at IS NOT NULL)",
                logger: logger)
            var removed = 0
            for try await _ in try await connection.query(
                "DELETE FROM sluice_job WHERE user_key = \(user) AND finished_at IS NOT NULL RETURNING 1", logger: logger)
            {
                removed += 1
            }
            return removed
        }
    }

    public func deleteStreams(endedBefore date: Date, since: Date?) async throws -> Int {
        let cutoff = date.timeIntervalSince1970
        let floor = since?.timeIntervalSince1970 ?? 0
        return try await transaction { connection in
            var removed = 0
            for try await _ in try await connection.query(
                """
                DELETE FROM sluice_chunk WHERE job_id IN (SELECT id FROM sluice_job WHERE finished_at >= \(floor) AND finished_at < \(cutoff))
                RETURNING 1
                """, logger: logger)
            {
                removed += 1
            }
            try await connection.query(
                "DELETE FROM sluice_job_follower WHERE job_id IN (SELECT id FROM sluice_job WHERE finished_at >= \(floor) AND finished_at < \(cutoff))",
                logger: logger)
            return removed
        }
    }

    public func deleteHistory(before cutoffs: [String: Date], otherwise: Date) async throws -> Int {
        let plans = cutoffs.keys.sorted()
        let dates = plans.map { cutoffs[$0]!.timeIntervalSince1970 }
        let fallback = otherwise.timeIntervalSince1970
        // The latest cutoff first, so that the finished_at index narrows the rows the plans are read for.
        let latest = cutoffs.values.reduce(otherwise) { max($0, $1) }.timeIntervalSince1970
        // The cutoff of each job's plan: from the lists of plans and dates, or the fallback.
        return try await transaction { connection in
            try await connection.query(
                """
                DELETE FROM sluice_chunk WHERE job_id IN (SELECT id FROM sluice_job WHERE finished_at < \(latest) AND finished_at < coalesce(
                    (SELECT d FROM unnest(\(plans)::text[], \(dates)::float8[]) AS c (p, d) WHERE c.p = sluice_job.plan), \(fallback)))
                """, logger: logger)
            try await connection.query(
                """
                DELETE FROM sluice_job_follower WHERE job_id IN (SELECT id FROM sluice_job WHERE finished_at < \(latest) AND finished_at < coalesce(
                    (SELECT d FROM unnest(\(plans)::text[], \(dates)::float8[]) AS c (p, d) WHERE c.p = sluice_job.plan), \(fallback)))
                """, logger: logger)
            var removed = 0
            for try await _ in try await connection.query(
                """
                DELETE FROM sluice_job WHERE finished_at < \(latest) AND finished_at < coalesce(
                    (SELECT d FROM unnest(\(plans)::text[], \(dates)::float8[]) AS c (p, d) WHERE c.p = sluice_job.plan), \(fallback))
                RETURNING 1
                """, logger: logger)
            {
                removed += 1
            }
            return removed
        }
    }
}
