import Foundation
import GRDB
import PostgresNIO
import _ConnectionPoolModule

/// What a failed store write means for a caller.
public enum StoreFailure {
    /// Whether an error came from the store (SQLite or PostgreSQL) rather than from the request. PostgreSQL's
    /// pool reports its own failures as `ConnectionPoolError`: no connection could be made for a while (its
    /// circuit breaker), or the pool is shut down; a wait for a connection that was cancelled (its request
    /// went away) says nothing about the store.
    public static func isStoreError(_ error: any Error) -> Bool {
        error is DatabaseError || error is PSQLError || error is PostgresDecodingError || error is CommitUnknown || error is StatementUnanswered
            || isPoolFailure(error)
            || isDiskFull(error)
    }

    private static func isPoolFailure(_ error: any Error) -> Bool {
        guard let failure = error as? ConnectionPoolError else { return false }
        return failure != .requestCancelled
    }

    /// Whether a write that failed may still have committed (`CommitUnknown`): the store could not say.
    /// Any other failure means the write was rolled back.
    public static func mayHaveCommitted(_ error: any Error) -> Bool {
        error is CommitUnknown
    }

    /// The error a commit that may have happened is reported as: PostgreSQL's connection failed, with no
    /// error from the server, after the statement that commits (an autocommitted one, or `COMMIT`) was
    /// sent — it may have committed before its reply was lost; or no reply came in time
    /// (`StatementDeadline`). Nil when `error` says the write did not.
    static func commitUnknown(_ error: any Error) -> CommitUnknown? {
        if let unknown = error as? CommitUnknown { return unknown }
        guard let failure = error as? PSQLError, failure.serverInfo == nil else { return nil }
        return CommitUnknown(underlying: failure)
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

/// A write that may or may not have committed: the connection to the store failed after the write was
/// sent and before its reply came. Whoever made the write reads the store to know.
public struct CommitUnknown: Error, CustomStringConvertible {
    /// The connection's failure.
    public let underlying: any Error

    public var description: String {
        if let unanswered = underlying as? StatementUnanswered { return "the store did not say whether the write committed: \(unanswered)" }
        return "the store's connection failed before it said whether the write committed (\(String(reflecting: type(of: underlying))))"
    }
}
