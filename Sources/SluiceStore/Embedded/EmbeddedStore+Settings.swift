import GRDB

extension EmbeddedStore {
    public func setting(_ name: String) async throws -> String? {
        try await pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM setting WHERE name = ?", arguments: [name]) }
    }

    public func setSetting(_ name: String, to value: String) async throws {
        try await committer.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO setting (name, value) VALUES (?, ?)", arguments: [name, value])
        }
    }
}
