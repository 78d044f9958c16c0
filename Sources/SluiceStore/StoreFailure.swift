import Foundation
import GRDB
import PostgresNIO

/// What a failed store write means for a caller.
public enum StoreFailure {
    /// Whether an error came from the store (SQLite or PostgreSQL) rather than from the request.
    public static func isStoreError(_ error: any Error) -> Bool {
        error is DatabaseError || error is PSQLError || error is PostgresDecodingError || isDiskFull(error)
    }

    /// Whether a write that failed may still have committed: PostgreSQL's connection failed with no
    /// error from the server, so the statement may have run and committed before its reply was lost.
    /// An error the server reported, and any SQLite failure, means the write was rolled back.
    public static func mayHaveCommitted(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError else { return false }
        return error.serverInfo == nil
    }

    /// Whether the store failed because its disk is full (SQLite's `SQLITE_FULL`, PostgreSQL's
    /// `disk_full`, or the system's "no space left on device").
    public static func isDiskFull(_ error: any Error) -> Bool {
        if let error = error as? DatabaseError {
            return error.resultCode == .SQLITE_FULL || (error.message ?? "").lowercased().contains("disk is full")
        }
        if let error = error as? PSQLError, let code = error.serverInfo?[.sqlState] {
            return code == "53100"
        }
        let text = String(describing: error).lowercased()
        return text.contains("no space left on device") || text.contains("disk is full")
    }
}
