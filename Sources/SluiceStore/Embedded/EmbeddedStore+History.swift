public import Foundation
import GRDB
public import SluiceCore

extension EmbeddedStore {
    public func history(_ scope: HistoryScope, before cursor: String?, since: Date?, limit: Int) async throws -> [Job] {
        let (column, owner) = switch scope {
        case .user(let key): ("user_key", key)
        case .tenant(let tenant): ("tenant", tenant)
        }
        let rows = try await pool.read { db -> [(key: String, data: Data)] in
            var sql = "SELECT id, data FROM job WHERE \(column) = ? AND created_at >= ?"
            var arguments: StatementArguments = [owner, since?.timeIntervalSince1970 ?? 0]
            if let cursor {
                // A cursor that names no job (swept, erased, made up) ends the listing, as on PostgreSQL.
                guard let mark = try Row.fetchOne(db, sql: "SELECT created_at, id FROM job WHERE id = ?", arguments: [cursor]) else { return [] }
                let at: Double = mark["created_at"]
                // A row value: SQLite walks the (owner, created_at, id) index from the cursor down.
                sql += " AND (created_at, id) < (?, ?)"
                arguments += [at, cursor]
            }
            sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { ($0["id"], $0["data"]) }
        }
        return try await decoded(rows, as: Job.self, table: "job", keyColumn: "id")
    }

    public func erase(user: String) async throws -> Int {
        try await pool.write { db in
            let ended = "SELECT id FROM job WHERE user_key = ? AND finished_at IS NOT NULL"
            try db.execute(sql: "DELETE FROM chunk WHERE job_id IN (\(ended))", arguments: [user])
            try db.execute(sql: "DELETE FROM job_follower WHERE job_id IN (\(ended))", arguments: [user])
            try db.execute(sql: "DELETE FROM job WHERE user_key = ? AND finished_at IS NOT NULL", arguments: [user])
            return db.changesCount
        }
    }

    public func deleteStreams(endedBefore date: Date, since: Date?) async throws -> Int {
        let range: StatementArguments = [since?.timeIntervalSince1970 ?? 0, date.timeIntervalSince1970]
        return try await pool.write { db in
            let ended = "SELECT id FROM job WHERE finished_at >= ? AND finished_at < ?"
            try db.execute(sql: "DELETE FROM chunk WHERE job_id IN (\(ended))", arguments: range)
            let removed = db.changesCount
            try db.execute(sql: "DELETE FROM job_follower WHERE job_id IN (\(ended))", arguments: range)
            return removed
        }
    }

    public func deleteHistory(before cutoffs: [String: Date], otherwise: Date) async throws -> Int {
        let (cutoff, planArguments) = Self.cutoff(cutoffs, otherwise: otherwise)
        // The latest cutoff first, so that the finished_at index narrows the rows the plans are read for.
        let latest = cutoffs.values.reduce(otherwise) { max($0, $1) }.timeIntervalSince1970
        let arguments: StatementArguments = [latest] + planArguments
        return try await pool.write { db in
            let old = "SELECT id FROM job WHERE finished_at < ? AND finished_at < \(cutoff)"
            try db.execute(sql: "DELETE FROM chunk WHERE job_id IN (\(old))", arguments: arguments)
            try db.execute(sql: "DELETE FROM job_follower WHERE job_id IN (\(old))", arguments: arguments)
            try db.execute(sql: "DELETE FROM job WHERE finished_at < ? AND finished_at < \(cutoff)", arguments: arguments)
            return db.changesCount
        }
    }

    /// The SQL for "the cutoff of this job's plan", with its arguments.
    static func cutoff(_ cutoffs: [String: Date], otherwise: Date) -> (String, StatementArguments) {
        guard !cutoffs.isEmpty else { return ("?", [otherwise.timeIntervalSince1970]) }
        var arguments: StatementArguments = []
        var sql = "CASE plan"
        for (plan, date) in cutoffs.sorted(by: { $0.key < $1.key }) {
            sql += " WHEN ? THEN ?"
            arguments += [plan, date.timeIntervalSince1970]
        }
        sql += " ELSE ? END"
        arguments += [otherwise.timeIntervalSince1970]
        return (sql, arguments)
    }
}
