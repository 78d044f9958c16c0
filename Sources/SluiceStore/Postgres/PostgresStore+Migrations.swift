import Foundation
import Logging
import NIOCore
import PostgresNIO
import SluiceCore

/// The schema and how it is brought up to date.
extension PostgresStore {
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
        (2, "cluster settings, cache invalidations, open streams", [
            "CREATE TABLE sluice_setting (name text PRIMARY KEY, value text NOT NULL)",
            "CREATE TABLE sluice_cache_invalidation (seq bigserial PRIMARY KEY, key text NOT NULL, at timestamptz NOT NULL DEFAULT now())",
            "CREATE TABLE sluice_open_stream (node text NOT NULL, user_key text NOT NULL, count int NOT NULL, PRIMARY KEY (user_key, node))",
        ]),
        (3, "quarantine for rows that cannot be read", [
            "CREATE TABLE sluice_quarantine (source text NOT NULL, key text NOT NULL, data bytea NOT NULL, reason text NOT NULL, at timestamptz NOT NULL DEFAULT now())",
        ]),
        (4, "when each node's current run of heartbeats began", [
            "ALTER TABLE sluice_node ADD COLUMN heartbeat_since timestamptz NOT NULL DEFAULT now()",
        ]),
        (5, "provider accounts kept aside, shared by every node", [
            "CREATE TABLE sluice_cooldown (deployment text PRIMARY KEY, until_at double precision NOT NULL)",
        ]),
        (6, "the audit trail", [
            """
            CREATE TABLE sluice_audit (
                seq bigserial PRIMARY KEY, at double precision NOT NULL, action text NOT NULL, caller text NOT NULL,
                tenant text, origin text, detail text NOT NULL
            )
            """,
            "CREATE INDEX sluice_audit_at ON sluice_audit (at)",
        ]),
        (7, "history: who owns each job, listed by owner and time", [
            "ALTER TABLE sluice_job ADD COLUMN user_key text NOT NULL DEFAULT ''",
            "ALTER TABLE sluice_job ADD COLUMN tenant text NOT NULL DEFAULT ''",
            "ALTER TABLE sluice_job ADD COLUMN plan text NOT NULL DEFAULT ''",
            """
            UPDATE sluice_job SET
                tenant = coalesce(convert_from(data, 'UTF8')::json #>> '{owner,tenant}', ''),
                user_key = coalesce(convert_from(data, 'UTF8')::json #>> '{owner,tenant}', '') || chr(31)
                    || coalesce(convert_from(data, 'UTF8')::json #>> '{owner,user}', ''),
                plan = coalesce(convert_from(data, 'UTF8')::json #>> '{owner,plan}', '')
            """,
            "CREATE INDEX sluice_job_user_history ON sluice_job (user_key, created_at, id)",
            "CREATE INDEX sluice_job_tenant_history ON sluice_job (tenant, created_at, id)",
        ]),
        (8, "usage per day, tenant, user, model and deployment", [
            """
            CREATE TABLE sluice_usage (
                day text NOT NULL, tenant text NOT NULL, user_name text NOT NULL, model text NOT NULL, deployment text NOT NULL,
                requests bigint NOT NULL, failures bigint NOT NULL, prompt_tokens bigint NOT NULL, completion_tokens bigint NOT NULL,
                cost_micros bigint NOT NULL, cache_hits bigint NOT NULL, saved_tokens bigint NOT NULL,
                PRIMARY KEY (tenant, day, user_name, model, deployment)
            )
            """,
        ]),
        (9, "callbacks to deliver", [
            """
            CREATE TABLE sluice_delivery (
                id text PRIMARY KEY, job_id text NOT NULL, tenant text NOT NULL, url text NOT NULL, state text NOT NULL,
                attempts int NOT NULL, next_at double precision NOT NULL, created_at double precision NOT NULL, last_status int,
                last_error text, delivered_at double precision
            )
            """,
            "CREATE INDEX sluice_delivery_due ON sluice_delivery (next_at) WHERE state IN ('waiting', 'pending')",
            "CREATE INDEX sluice_delivery_job ON sluice_delivery (job_id) WHERE state = 'waiting'",
            "CREATE INDEX sluice_delivery_listed ON sluice_delivery (state, created_at)",
        ]),
        (10, "the Batch API: files, batches under a lease, line results", [
            """
            CREATE TABLE sluice_batch_file (
                id text PRIMARY KEY, user_key text NOT NULL, purpose text NOT NULL, created_at double precision NOT NULL,
                expires_at double precision NOT NULL, meta bytea NOT NULL, content bytea NOT NULL
            )
            """,
            "CREATE INDEX sluice_batch_file_owner ON sluice_batch_file (user_key, created_at)",
            "CREATE INDEX sluice_batch_file_expiry ON sluice_batch_file (expires_at)",
            """
            CREATE TABLE sluice_batch (
                id text PRIMARY KEY, user_key text NOT NULL, created_at double precision NOT NULL, active boolean NOT NULL,
                node text, lease_until timestamptz, cancel_at double precision, data bytea NOT NULL
            )
            """,
            "CREATE INDEX sluice_batch_owner ON sluice_batch (user_key, created_at)",
            "CREATE INDEX sluice_batch_active ON sluice_batch (created_at) WHERE active",
            """
            CREATE TABLE sluice_batch_result (
                batch_id text NOT NULL, line int NOT NULL, ok boolean NOT NULL, data bytea NOT NULL, PRIMARY KEY (batch_id, line)
            )
            """,
        ]),
        (11, "the runs of schedules, once per cluster", [
            """
            CREATE TABLE sluice_schedule_run (
                schedule text NOT NULL, fire_at double precision NOT NULL, node text NOT NULL, started_at double precision NOT NULL,
                finished_at double precision, outcome text NOT NULL, detail text NOT NULL, PRIMARY KEY (schedule, fire_at)
            )
            """,
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
}
