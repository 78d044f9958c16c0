import GRDB

/// The embedded store's schema, one migration per change, applied in order at open.
extension EmbeddedStore {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE job (
                    id TEXT PRIMARY KEY NOT NULL,
                    state TEXT NOT NULL,
                    finished_at REAL,
                    data BLOB NOT NULL
                );
                CREATE INDEX job_state ON job(state);
                CREATE INDEX job_finished ON job(finished_at);
                CREATE TABLE chunk (
                    job_id TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    data BLOB NOT NULL,
                    PRIMARY KEY (job_id, seq)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v2-daily-counters") { db in
            try db.execute(sql: """
                CREATE TABLE daily_counter (
                    user TEXT NOT NULL,
                    day TEXT NOT NULL,
                    messages INTEGER NOT NULL,
                    tokens INTEGER NOT NULL,
                    PRIMARY KEY (day, user)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v3-followers") { db in
            try db.execute(sql: """
                CREATE TABLE job_follower (
                    job_id TEXT NOT NULL,
                    tenant TEXT NOT NULL,
                    user TEXT NOT NULL,
                    PRIMARY KEY (job_id, tenant, user)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v4-cache") { db in
            try db.execute(sql: """
                CREATE TABLE cache_entry (
                    key TEXT PRIMARY KEY NOT NULL,
                    expires_at REAL NOT NULL,
                    data BLOB NOT NULL
                );
                CREATE INDEX cache_entry_expiry ON cache_entry(expires_at);
                """)
        }
        migrator.registerMigration("v5-quarantine") { db in
            try db.execute(sql: """
                CREATE TABLE quarantine (
                    source TEXT NOT NULL,
                    key TEXT NOT NULL,
                    data BLOB NOT NULL,
                    reason TEXT NOT NULL,
                    at REAL NOT NULL
                );
                """)
        }
        migrator.registerMigration("v6-audit") { db in
            try db.execute(sql: """
                CREATE TABLE audit (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    at REAL NOT NULL,
                    action TEXT NOT NULL,
                    caller TEXT NOT NULL,
                    tenant TEXT,
                    origin TEXT,
                    detail TEXT NOT NULL
                );
                CREATE INDEX audit_at ON audit(at);
                """)
        }
        migrator.registerMigration("v7-settings") { db in
            try db.execute(sql: "CREATE TABLE setting (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        }
        migrator.registerMigration("v8-history") { db in
            // Who owns each job and when it was made, as columns a history is listed by (the reference
            // date's offset: a job's JSON holds its dates as seconds since 2001).
            try db.execute(sql: """
                ALTER TABLE job ADD COLUMN user_key TEXT NOT NULL DEFAULT '';
                ALTER TABLE job ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
                ALTER TABLE job ADD COLUMN plan TEXT NOT NULL DEFAULT '';
                ALTER TABLE job ADD COLUMN created_at REAL NOT NULL DEFAULT 0;
                UPDATE job SET
                    tenant = coalesce(json_extract(CAST(data AS TEXT), '$.owner.tenant'), ''),
                    user_key = coalesce(json_extract(CAST(data AS TEXT), '$.owner.tenant'), '') || char(31) || coalesce(json_extract(CAST(data AS TEXT), '$.owner.user'), ''),
                    plan = coalesce(json_extract(CAST(data AS TEXT), '$.owner.plan'), ''),
                    created_at = coalesce(json_extract(CAST(data AS TEXT), '$.createdAt'), 0) + 978307200
                WHERE json_valid(CAST(data AS TEXT));
                CREATE INDEX job_user_history ON job(user_key, created_at, id);
                CREATE INDEX job_tenant_history ON job(tenant, created_at, id);
                """)
        }
        migrator.registerMigration("v9-usage") { db in
            try db.execute(sql: """
                CREATE TABLE usage_rollup (
                    day TEXT NOT NULL, tenant TEXT NOT NULL, user TEXT NOT NULL, model TEXT NOT NULL, deployment TEXT NOT NULL,
                    requests INTEGER NOT NULL, failures INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
                    cost_micros INTEGER NOT NULL, cache_hits INTEGER NOT NULL, saved_tokens INTEGER NOT NULL,
                    PRIMARY KEY (tenant, day, user, model, deployment)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v10-deliveries") { db in
            try db.execute(sql: """
                CREATE TABLE delivery (
                    id TEXT PRIMARY KEY NOT NULL, job_id TEXT NOT NULL, tenant TEXT NOT NULL, url TEXT NOT NULL, state TEXT NOT NULL,
                    attempts INTEGER NOT NULL, next_at REAL NOT NULL, created_at REAL NOT NULL, last_status INTEGER, last_error TEXT,
                    delivered_at REAL
                );
                CREATE INDEX delivery_due ON delivery(next_at) WHERE state IN ('waiting', 'pending');
                CREATE INDEX delivery_job ON delivery(job_id) WHERE state = 'waiting';
                CREATE INDEX delivery_listed ON delivery(state, created_at);
                """)
        }
        migrator.registerMigration("v11-batches") { db in
            try db.execute(sql: """
                CREATE TABLE batch_file (
                    id TEXT PRIMARY KEY NOT NULL, user_key TEXT NOT NULL, purpose TEXT NOT NULL, created_at REAL NOT NULL,
                    expires_at REAL NOT NULL, meta BLOB NOT NULL, content BLOB NOT NULL
                );
                CREATE INDEX batch_file_owner ON batch_file(user_key, created_at);
                CREATE INDEX batch_file_expiry ON batch_file(expires_at);
                CREATE TABLE batch (
                    id TEXT PRIMARY KEY NOT NULL, user_key TEXT NOT NULL, created_at REAL NOT NULL, active INTEGER NOT NULL,
                    node TEXT, lease_until REAL, cancel_at REAL, data BLOB NOT NULL
                );
                CREATE INDEX batch_owner ON batch(user_key, created_at);
                CREATE INDEX batch_active ON batch(created_at) WHERE active = 1;
                CREATE TABLE batch_result (
                    batch_id TEXT NOT NULL, line INTEGER NOT NULL, ok INTEGER NOT NULL, data BLOB NOT NULL,
                    PRIMARY KEY (batch_id, line)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v12-schedule-runs") { db in
            try db.execute(sql: """
                CREATE TABLE schedule_run (
                    schedule TEXT NOT NULL, fire_at REAL NOT NULL, node TEXT NOT NULL, started_at REAL NOT NULL, finished_at REAL,
                    outcome TEXT NOT NULL, detail TEXT NOT NULL, PRIMARY KEY (schedule, fire_at)
                ) WITHOUT ROWID;
                """)
        }
        return migrator
    }
}
