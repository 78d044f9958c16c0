import Foundation
import GRDB

extension EmbeddedStore: ScheduleLog {
    public func claimRun(_ run: ScheduleRun) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO schedule_run (schedule, fire_at, node, started_at, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [run.schedule, run.fireAt.timeIntervalSince1970, run.node, run.startedAt.timeIntervalSince1970, run.outcome, run.detail])
            return db.changesCount > 0
        }
    }

    public func finishRun(_ run: ScheduleRun) async throws {
        try await committer.write { db in
            try db.execute(
                sql: "UPDATE schedule_run SET finished_at = ?, outcome = ?, detail = ? WHERE schedule = ? AND fire_at = ?",
                arguments: [run.finishedAt?.timeIntervalSince1970, run.outcome, run.detail, run.schedule, run.fireAt.timeIntervalSince1970])
        }
    }

    public func runs(of schedule: String, limit: Int) async throws -> [ScheduleRun] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM schedule_run WHERE schedule = ? ORDER BY fire_at DESC LIMIT ?", arguments: [schedule, limit]
            ).map { row in
                ScheduleRun(
                    schedule: row["schedule"], fireAt: Date(timeIntervalSince1970: row["fire_at"]), node: row["node"],
                    startedAt: Date(timeIntervalSince1970: row["started_at"]),
                    finishedAt: (row["finished_at"] as Double?).map { Date(timeIntervalSince1970: $0) }, outcome: row["outcome"],
                    detail: row["detail"])
            }
        }
    }
}
