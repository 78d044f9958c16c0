public import Foundation
public import Logging
import NIOCore
import PostgresNIO
public import SluiceCore

/// The PostgreSQL store, shared by many nodes: the same protocols as the embedded store, through
/// PostgresNIO's pooled client. Every write is one transaction, committed before it returns; counter
/// changes are additive upserts, so concurrent nodes never lose each other's increments.
public final class PostgresStore: JobStore, StreamLog, CacheStore, SharedJobQueue, SharedCacheFeed, SharedCounters {
    /// Where the database is and how to reach it.
    public struct Configuration: Sendable {
        /// `postgres://user:password@host:port/database[?sslmode=disable|prefer|require]`.
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
    static let encoder = JSONEncoder()
    static let decoder = JSONDecoder()

    /// Connects (the pool runs until `shutdown`) and migrates the schema.
    /// - Parameters:
    ///   - configuration: the database.
    ///   - logger: for the pool's background events.
    public init(configuration: Configuration, logger: Logger) async throws {
        var settings = try Self.clientConfiguration(url: configuration.url)
        settings.options.maximumConnections = configuration.maxConnections
        let client = PostgresClient(configuration: settings, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        leaseSeconds = configuration.leaseSeconds
        runner = Task { await client.run() }
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

    /// The client settings for a URL.
    static func clientConfiguration(url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty
        else {
            throw BadURL(description: "the database URL must look like postgres://user:password@host:5432/database")
        }
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        let tls: PostgresClient.Configuration.TLS = switch mode {
        case "require", "verify-full", "verify-ca": .require(.makeClientConfiguration())
        case "prefer": .prefer(.makeClientConfiguration())
        default: .disable
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        return PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres", password: components.password,
            database: database.isEmpty ? nil : database, tls: tls)
    }

    /// Runs `body` in a transaction; an error the body threw comes out as itself (PostgresNIO wraps it).
    func transaction<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error
        }
    }

    // MARK: Migrations

    /// The schema, one version at a time. Never edit a shipped version: add one.
    public static let migrations: [(version: Int, name: String, sql: [String])] = [
        (1, "jobs, streams, counters, followers, cache", [
            """
            CREATE TABLE sluice_job (
                id text PRIMARY KEY,
                state text NOT NULL,
                finished_at double precision,
                priority int NOT NULL,
                created_at double precision NOT NULL,
                not_before double precision,
                node text,
                fence bigint NOT NULL DEFAULT 0,
                lease_until timestamptz,
                data bytea NOT NULL
            )
            """,
            "CREATE INDEX sluice_job_unfinished ON sluice_job (state) WHERE state IN ('queued', 'running')",
            "CREATE INDEX sluice_job_claimable ON sluice_job (priority, created_at) WHERE state = 'queued' AND node IS NULL",
            "CREATE INDEX sluice_job_leased ON sluice_job (lease_until) WHERE node IS NOT NULL AND state IN ('queued', 'running')",
            "CREATE TABLE sluice_node (id text PRIMARY KEY, address text NOT NULL, heartbeat_at timestamptz NOT NULL)",
            """
            CREATE TABLE sluice_rate_window (
                user_key text NOT NULL,
                window_start bigint NOT NULL,
                count int NOT NULL,
                PRIMARY KEY (user_key, window_start)
            )
            """,
            "CREATE INDEX sluice_job_finished ON sluice_job (finished_at) WHERE finished_at IS NOT NULL",
            """
            CREATE TABLE sluice_chunk (
                job_id text NOT NULL,
                seq bigint NOT NULL,
                data bytea NOT NULL,
                PRIMARY KEY (job_id, seq)
            )
            """,
            """
            CREATE TABLE sluice_daily_counter (
                day text NOT NULL,
                user_key text NOT NULL,
                messages bigint NOT NULL,
                tokens bigint NOT NULL,
                PRIMARY KEY (day, user_key)
            )
            """,
            """
            CREATE TABLE sluice_job_follower (
                job_id text NOT NULL,
                tenant text NOT NULL,
                user_key text NOT NULL,
                PRIMARY KEY (job_id, tenant, user_key)
            )
            """,
            """
            CREATE TABLE sluice_cache_entry (
                key text PRIMARY KEY,
                expires_at double precision NOT NULL,
                written bigserial,
                data bytea NOT NULL
            )
            """,
            "CREATE INDEX sluice_cache_entry_expiry ON sluice_cache_entry (expires_at)",
            "CREATE INDEX sluice_cache_entry_written ON sluice_cache_entry (written)",
        ]),
        (2, "cluster settings, cache invalidations", [
            "CREATE TABLE sluice_setting (name text PRIMARY KEY, value text NOT NULL)",
            "CREATE TABLE sluice_cache_invalidation (seq bigserial PRIMARY KEY, key text NOT NULL, at timestamptz NOT NULL DEFAULT now())",
        ]),
    ]

