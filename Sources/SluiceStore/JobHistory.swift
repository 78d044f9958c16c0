public import Foundation
public import SluiceCore

/// Whose jobs a history lists.
public enum HistoryScope: Sendable, Hashable {
    /// One user's (their key: tenant and user).
    case user(String)
    /// A whole tenant's.
    case tenant(String)
}

/// Jobs kept after they end — a user's history, a tenant's archive — apart from their streams, which
/// go much sooner (`retention.streamSeconds`, against `retention.historyDays`).
public protocol JobHistory: Sendable {
    /// A page of jobs, newest first: those created before the job `cursor` (the last id of the
    /// previous page), or from the newest; only those created at or after `since`, when given.
    func history(_ scope: HistoryScope, before cursor: String?, since: Date?, limit: Int) async throws -> [Job]
    /// Deletes a user's ended jobs, with their streams and followers; returns how many.
    func erase(user: String) async throws -> Int
    /// Deletes the streams (and followers) of jobs that ended before `date` — and not before `since`,
    /// when given (the previous sweep's cutoff: older streams are gone already) —; the jobs stay.
    func deleteStreams(endedBefore date: Date, since: Date?) async throws -> Int
    /// Deletes jobs that ended before their plan's cutoff (`cutoffs` by plan, `otherwise` for the rest),
    /// with their streams; returns how many.
    func deleteHistory(before cutoffs: [String: Date], otherwise: Date) async throws -> Int
}
