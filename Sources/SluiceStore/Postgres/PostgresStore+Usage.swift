import Foundation
import Logging
import PostgresNIO
import SluiceCore

/// Usage rows as the column arrays a statement unnests, each with the job it comes from.
struct UsageColumns {
    var ids: [String] = [], days: [String] = [], tenants: [String] = [], users: [String] = [], models: [String] = []
    var deployments: [String] = []
    var requests: [Int] = [], failures: [Int] = [], prompt: [Int] = [], completion: [Int] = [], cost: [Int] = [], hits: [Int] = []
    var saved: [Int] = []

    init(_ rows: [(String, UsageRow)]) {
        for (id, row) in rows {
            ids.append(id)
            days.append(row.day)
            tenants.append(row.tenant)
            users.append(row.user)
            models.append(row.model)
            deployments.append(row.deployment)
            requests.append(row.requests)
            failures.append(row.failures)
            prompt.append(row.promptTokens)
            completion.append(row.completionTokens)
            cost.append(row.costMicros)
            hits.append(row.cacheHits)
            saved.append(row.savedTokens)
        }
    }
}

extension PostgresStore {
    public func addUsage(_ rows: [UsageRow], counters: [DailyCounterDelta]) async throws {
        try await usageWriter.add(rows, counters: counters)
    }

    /// Writes a tally of usage: its counters and rows in one transaction, so that the calls summed into it
    /// (each told that its write failed when this does) never find part of it written.
    static func write(_ tally: UsageTally, client: PostgresClient, logger: Logger) async throws {
        try await transaction(client, logger: logger) { connection in
            try await Self.apply(tally.counters, on: connection, logger: logger)
            for row in tally.rows { try await Self.rollUp(row, on: connection, logger: logger) }
        }
    }

    /// Adds one row to its day's totals.
    static func rollUp(_ row: UsageRow, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO sluice_usage (day, tenant, user_name, model, deployment, requests, failures, prompt_tokens, completion_tokens,
                                      cost_micros, cache_hits, saved_tokens)
            VALUES (\(row.day), \(row.tenant), \(row.user), \(row.model), \(row.deployment), \(row.requests), \(row.failures),
                    \(row.promptTokens), \(row.completionTokens), \(row.costMicros), \(row.cacheHits), \(row.savedTokens))
            ON CONFLICT (tenant, day, user_name, model, deployment) DO UPDATE SET
                requests = sluice_usage.requests + EXCLUDED.requests, failures = sluice_usage.failures + EXCLUDED.failures,
                prompt_tokens = sluice_usage.prompt_tokens + EXCLUDED.prompt_tokens,
                completion_tokens = sluice_usage.completion_tokens + EXCLUDED.completion_tokens,
                cost_micros = sluice_usage.cost_micros + EXCLUDED.cost_micros, cache_hits = sluice_usage.cache_hits + EXCLUDED.cache_hits,
                saved_tokens = sluice_usage.saved_tokens + EXCLUDED.saved_tokens
            """, logger: logger)
    }

    public func usage(tenant: String, user: String?, from: String, to: String) async throws -> [UsageRow] {
        let rows = try await client.query(
            """
            SELECT day, tenant, user_name, model, deployment, requests, failures, prompt_tokens, completion_tokens, cost_micros, cache_hits, saved_tokens
            FROM sluice_usage WHERE tenant = \(tenant) AND day >= \(from) AND day <= \(to) AND (\(user ?? "") = '' OR user_name = \(user ?? ""))
            ORDER BY day, user_name, model, deployment
            """, logger: logger)
        var usage: [UsageRow] = []
        for try await (day, tenant, user, model, deployment, requests, failures, prompt, completion, cost, hits, saved)
            in rows.decode((String, String, String, String, String, Int, Int, Int, Int, Int, Int, Int).self)
        {
            var row = UsageRow(day: day, tenant: tenant, user: user, model: model, deployment: deployment)
            row.requests = requests
            row.failures = failures
            row.promptTokens = prompt
            row.completionTokens = completion
            row.costMicros = cost
            row.cacheHits = hits
            row.savedTokens = saved
            usage.append(row)
        }
        return usage
    }
}
