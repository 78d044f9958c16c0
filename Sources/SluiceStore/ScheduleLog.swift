public import Foundation

/// One run of a schedule: which fire time, which node ran it, and how it went.
public struct ScheduleRun: Sendable, Hashable {
    /// `tenant/name`.
    public var schedule: String
    /// The time the schedule fired for (its cron time), the run's identity.
    public var fireAt: Date
    public var node: String
    public var startedAt: Date
    public var finishedAt: Date?
    /// `running`, `ok` or `failed`.
    public var outcome: String
    /// What it did, or why it failed.
    public var detail: String

    public init(schedule: String, fireAt: Date, node: String, startedAt: Date, finishedAt: Date? = nil, outcome: String, detail: String) {
        self.schedule = schedule
        self.fireAt = fireAt
        self.node = node
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outcome = outcome
        self.detail = detail
    }
}

/// The runs of configured schedules, shared by a cluster's nodes: the first node to record a fire time
/// runs it, so each fires once per cluster, not once per node.
public protocol ScheduleLog: Sendable {
    /// Records that `run` starts, unless a run of that schedule and fire time is already recorded;
    /// returns whether this call recorded it (and so whether the caller runs it).
    func claimRun(_ run: ScheduleRun) async throws -> Bool
    /// Records how a run ended.
    func finishRun(_ run: ScheduleRun) async throws
    /// The latest runs of a schedule, newest first.
    func runs(of schedule: String, limit: Int) async throws -> [ScheduleRun]
}
