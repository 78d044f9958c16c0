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
}
