public import Foundation
import Logging
import NIOCore
import PostgresNIO
import SluiceCore

/// Cached answers, shared by the nodes: entries, the feed of new ones, and invalidations.
extension PostgresStore {
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

    public func invalidateCache(tenant: String, namespace: String?, tag: String?, key: String?) async throws -> [String] {
        try await transaction { connection in
            // Entries are stored as JSON: the tenant, namespace and tags are read from it.
            let rows = try await connection.query("""
                WITH gone AS (
                    DELETE FROM sluice_cache_entry
                    WHERE convert_from(data, 'UTF8')::jsonb ->> 'tenant' = \(tenant)
                      AND (\(namespace)::text IS NULL OR convert_from(data, 'UTF8')::jsonb ->> 'namespace' = \(namespace))
                      AND (\(tag)::text IS NULL OR (convert_from(data, 'UTF8')::jsonb -> 'tags') ? \(tag))
                      AND (\(key)::text IS NULL OR key = \(key))
                    RETURNING key
                )
                INSERT INTO sluice_cache_invalidation (key) SELECT key FROM gone RETURNING key
                """, logger: logger)
            var keys: [String] = []
            for try await removed in rows.decode(String.self) { keys.append(removed) }
            return keys
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
        var damaged: [(key: String, data: Data, reason: String)] = []
        let rows = try await client.query("SELECT key, data FROM sluice_cache_entry ORDER BY written", logger: logger)
        for try await (key, data) in rows.decode((String, Data).self) {
            do {
                entries.append(try Self.decoder.decode(CacheEntry.self, from: data))
            } catch {
                damaged.append((key, data, "\(error)"))
            }
        }
        try await quarantine(damaged, from: "sluice_cache_entry", keyColumn: "key")
        return entries
    }
}
