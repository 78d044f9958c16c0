import Foundation
import Logging
import NIOCore
import PostgresNIO
import SluiceCore

/// Counters the nodes share, changed atomically.
extension PostgresStore {
    public func take(key: String, window: Int64, amount: Int, limit: Int) async throws -> Bool {
        guard amount <= limit else { return false }
        // One statement: the row lock orders concurrent nodes, and a window that cannot take it is left as it is.
        let rows = try await client.query(
            """
            INSERT INTO sluice_rate_window (user_key, window_start, count) VALUES (\(key), \(window), \(amount))
            ON CONFLICT (user_key, window_start) DO UPDATE SET count = sluice_rate_window.count + EXCLUDED.count
            WHERE sluice_rate_window.count + EXCLUDED.count <= \(limit)
            RETURNING count
            """,
            logger: logger)
        for try await _ in rows { return true }
        return false
    }

    public func addDaily(_ delta: DailyCounterDelta, messageLimit: Int?, tokenLimit: Int?) async throws -> Bool {
        if let messageLimit, delta.messages > messageLimit { return false }
        if let tokenLimit, delta.tokens > tokenLimit { return false }
        // One statement: concurrent nodes are ordered by the row lock, and a day at its limit is left as it is.
        let rows = try await client.query(
            """
            INSERT INTO sluice_daily_counter (day, user_key, messages, tokens) VALUES (\(delta.day), \(delta.user), \(delta.messages), \(delta.tokens))
            ON CONFLICT (day, user_key) DO UPDATE
            SET messages = sluice_daily_counter.messages + EXCLUDED.messages, tokens = sluice_daily_counter.tokens + EXCLUDED.tokens
            WHERE (\(messageLimit)::bigint IS NULL OR sluice_daily_counter.messages + EXCLUDED.messages <= \(messageLimit))
              AND (\(tokenLimit)::bigint IS NULL OR sluice_daily_counter.tokens + EXCLUDED.tokens <= \(tokenLimit))
            RETURNING 1
            """,
            logger: logger)
        for try await _ in rows { return true }
        return false
    }

    public func openStream(node: String, user: String, limit: Int, liveSeconds: Double) async throws -> Bool {
        try await transaction { connection in
            // One user's opens are taken one at a time across the nodes; other users are not held up.
            try await connection.query("SELECT pg_advisory_xact_lock(73115, hashtext(\(user)))", logger: logger)
            let rows = try await connection.query(
                """
                SELECT coalesce(sum(s.count), 0)::bigint FROM sluice_open_stream s LEFT JOIN sluice_node n ON n.id = s.node
                WHERE s.user_key = \(user) AND (s.node = \(node) OR n.heartbeat_at > now() - make_interval(secs => \(liveSeconds)))
                """,
                logger: logger)
            var open = 0
            for try await count in rows.decode(Int.self) { open = count }
            guard open < limit else { return false }
            try await connection.query(
                """
                INSERT INTO sluice_open_stream (node, user_key, count) VALUES (\(node), \(user), 1)
                ON CONFLICT (user_key, node) DO UPDATE SET count = sluice_open_stream.count + 1
                """,
                logger: logger)
            return true
        }
    }

    public func closeStream(node: String, user: String) async throws {
        try await client.query(
            "UPDATE sluice_open_stream SET count = count - 1 WHERE user_key = \(user) AND node = \(node) AND count > 0", logger: logger)
    }
}
