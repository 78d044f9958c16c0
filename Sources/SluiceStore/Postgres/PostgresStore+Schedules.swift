import Foundation
import PostgresNIO

extension PostgresStore: ScheduleLog {
    public func claimRun(_ run: ScheduleRun) async throws -> Bool {
        let rows = try await client.query(
            """
            INSERT INTO sluice_schedule_run (schedule, fire_at, node, started_at, outcome, detail)
            VALUES (\(run.schedule), \(run.fireAt.timeIntervalSince1970), \(run.node), \(run.startedAt.timeIntervalSince1970), \(run.outcome),
                    \(run.detail))
            ON CONFLICT (schedule, fire_at) DO NOTHING RETURNING schedule
            """,
            logger: logger)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    public func finishRun(_ run: ScheduleRun) async throws {
        try await client.query(
            """
            UPDATE sluice_schedule_run SET finished_at = \(run.finishedAt?.timeIntervalSince1970), outcome = \(run.outcome), detail = \(run.detail)
            WHERE schedule = \(run.schedule) AND fire_at = \(run.fireAt.timeIntervalSince1970)
            """,
            logger: logger)
    }

    public func runs(of schedule: String, limit: Int) async throws -> [ScheduleRun] {
        let rows = try await client.query(
            """
            SELECT schedule, fire_at, node, started_at, finished_at, outcome, detail FROM sluice_schedule_run
            WHERE schedule = \(schedule) ORDER BY fire_at DESC LIMIT \(limit)
            """,
            logger: logger)
        var runs: [ScheduleRun] = []
        for try await (name, fireAt, node, startedAt, finishedAt, outcome, detail) in rows.decode((String, Double, String, Double, Double?, String, String).self) {
            runs.append(ScheduleRun(
                schedule: name, fireAt: Date(timeIntervalSince1970: fireAt), node: node, startedAt: Date(timeIntervalSince1970: startedAt),
                finishedAt: finishedAt.map { Date(timeIntervalSince1970: $0) }, outcome: outcome, detail: detail))
        }
        return runs
    }
}