    /// Applies the migrations not yet applied, each in its own transaction, under an advisory lock so
    /// that nodes starting at once apply each exactly once. Returns the versions it applied.
    @discardableResult
    static func migrate(_ client: PostgresClient, logger: Logger) async throws -> [Int] {
        try await client.withTransaction(logger: logger) { connection in
            // One lock for every Sluice in this database; released when the transaction ends.
            try await connection.query("SELECT pg_advisory_xact_lock(7311560452)", logger: logger)
            // Only when missing: a node may run as a role that can use the schema but not create in it.
            var exists = false
            for try await found in try await connection.query("SELECT to_regclass('sluice_migration') IS NOT NULL", logger: logger).decode(Bool.self) {
                exists = found
            }
            if !exists {
                try await connection.query(
                    "CREATE TABLE sluice_migration (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                    logger: logger)
            }
            var applied: Set<Int> = []
            for try await version in try await connection.query("SELECT version FROM sluice_migration", logger: logger).decode(Int.self) {
                applied.insert(version)
            }
            var done: [Int] = []
            for migration in migrations where !applied.contains(migration.version) {
                for statement in migration.sql { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                try await connection.query(
                    "INSERT INTO sluice_migration (version, name) VALUES (\(migration.version), \(migration.name))", logger: logger)
                done.append(migration.version)
            }
            return done
        }
    }

    /// Applies any migration not yet applied; returns the versions it applied.
    @discardableResult
    public func migrate() async throws -> [Int] { try await Self.migrate(client, logger: logger) }

    /// The schema versions applied to the database, in order.
    public func appliedMigrations() async throws -> [Int] {
        var versions: [Int] = []
        for try await version in try await client.query("SELECT version FROM sluice_migration ORDER BY version", logger: logger).decode(Int.self) {
            versions.append(version)
        }
        return versions
    }

    // MARK: Jobs

    public func insert(_ job: Job, counters: [DailyCounterDelta]) async throws {
        let data = try Self.encoder.encode(job)
        try await transaction { connection in
            let lease = job.node == nil ? nil : leaseSeconds
            try await connection.query(
                """
                INSERT INTO sluice_job (id, state, finished_at, priority, created_at, not_before, node, fence, lease_until, data)
                VALUES (\(job.id), \(job.state.rawValue), \(job.finishedAt?.timeIntervalSince1970), \(job.priority.rawValue),
                        \(job.createdAt.timeIntervalSince1970), \(job.notBefore?.timeIntervalSince1970), \(job.node), \(job.fence ?? 0),
                        now() + make_interval(secs => \(lease)), \(data))
                """,
                logger: logger)
            try await Self.apply(counters, on: connection, logger: logger)
        }
    }

    public func save(_ job: Job, appending chunks: [StreamChunk], counters: [DailyCounterDelta]) async throws {
        let data = try Self.encoder.encode(job)
        let rows = try Self.encode(chunks)
        try await transaction { connection in
            // With a fence, only the lease's current holder may write; a rescued job is never overwritten.
            let updates = try await connection.query(
                """
                UPDATE sluice_job SET state = \(job.state.rawValue), finished_at = \(job.finishedAt?.timeIntervalSince1970),
                    not_before = \(job.notBefore?.timeIntervalSince1970), data = \(data)
                WHERE id = \(job.id) AND (\(job.fence)::bigint IS NULL OR fence = \(job.fence)) RETURNING 1
                """,
                logger: logger)
            var updated = false
            for try await _ in updates { updated = true }
            guard updated else { throw LeaseLost(jobID: job.id) }
            try await Self.insert(rows, jobID: job.id, on: connection, logger: logger)
            try await Self.apply(counters, on: connection, logger: logger)
        }
    }

    public func addCounters(_ counters: [DailyCounterDelta]) async throws {
        let counters = counters.filter { $0.messages != 0 || $0.tokens != 0 }
        guard !counters.isEmpty else { return }
        try await client.withConnection { connection in try await Self.apply(counters, on: connection, logger: logger) }
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
        try await Self.jobs(client.query("SELECT data, node, fence FROM sluice_job WHERE id = \(id)", logger: logger)).first
    }

    public func unfinishedJobs() async throws -> [Job] {
        try await Self.jobs(client.query("SELECT data, node, fence FROM sluice_job WHERE state IN ('queued', 'running')", logger: logger))
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
            try await connection.query("DELETE FROM sluice_daily_counter WHERE day < \(week)", logger: logger)
            let minute = Int64(Date().timeIntervalSince1970 / 60)
            try await connection.query("DELETE FROM sluice_rate_window WHERE window_start < \(minute - 2)", logger: logger)
            return removed
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

    // MARK: Streams

    public func append(_ chunks: [StreamChunk], to jobID: String, fence: Int?) async throws {
        guard !chunks.isEmpty else { return }
        let rows = try Self.encode(chunks)
        guard let fence else {
            try await client.withConnection { connection in try await Self.insert(rows, jobID: jobID, on: connection, logger: logger) }
            return
        }
        try await transaction { connection in
            // The shared row lock holds off a rescue until these chunks are in, so the next holder sees them.
            var held = false
            for try await _ in try await connection.query(
                "SELECT 1 FROM sluice_job WHERE id = \(jobID) AND fence = \(fence) FOR SHARE", logger: logger)
            {
                held = true
            }
            guard held else { throw LeaseLost(jobID: jobID) }
            try await Self.insert(rows, jobID: jobID, on: connection, logger: logger)
        }
    }

    public func chunks(of jobID: String, after seq: Int) async throws -> [StreamChunk] {
        var chunks: [StreamChunk] = []
        let rows = try await client.query(
            "SELECT seq, data FROM sluice_chunk WHERE job_id = \(jobID) AND seq > \(seq) ORDER BY seq", logger: logger)
        for try await (seq, data) in rows.decode((Int, Data).self) {
            chunks.append(StreamChunk(seq: seq, event: try Self.decoder.decode(StreamEvent.self, from: data)))
        }
        return chunks
    }

    static func encode(_ chunks: [StreamChunk]) throws -> [(Int, Data)] {
        try chunks.map { ($0.seq, try encoder.encode($0.event)) }
    }

    /// One statement for a batch of chunks, whatever its size.
    static func insert(_ rows: [(Int, Data)], jobID: String, on connection: PostgresConnection, logger: Logger) async throws {
        guard !rows.isEmpty else { return }
        let seqs = rows.map(\.0)
        let data = rows.map { ByteBuffer(bytes: $0.1) }
        try await connection.query(
            """
            INSERT INTO sluice_chunk (job_id, seq, data) SELECT \(jobID), s, d FROM unnest(\(seqs)::bigint[], \(data)::bytea[]) AS t (s, d)
            ON CONFLICT (job_id, seq) DO UPDATE SET data = EXCLUDED.data
            """,
            logger: logger)
    }

    // MARK: Cache

    public func putCache(_ entries: [CacheEntry]) async throws {
        guard !entries.isEmpty else { return }
        let rows = try entries.map { ($0.key, $0.expiresAt.timeIntervalSince1970, try Self.encoder.encode($0)) }
        try await transaction { connection in
            for (key, expires, data) in rows {
                try await connection.query(
                    """
                    INSERT INTO sluice_cache_entry (key, expires_at, data) VALUES (\(key), \(expires), \(data))
                    ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at, data = EXCLUDED.data, written = nextval('sluice_cache_entry_written_seq')
                    """,
                    logger: logger)
            }
        }
    }

    public func deleteCache(keys: [String]) async throws {
        guard !keys.isEmpty else { return }
        try await client.query("DELETE FROM sluice_cache_entry WHERE key = ANY(\(keys))", logger: logger)
    }

    public func invalidateCache(keys: [String]) async throws {
        guard !keys.isEmpty else { return }
        try await transaction { connection in
            try await connection.query("DELETE FROM sluice_cache_entry WHERE key = ANY(\(keys))", logger: logger)
            try await connection.query("INSERT INTO sluice_cache_invalidation (key) SELECT unnest(\(keys)::text[])", logger: logger)
            // Nodes read them within a second; an hour is plenty.
            try await connection.query("DELETE FROM sluice_cache_invalidation WHERE at < now() - interval '1 hour'", logger: logger)
        }
    }

    public func cacheInvalidations(after cursor: Int64?) async throws -> (keys: [String], cursor: Int64) {
        guard let cursor else {
            let rows = try await client.query("SELECT coalesce(max(seq), 0) FROM sluice_cache_invalidation", logger: logger)
            for try await last in rows.decode(Int64.self) { return ([], last) }
            return ([], 0)
        }
        var keys: [String] = []
        var last = cursor
        let rows = try await client.query(
            "SELECT key, seq FROM sluice_cache_invalidation WHERE seq > \(cursor) ORDER BY seq LIMIT 10000", logger: logger)
        for try await (key, seq) in rows.decode((String, Int64).self) {
            keys.append(key)
            last = seq
        }
        return (keys, last)
    }

    public func cacheEntries(writtenAfter cursor: Int64, now: Date) async throws -> (entries: [CacheEntry], cursor: Int64) {
        var entries: [CacheEntry] = []
        var last = cursor
        let rows = try await client.query(
            "SELECT data, written FROM sluice_cache_entry WHERE written > \(cursor) AND expires_at > \(now.timeIntervalSince1970) ORDER BY written LIMIT 10000",
            logger: logger)
        for try await (data, written) in rows.decode((Data, Int64).self) {
            entries.append(try Self.decoder.decode(CacheEntry.self, from: data))
            last = written
        }
        return (entries, last)
    }

    public func cacheEntries(now: Date) async throws -> [CacheEntry] {
        try await client.query("DELETE FROM sluice_cache_entry WHERE expires_at <= \(now.timeIntervalSince1970)", logger: logger)
        var entries: [CacheEntry] = []
        let rows = try await client.query("SELECT data FROM sluice_cache_entry ORDER BY written", logger: logger)
        for try await data in rows.decode(Data.self) { entries.append(try Self.decoder.decode(CacheEntry.self, from: data)) }
        return entries
    }
}

extension PostgresStore {
    public func claim(node: String, limit: Int, leaseSeconds: Double, now: Date) async throws -> [Job] {
        guard limit > 0 else { return [] }
        let rows = try await client.query(
            """
            WITH picked AS (
                SELECT id FROM sluice_job
                WHERE state = 'queued' AND node IS NULL AND (not_before IS NULL OR not_before <= \(now.timeIntervalSince1970))
                ORDER BY priority, created_at
                LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            )
            UPDATE sluice_job AS j SET node = \(node), fence = j.fence + 1, lease_until = now() + make_interval(secs => \(leaseSeconds))
            FROM picked WHERE j.id = picked.id
            RETURNING j.data, j.node, j.fence
            """,
            logger: logger)
        return try await Self.jobs(rows)
    }

    public func renewLeases(node: String, address: String, leaseSeconds: Double) async throws -> Int {
        try await transaction { connection in
            try await connection.query(
                """
                INSERT INTO sluice_node (id, address, heartbeat_at) VALUES (\(node), \(address), now())
                ON CONFLICT (id) DO UPDATE SET address = EXCLUDED.address, heartbeat_at = now()
                """,
                logger: logger)
            var renewed = 0
            let rows = try await connection.query(
                """
                UPDATE sluice_job SET lease_until = now() + make_interval(secs => \(leaseSeconds))
                WHERE node = \(node) AND state IN ('queued', 'running') RETURNING 1
                """,
                logger: logger)
            for try await _ in rows { renewed += 1 }
            return renewed
        }
    }

    public func rescueExpired() async throws -> [String] {
        // The state condition and the row lock make a rescue and a completion exclusive: a job that
        // ended is never put back, and the new fence refuses the old holder's later writes.
        var ids: [String] = []
        let rows = try await client.query(
            """
            UPDATE sluice_job SET state = 'queued', node = NULL, fence = fence + 1, lease_until = NULL
            WHERE node IS NOT NULL AND state IN ('queued', 'running') AND lease_until < now()
            RETURNING id
            """,
            logger: logger)
        for try await id in rows.decode(String.self) { ids.append(id) }
        if !ids.isEmpty { try await notifyQueued() }
        return ids
    }

    public func release(_ jobs: [Job]) async throws {
        for job in jobs {
            try await client.query(
                """
                UPDATE sluice_job SET node = NULL, fence = fence + 1, lease_until = NULL
                WHERE id = \(job.id) AND fence = \(job.fence ?? 0) AND state = 'queued'
                """,
                logger: logger)
        }
        if !jobs.isEmpty { try await notifyQueued() }
    }

    public func address(of node: String) async throws -> String? {
        let rows = try await client.query("SELECT address FROM sluice_node WHERE id = \(node)", logger: logger)
        for try await address in rows.decode(String.self) { return address }
        return nil
    }

    public func holder(of jobID: String) async throws -> (node: String, address: String)? {
        let rows = try await client.query(
            """
            SELECT n.id, n.address FROM sluice_job j JOIN sluice_node n ON n.id = j.node
            WHERE j.id = \(jobID) AND j.state IN ('queued', 'running')
            """,
            logger: logger)
        for try await (node, address) in rows.decode((String, String).self) { return (node, address) }
        return nil
    }

    public func claim(jobID: String, node: String, leaseSeconds: Double) async throws -> Job? {
        let rows = try await client.query(
            """
            UPDATE sluice_job SET node = \(node), fence = fence + 1, lease_until = now() + make_interval(secs => \(leaseSeconds))
            WHERE id = \(jobID) AND state = 'queued' AND node IS NULL
            RETURNING data, node, fence
            """,
            logger: logger)
        return try await Self.jobs(rows).first
    }

    public func clusterSecret() async throws -> String {
        var random = SystemRandomNumberGenerator()
        let candidate = (0..<4).map { _ in String(random.next() as UInt64, radix: 16) }.joined(separator: "-")
        try await client.query(
            "INSERT INTO sluice_setting (name, value) VALUES ('cluster_secret', \(candidate)) ON CONFLICT (name) DO NOTHING", logger: logger)
        let rows = try await client.query("SELECT value FROM sluice_setting WHERE name = 'cluster_secret'", logger: logger)
        for try await secret in rows.decode(String.self) { return secret }
        throw BadURL(description: "the cluster secret could not be read")
    }

    public func notifyQueued() async throws {
        try await client.query("SELECT pg_notify(\(Self.workChannel), '')", logger: logger)
    }

    public func listenForWork(onListening: @escaping @Sendable () -> Void, wake: @escaping @Sendable () -> Void) async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: Self.workChannel) { notifications in
                        onListening()
                        // Work may have arrived while no one listened.
                        wake()
                        for try await _ in notifications { wake() }
                    }
                }
            } catch {
                if !Task.isCancelled { logger.warning("the work notifications stopped; listening again", metadata: ["error": "\(String(reflecting: type(of: error)))"]) }
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }
}

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
