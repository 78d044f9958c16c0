import Foundation
import GRDB
import SluiceCore

extension EmbeddedStore {
    /// Adds one job's use to its row of the rollup.
    static func rollUp(_ usage: UsageRow, db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO usage_rollup (day, tenant, user, model, deployment, requests, failures, prompt_tokens, completion_tokens,
                    cost_micros, cache_hits, saved_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant, day, user, model, deployment) DO UPDATE SET
                    requests = requests + excluded.requests, failures = failures + excluded.failures,
                    prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens,
                    cost_micros = cost_micros + excluded.cost_micros, cache_hits = cache_hits + excluded.cache_hits,
                    saved_tokens = saved_tokens + excluded.saved_tokens
                """
        ).execute(
            arguments: [
                usage.day, usage.tenant, usage.user, usage.model, usage.deployment, usage.requests, usage.failures, usage.promptTokens,
                usage.completionTokens, usage.costMicros, usage.cacheHits, usage.savedTokens,
            ])
    }

    public func addUsage(_ rows: [UsageRow], counters: [DailyCounterDelta]) async throws {
        try await usageWriter.add(rows, counters: counters)
    }

    public func usage(tenant: String, user: String?, from: String, to: String) async throws -> [UsageRow] {
        try await pool.read { db in
            var sql = "SELECT * FROM usage_rollup WHERE tenant = ? AND day >= ? AND day <= ?"
            var arguments: StatementArguments = [tenant, from, to]
            if let user {
                sql += " AND user = ?"
                arguments += [user]
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY day, user, model, deployment", arguments: arguments).map { row in
                var usage = UsageRow(day: row["day"], tenant: row["tenant"], user: row["user"], model: row["model"], deployment: row["deployment"])
                usage.requests = row["requests"]
                usage.failures = row["failures"]
                usage.promptTokens = row["prompt_tokens"]
                usage.completionTokens = row["completion_tokens"]
                usage.costMicros = row["cost_micros"]
                usage.cacheHits = row["cache_hits"]
                usage.savedTokens = row["saved_tokens"]
                return usage
            }
        }
    }
}
