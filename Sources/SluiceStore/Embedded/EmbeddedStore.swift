public import Foundation
import GRDB
import Logging
public import SluiceCore

/// The embedded store: one SQLite file in WAL mode through GRDB. Every write is committed before it
/// returns, with concurrent writes grouped into shared commits.
public final class EmbeddedStore: JobStore, StreamLog, CacheStore, JobHistory, UsageRollup {
    /// How the embedded store is set up.
    public struct Configuration: Sendable {
        /// The folder that holds `sluice.sqlite` (default `./.sluice`).
        public var directory: String
        /// SQLite's `synchronous` setting: `full` (default, durable against power loss) or `normal`
        /// (durable against a crash of the process only).
        public var synchronous: String

        /// - Parameters:
        ///   - directory: the data folder.
        ///   - synchronous: `full` or `normal`.
        public init(directory: String = ".sluice", synchronous: String = "full") {
            self.directory = directory
            self.synchronous = synchronous
        }
    }

    let pool: DatabasePool
    let committer: GroupCommitter
    /// Concurrent usage (cache hits' charges) summed and written as one operation of a group commit.
    let usageWriter: UsageWriter
    static let encoder = StreamingJSONEncoder()
    static let decoder = JSONDecoder()

    /// Opens (and creates, and migrates) the store.
    /// - Parameter configuration: where and how.
    public init(configuration: Configuration) throws {
        try FileManager.default.createDirectory(atPath: configuration.directory, withIntermediateDirectories: true)
        var config = GRDB.Configuration()
        let synchronous = configuration.synchronous.lowercased() == "normal" ? "NORMAL" : "FULL"
        config.busyMode = .timeout(10)
        let path = (configuration.directory as NSString).appendingPathComponent("sluice.sqlite")
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try Self.migrator.migrate(pool)
            // On the writer, once the pool is open: GRDB sets `synchronous = NORMAL` when it turns WAL on,
            // after `prepareDatabase` has run (a setting made there is undone, and commits skip their fsync).
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
        } catch let error as DatabaseError where [.SQLITE_NOTADB, .SQLITE_CORRUPT].contains(error.resultCode) {
            throw DamagedStore(path: path, reason: error.message ?? "\(error.resultCode)")
        }
        let committer = GroupCommitter(writer: pool)
        self.committer = committer
        usageWriter = UsageWriter { tally in
            try await committer.write { db in
                try Self.apply(tally.counters, db: db)
                for row in tally.rows { try Self.rollUp(row, db: db) }
            }
        }
    }

    /// The data file cannot be read as a database: what is wrong, and how to recover.
    public struct DamagedStore: Error, CustomStringConvertible {
        /// The file.
        public var path: String
        /// SQLite's words.
        public var reason: String
        public var description: String {
            """
            the data file \(path) is damaged (\(reason)). Stop Sluice and move it aside (with its -wal and -shm files) to \
            start with an empty store, or restore it from a backup; `sqlite3 \(path) .recover` may save its rows.
            """
        }
    }

    /// Decodes stored rows, moving the ones that cannot be decoded to the `quarantine` table (with why)
    /// instead of failing: one damaged row must not keep a node from starting.
    func decoded<T: Decodable>(_ rows: [(key: String, data: Data)], as type: T.Type, table: String, keyColumn: String) async throws -> [T] {
        var values: [T] = []
        var damaged: [(key: String, data: Data, reason: String)] = []
        for row in rows {
            do {
                values.append(try Self.decoder.decode(T.self, from: row.data))
            } catch {
                damaged.append((row.key, row.data, "\(error)"))
            }
        }
        guard !damaged.isEmpty else { return values }
        let moved = damaged
        try await committer.write { db in
            for row in moved {
                try db.execute(
                    sql: "INSERT INTO quarantine (source, key, data, reason, at) VALUES (?, ?, ?, ?, ?)",
                    arguments: [table, row.key, row.data, String(row.reason.prefix(1000)), Date().timeIntervalSince1970])
                try db.execute(sql: "DELETE FROM \(table) WHERE \(keyColumn) = ?", arguments: [row.key])
            }
        }
        Self.logger.error("moved rows that cannot be read to the quarantine table", metadata: [
            "sluice.table": "\(table)", "sluice.keys": "\(damaged.map(\.key).joined(separator: ","))",
        ])
        return values
    }

    static let logger = Logger(label: "sluice.store")

    /// The rows moved to quarantine: where from, their key, and why.
    public func quarantined() async throws -> [(source: String, key: String, reason: String)] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT source, key, reason FROM quarantine ORDER BY rowid").map { ($0["source"], $0["key"], $0["reason"]) }
        }
    }

    public func putCache(_ entries: [CacheEntry]) async throws {
        let rows = try entries.map { ($0.key, $0.expiresAt.timeIntervalSince1970, try Self.encoder.encode($0)) }
        try await committer.write { db in
            for (key, expires, data) in rows {
                try db.cachedStatement(sql: "INSERT OR REPLACE INTO cache_entry (key, expires_at, data) VALUES (?, ?, ?)").execute(arguments: [key, expires, data])
            }
        }
    }

    public func deleteCache(keys: [String]) async throws {
        guard !keys.isEmpty else { return }
        try await committer.write { db in
            for key in keys { try db.execute(sql: "DELETE FROM cache_entry WHERE key = ?", arguments: [key]) }
        }
    }

    public func cacheEntries(now: Date) async throws -> [CacheEntry] {
        let rows = try await pool.write { db -> [(key: String, data: Data)] in
            try db.execute(sql: "DELETE FROM cache_entry WHERE expires_at <= ?", arguments: [now.timeIntervalSince1970])
            return try Row.fetchAll(db, sql: "SELECT key, data FROM cache_entry ORDER BY rowid").map { ($0["key"], $0["data"]) }
        }
        return try await decoded(rows, as: CacheEntry.self, table: "cache_entry", keyColumn: "key")
    }

    public func insert(_ job: Job, counters: [DailyCounterDelta]) async throws {
        let data = try Self.encoder.encode(job)
        try await committer.write { db in
            try db.cachedStatement(
                sql: "INSERT INTO job (id, state, finished_at, data, user_key, tenant, plan, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            ).execute(
                arguments: [
                    job.id, job.state.rawValue, job.finishedAt?.timeIntervalSince1970, data, job.owner.userKey, job.owner.tenant,
                    job.owner.plan, job.createdAt.timeIntervalSince1970,
                ])
            try Self.apply(counters, db: db)
        }
    }

    public func save(_ job: Job, appending chunks: [StreamChunk], counters: [DailyCounterDelta]) async throws {
        let data = try Self.encoder.encode(job)
        let rows = try Self.encode(chunks)
        let usage = UsageRow(ended: job)
        try await committer.write { db in
            // Counted in the commit that first stores the job ended, and only then.
            if let usage, let before = try String.fetchOne(db.cachedStatement(sql: "SELECT state FROM job WHERE id = ?"), arguments: [job.id]),
               JobState(rawValue: before)?.isTerminal == false
            {
                try Self.rollUp(usage, db: db)
            }
            try db.cachedStatement(sql: "UPDATE job SET state = ?, finished_at = ?, data = ? WHERE id = ?")
                .execute(arguments: [job.state.rawValue, job.finishedAt?.timeIntervalSince1970, data, job.id])
            try Self.insert(rows, jobID: job.id, db: db)
            try Self.apply(counters, db: db)
        }
    }

    public func addCounters(_ counters: [DailyCounterDelta]) async throws {
        try await committer.write { db in try Self.apply(counters, db: db) }
    }

    public func addFollower(jobID: String, tenant: String, user: String) async throws {
        try await committer.write { db in
            try db.cachedStatement(sql: "INSERT OR IGNORE INTO job_follower (job_id, tenant, user) VALUES (?, ?, ?)").execute(arguments: [jobID, tenant, user])
        }
    }

    public func isFollower(jobID: String, tenant: String, user: String) async throws -> Bool {
        try await pool.read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM job_follower WHERE job_id = ? AND tenant = ? AND user = ?", arguments: [jobID, tenant, user]) ?? false
        }
    }

    public func dailyCounters(day: String) async throws -> [(user: String, messages: Int, tokens: Int)] {
        try await pool.read { db -> [(String, Int, Int)] in
            try Row.fetchAll(db, sql: "SELECT user, messages, tokens FROM daily_counter WHERE day = ?", arguments: [day])
                .map { ($0["user"], $0["messages"], $0["tokens"]) }
        }.map { (user: $0.0, messages: $0.1, tokens: $0.2) }
    }

    static func apply(_ counters: [DailyCounterDelta], db: Database) throws {
        for delta in counters where delta.messages != 0 || delta.tokens != 0 {
            try db.cachedStatement(
                sql: """
                    INSERT INTO daily_counter (user, day, messages, tokens) VALUES (?, ?, ?, ?)
                    ON CONFLICT (day, user) DO UPDATE SET messages = messages + excluded.messages, tokens = tokens + excluded.tokens
                    """
            ).execute(arguments: [delta.user, delta.day, delta.messages, delta.tokens])
        }
    }

    public func append(_ chunks: [StreamChunk], to jobID: String, fence: Int?) async throws {
        guard !chunks.isEmpty else { return }
        let rows = try Self.encode(chunks)
        try await committer.write { db in try Self.insert(rows, jobID: jobID, db: db) }
    }

    public func job(id: String) async throws -> Job? {
        let data = try await pool.read { db in
            try Data.fetchOne(db, sql: "SELECT data FROM job WHERE id = ?", arguments: [id])
        }
        return try data.map { try Self.decoder.decode(Job.self, from: $0) }
    }

    public func unfinishedJobs() async throws -> [Job] {
        let rows = try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, data FROM job WHERE state IN ('queued', 'running')").map { (key: $0["id"] as String, data: $0["data"] as Data) }
        }
        return try await decoded(rows, as: Job.self, table: "job", keyColumn: "id")
    }

    public func watchedJobs(node: String?) async throws -> [JobMark] {
        // One node: no job is held by another, and a queued job is the scheduler's.
        try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT id FROM job WHERE state = 'running'").map { JobMark(id: $0, state: .running) }
        }
    }

    public func chunks(of jobID: String, after seq: Int) async throws -> [StreamChunk] {
        let rows = try await pool.read { db -> [(Int, Data)] in
            try Row.fetchAll(db, sql: "SELECT seq, data FROM chunk WHERE job_id = ? AND seq > ? ORDER BY seq", arguments: [jobID, seq])
                .map { row in (row["seq"], row["data"]) }
        }
        return try rows.map { StreamChunk(seq: $0.0, event: try Self.decoder.decode(StreamEvent.self, from: $0.1)) }
    }

    public func deleteFinished(before date: Date) async throws -> Int {
        let cutoff = date.timeIntervalSince1970
        return try await pool.write { db in
            try db.execute(sql: "DELETE FROM chunk WHERE job_id IN (SELECT id FROM job WHERE finished_at < ?)", arguments: [cutoff])
            try db.execute(sql: "DELETE FROM job_follower WHERE job_id IN (SELECT id FROM job WHERE finished_at < ?)", arguments: [cutoff])
            try db.execute(sql: "DELETE FROM job WHERE finished_at < ?", arguments: [cutoff])
            let removed = db.changesCount
            // Daily counters are kept for a week, whatever the stream retention.
            let week = Date(timeIntervalSince1970: cutoff).addingTimeInterval(-7 * 86400)
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withFullDate]
            // Days (yyyy-mm-dd) after a week; months of spend (yyyy-mm) only once they are two months old.
            let months = String(formatter.string(from: Date(timeIntervalSince1970: cutoff).addingTimeInterval(-62 * 86400)).prefix(7))
            try db.execute(
                sql: "DELETE FROM daily_counter WHERE (length(day) = 10 AND day < ?) OR (length(day) = 7 AND day < ?)",
                arguments: [formatter.string(from: week), months])
            return removed
        }
    }

    public func deleteEnded(jobID: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM job WHERE id = ? AND finished_at IS NOT NULL", arguments: [jobID])
            guard db.changesCount > 0 else { return false }
            try db.execute(sql: "DELETE FROM chunk WHERE job_id = ?", arguments: [jobID])
            try db.execute(sql: "DELETE FROM job_follower WHERE job_id = ?", arguments: [jobID])
            return true
        }
    }

    static func encode(_ chunks: [StreamChunk]) throws -> [(Int, Data)] {
        try chunks.map { ($0.seq, try encoder.encode($0.event)) }
    }

    static func insert(_ rows: [(Int, Data)], jobID: String, db: Database) throws {
        guard !rows.isEmpty else { return }
        let statement = try db.cachedStatement(sql: "INSERT OR REPLACE INTO chunk (job_id, seq, data) VALUES (?, ?, ?)")
        for (seq, data) in rows {
            try statement.execute(arguments: [jobID, seq, data])
        }
    }
}
