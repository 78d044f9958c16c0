public import Foundation
public import Logging
import SluiceCore
import SluiceStore

/// `sluice export`: a tenant's history as JSON Lines, one job a line, newest first, for archival.
public enum HistoryExport {
    /// Writes every job of `tenant` created at or after `since` with `write`, a page at a time; returns how many.
    public static func run(configuration: SluiceConfiguration, tenant: String, since: Date?, logger: Logger, write: (String) -> Void) async throws -> Int {
        if let url = configuration.databaseURL {
            let store = try await PostgresStore(configuration: .init(url: url, maxConnections: 2), logger: logger)
            do {
                let count = try await export(from: store, tenant: tenant, since: since, write: write)
                await store.shutdown()
                return count
            } catch {
                await store.shutdown()
                throw error
            }
        }
        return try await export(from: EmbeddedStore(configuration: configuration.storage), tenant: tenant, since: since, write: write)
    }

    static func export(from store: any JobHistory, tenant: String, since: Date?, write: (String) -> Void) async throws -> Int {
        var cursor: String?
        var count = 0
        repeat {
            let page = try await store.history(.tenant(tenant), before: cursor, since: since, limit: 500)
            for job in page {
                write(String(decoding: ServerSentEvents.json(JobRoutes.historyObject(job)), as: UTF8.self))
            }
            count += page.count
            cursor = page.count == 500 ? page.last?.id : nil
        } while cursor != nil
        return count
    }

    /// A date on the command line: `yyyy-mm-dd` (UTC) or seconds since 1970.
    public static func date(_ raw: String) throws -> Date { try HistoryRoutes.date(raw, field: "since") }
}
