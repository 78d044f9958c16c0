public import Foundation
public import Logging
import NIOCore
import PostgresNIO
public import SluiceCore

/// The PostgreSQL store, shared by many nodes: the same protocols as the embedded store, through
/// PostgresNIO's pooled client. Every write is one transaction, committed before it returns; counter
/// changes are additive upserts, so concurrent nodes never lose each other's increments.
public final class PostgresStore: JobStore, StreamLog, CacheStore, SharedJobQueue, SharedCacheFeed, SharedCounters, JobHistory, UsageRollup {
    /// Where the database is and how to reach it.
    public struct Configuration: Sendable {
        /// `postgres://user:password@host:port/database[?sslmode=…&sslrootcert=…]`: `sslmode` is one of
        /// `disable` (the default), `allow`, `prefer`, `require`, `verify-ca` or `verify-full`, and
        /// `sslrootcert` the PEM file of the authority the server's certificate is checked against, with
        /// libpq's meanings (see `TLSPolicy`).
        public var url: String
        /// Connections in the pool.
        public var maxConnections: Int
        /// Seconds a node holds a job without renewing its lease.
        public var leaseSeconds: Double

        /// - Parameters:
        ///   - url: the database URL.
        ///   - maxConnections: the pool's size.
        ///   - leaseSeconds: the lease.
        public init(url: String, maxConnections: Int = 20, leaseSeconds: Double = 30) {
            self.url = url
            self.maxConnections = maxConnections
            self.leaseSeconds = leaseSeconds
        }
    }

    /// A database URL that cannot be used; the message never repeats the password.
    public struct BadURL: Error, CustomStringConvertible {
        public var description: String
    }

    let client: PostgresClient
    let leaseSeconds: Double
    let runner: Task<Void, Never>
    let logger: Logger
    /// Concurrent job inserts and saves go to the database together, one statement a batch.
    let inserts: PostgresBatcher<Job, Void>
    let saves: PostgresBatcher<Save, Bool>
    /// Concurrent usage (cache hits' charges) summed and written in one transaction.
    let usageWriter: UsageWriter
    static let encoder = StreamingJSONEncoder()
    static let decoder = JSONDecoder()

    /// Connects (the pool runs until `shutdown`) and migrates the schema.
    /// - Parameters:
    ///   - configuration: the database.
    ///   - logger: for the pool's background events.
    public init(configuration: Configuration, logger: Logger) async throws {
        let endpoint = try Endpoint(url: configuration.url)
        try await endpoint.probe(logger: logger)
        var settings = endpoint.clientConfiguration
        settings.options.maximumConnections = configuration.maxConnections
        // No minimum of warm connections: with one, PostgresNIO's pool traps (a precondition in its
        // state machine) when a request comes while the database is down — PostgresFaultTests found it.
        let client = PostgresClient(configuration: settings, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        let leaseSeconds = configuration.leaseSeconds
        self.leaseSeconds = leaseSeconds
        let deadline = StatementDeadline.writes
        inserts = PostgresBatcher(
            batch: { jobs in
                do {
                    // Read to its end: the statement returns a row (its notification), and an error (a duplicate id)
                    // arrives after the row's description.
                    _ = try await deadline.run { try await client.query(Self.insertQuery(jobs, leaseSeconds: leaseSeconds), logger: logger).collect() }
                } catch let error where StoreFailure.commitUnknown(error) != nil {
                    // One statement commits all its rows or none: when they are all there, it committed. Otherwise
                    // the jobs go again one by one (on connections that work), as after any failed batch.
                    let ids = jobs.map(\.id)
                    let found = try await deadline.run { try await Self.ids(client.query("SELECT id FROM sluice_job WHERE id = ANY(\(ids)::text[])", logger: logger)) }
                    guard found.count == ids.count else { throw error }
                }
                return jobs.map { _ in () }
            },
            single: { job in
                _ = try await deadline.run { try await client.query(Self.insertQuery([job], leaseSeconds: leaseSeconds), logger: logger).collect() }
            })
        saves = PostgresBatcher(
            batch: { saves in
                let query = try Self.saveQuery(saves)
                let written = try await deadline.run { try await Self.ids(client.query(query, logger: logger)) }
                return saves.map { written.contains($0.job.id) }
            },
            single: { save in
                let query = try Self.saveQuery([save])
                return try await deadline.run { try await !Self.ids(client.query(query, logger: logger)).isEmpty }
            })
        usageWriter = UsageWriter { tally in try await deadline.run { try await Self.write(tally, client: client, logger: logger) } }
        // The pool must be running before the first lease (the migrations), or PostgresNIO warns.
        let (running, started) = AsyncStream<Void>.makeStream()
        runner = Task {
            started.finish()
            await client.run()
        }
        for await _ in running {}
        do {
            try await Self.migrate(client, logger: logger)
        } catch {
            runner.cancel()
            throw error
        }
    }

    /// Stops the connection pool.
    public func shutdown() async {
        runner.cancel()
        await runner.value
    }

    deinit { runner.cancel() }

    /// Runs `body` in a transaction; an error the body threw comes out as itself (PostgresNIO wraps it).
    func transaction<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await Self.transaction(client, logger: logger, body)
    }

    /// `transaction`, for a write that keeps work moving: waited for at most `StatementDeadline.writes`.
    func boundedTransaction<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        try await StatementDeadline.writes.run { [client, logger] in try await Self.transaction(client, logger: logger, body) }
    }

    static func transaction<Result: Sendable>(
        _ client: PostgresClient, logger: Logger, _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            // A failed `COMMIT` with no error from the server may have committed; a failure before it did not.
            if let commit = error.commitError { throw StoreFailure.commitUnknown(commit) ?? commit }
            throw error.closureError ?? error.beginError ?? error
        }
    }

    // MARK: Jobs

    public func insert(_ job: Job, counters: [DailyCounterDelta]) async throws {
        let counters = counters.filter { $0.messages != 0 || $0.tokens != 0 }
        guard !counters.isEmpty else {
            try await inserts.write(job, key: job.id)
            return
        }
        try await boundedTransaction { [leaseSeconds, logger] connection in
            _ = try await connection.query(Self.insertQuery([job], leaseSeconds: leaseSeconds), logger: logger).collect()
            try await Self.apply(counters, on: connection, logger: logger)
        }
    }

    public func save(_ job: Job, appending chunks: [StreamChunk], counters: [DailyCounterDelta]) async throws {
        let counters = counters.filter { $0.messages != 0 || $0.tokens != 0 }
        let save = Save(job: job, chunks: chunks)
        let written = try await counters.isEmpty
            ? saves.write(save, key: job.id)
            : boundedTransaction { [logger] connection in
                let written = try await !Self.ids(connection.query(Self.saveQuery([save]), logger: logger)).isEmpty
                if written { try await Self.apply(counters, on: connection, logger: logger) }
                return written
            }
        // With a fence, only the lease's current holder may write; a rescued job is never overwritten.
        guard written else { throw LeaseLost(jobID: job.id) }
    }

    /// A job's new state with the chunks that go with it.
    struct Save: Sendable {
        var job: Job
        var chunks: [StreamChunk]
    }

    /// The number a `SELECT count(*)` returned.
    static func count(_ rows: PostgresRowSequence) async throws -> Int {
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    /// The ids a query returned.
    static func ids(_ rows: PostgresRowSequence) async throws -> Set<String> {
        var ids: Set<String> = []
        for try await id in rows.decode(String.self) { ids.insert(id) }
        return ids
    }

    public func addCounters(_ counters: [DailyCounterDelta]) async throws {
        let counters = counters.filter { $0.messages != 0 || $0.tokens != 0 }
        guard !counters.isEmpty else { return }
        try await StatementDeadline.writes.run { [client, logger] in
            try await client.withConnection { connection in try await Self.apply(counters, on: connection, logger: logger) }
        }
    }

    public func addFollower(jobID: String, tenant: String, user: String) async throws {
        try await client.query(
            "INSERT INTO sluice_job_follower (job_id, tenant, user_key) VALUES (\(jobID), \(tenant), \(user)) ON CONFLICT DO NOTHING",
            logger: logger)
    }

    public func isFollower(jobID: String, tenant: String, user: String) async throws -> Bool {
        let rows = try await client.query(
            "SELECT 1 FROM sluice_job_follower WHERE job_id = \(jobID) AND tenant = \(tenant) AND user_key = \(user)", logger: logger)
        for try await _ in rows { return true }
        return false
    }

    public func dailyCounters(day: String) async throws -> [(user: String, messages: Int, tokens: Int)] {
        var counters: [(user: String, messages: Int, tokens: Int)] = []
        let rows = try await client.query("SELECT user_key, messages, tokens FROM sluice_daily_counter WHERE day = \(day)", logger: logger)
        for try await (user, messages, tokens) in rows.decode((String, Int, Int).self) { counters.append((user, messages, tokens)) }
        return counters
    }

    public func job(id: String) async throws -> Job? {
        try await StatementDeadline.reads.run { [client, logger] in
            try await Self.jobs(client.query("SELECT data, node, fence FROM sluice_job WHERE id = \(id)", logger: logger)).first
        }
    }

    public func watchedJobs(node: String?) async throws -> [JobMark] {
        try await StatementDeadline.reads.run { [client, logger] in
            let rows = try await client.query(
                """
                SELECT id, state, node, fence FROM sluice_job
                WHERE (state = 'running' AND (node IS NULL OR node = \(node))) OR (state = 'queued' AND node = \(node))
                """, logger: logger)
            var marks: [JobMark] = []
            for try await (id, state, holder, fence) in rows.decode((String, String, String?, Int).self) {
                if let state = JobState(rawValue: state) { marks.append(JobMark(id: id, state: state, node: holder, fence: fence)) }
            }
            return marks
        }
    }

    public func unfinishedJobs() async throws -> [Job] {
        var jobs: [Job] = []
        var damaged: [(key: String, data: Data, reason: String)] = []
        let rows = try await client.query("SELECT id, data, node, fence FROM sluice_job WHERE state IN ('queued', 'running')", logger: logger)
        for try await (id, data, node, fence) in rows.decode((String, Data, String?, Int).self) {
            do {
                var job = try Self.decoder.decode(Job.self, from: data)
                job.node = node
                job.fence = fence
                jobs.append(job)
            } catch {
                damaged.append((id, data, "\(error)"))
            }
        }
        try await quarantine(damaged, from: "sluice_job", keyColumn: "id")
        return jobs
    }

    /// Moves rows that cannot be read to `sluice_quarantine` (with why), so that one damaged row does not
    /// keep a node from starting.
    func quarantine(_ rows: [(key: String, data: Data, reason: String)], from table: String, keyColumn: String) async throws {
        guard !rows.isEmpty else { return }
        try await transaction { connection in
            for row in rows {
                let reason = String(row.reason.prefix(1000))
                try await connection.query(
                    "INSERT INTO sluice_quarantine (source, key, data, reason) VALUES (\(table), \(row.key), \(row.data), \(reason))", logger: logger)
                try await connection.query(PostgresQuery(unsafeSQL: "DELETE FROM \(table) WHERE \(keyColumn) = $1", binds: {
                    var binds = PostgresBindings()
                    binds.append(row.key)
                    return binds
                }()), logger: logger)
            }
        }
        logger.error("moved rows that cannot be read to the quarantine table", metadata: [
            "sluice.table": "\(table)", "sluice.keys": "\(rows.map(\.key).joined(separator: ","))",
        ])
    }

    public func deleteFinished(before date: Date) async throws -> Int {
        let cutoff = date.timeIntervalSince1970
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        let week = formatter.string(from: date.addingTimeInterval(-7 * 86400))
        return try await transaction { connection in
            try await connection.query(
                "DELETE FROM sluice_chunk WHERE job_id IN (SELECT id FROM sluice_job WHERE finished_at < \(cutoff))", logger: logger)
            try await connection.query(
                "DELETE FROM sluice_job_follower WHERE job_id IN (SELECT id FROM sluice_job WHERE finished_at < \(cutoff))", logger: logger)
            var removed = 0
            for try await _ in try await connection.query("DELETE FROM sluice_job WHERE finished_at < \(cutoff) RETURNING 1", logger: logger) {
                removed += 1
            }
            // Daily counters are kept for a week, whatever the stream retention; minute windows for two minutes.
            // Days (yyyy-mm-dd) after a week; months of spend (yyyy-mm) only once they are two months old.
            let months = String(formatter.string(from: date.addingTimeInterval(-62 * 86400)).prefix(7))
            try await connection.query(
                "DELETE FROM sluice_daily_counter WHERE (length(day) = 10 AND day < \(week)) OR (length(day) = 7 AND day < \(months))",
                logger: logger)
            let minute = Int64(Date().timeIntervalSince1970 / 60)
            try await connection.query("DELETE FROM sluice_rate_window WHERE window_start < \(minute - 2)", logger: logger)
            return removed
        }
    }

    public func deleteEnded(jobID: String) async throws -> Bool {
        try await transaction { connection in
            var removed = false
            for try await _ in try await connection.query(
                "DELETE FROM sluice_job WHERE id = \(jobID) AND finished_at IS NOT NULL RETURNING 1", logger: logger)
            {
                removed = true
            }
            guard removed else { return false }
            try await connection.query("DELETE FROM sluice_chunk WHERE job_id = \(jobID)", logger: logger)
            try await connection.query("DELETE FROM sluice_job_follower WHERE job_id = \(jobID)", logger: logger)
            return true
        }
    }

    static func apply(_ counters: [DailyCounterDelta], on connection: PostgresConnection, logger: Logger) async throws {
        for delta in counters where delta.messages != 0 || delta.tokens != 0 {
            try await connection.query(
                """
                INSERT INTO sluice_daily_counter (day, user_key, messages, tokens) VALUES (\(delta.day), \(delta.user), \(delta.messages), \(delta.tokens))
                ON CONFLICT (day, user_key) DO UPDATE
                SET messages = sluice_daily_counter.messages + EXCLUDED.messages, tokens = sluice_daily_counter.tokens + EXCLUDED.tokens
                """,
                logger: logger)
        }
    }

    // MARK: The shared queue

    /// The channel that wakes idle nodes.
    static let workChannel = "sluice_work"

    /// Reads `data, node, fence` rows into jobs.
    static func jobs(_ rows: PostgresRowSequence) async throws -> [Job] {
        var jobs: [Job] = []
        for try await (data, node, fence) in rows.decode((Data, String?, Int).self) {
            var job = try decoder.decode(Job.self, from: data)
            job.node = node
            job.fence = fence
            jobs.append(job)
        }
        return jobs
    }
}
