public import Foundation
public import SluiceCore

/// What ended jobs used, summed per day, tenant, user, model and deployment: written in the commit that
/// first stores a job ended — so an answer is counted once, streamed or not, after a failover or a
/// restart — and kept apart from the jobs, so that it outlives them.
public struct UsageRow: Sendable, Hashable, Codable {
    public var day: String
    public var tenant: String
    public var user: String
    public var model: String
    public var deployment: String
    /// Jobs that ended.
    public var requests = 0
    /// Of those, jobs that failed or expired.
    public var failures = 0
    /// Tokens a provider was paid for.
    public var promptTokens = 0
    public var completionTokens = 0
    /// What they cost, in millionths of a US dollar.
    public var costMicros = 0
    /// Answers served from the cache, and the tokens they would have cost.
    public var cacheHits = 0
    public var savedTokens = 0

    /// - Parameters: the row's key.
    public init(day: String, tenant: String, user: String, model: String, deployment: String) {
        self.day = day
        self.tenant = tenant
        self.user = user
        self.model = model
        self.deployment = deployment
    }

    /// One ended job's use; nil for a job that has not ended.
    public init?(ended job: Job) {
        guard job.state.isTerminal else { return nil }
        let hit = job.cache?.servedFrom != nil
        self.init(
            day: Self.day(of: job.finishedAt ?? job.createdAt), tenant: job.owner.tenant, user: job.owner.user,
            model: job.request.model, deployment: hit ? "cache" : job.deployment ?? "none")
        requests = 1
        failures = job.state == .failed || job.state == .expired ? 1 : 0
        if let usage = job.result?.usage {
            if hit {
                cacheHits = 1
                savedTokens = usage.totalTokens
            } else {
                promptTokens = usage.promptTokens
                completionTokens = usage.completionTokens
            }
        }
        costMicros = Int(exactly: (min(max(job.result?.cost ?? 0, 0), 1e9) * 1_000_000).rounded()) ?? 0
    }

    /// The day (`yyyy-mm-dd`, UTC) of a moment, by arithmetic (Howard Hinnant's `civil_from_days`): a
    /// date formatter costs tens of microseconds to make, and every cache hit and every job's end made one
    /// (a profile of exact-cache hits found 16 % of the node's time there).
    public static func day(of date: Date) -> String {
        let raw = date.timeIntervalSince1970
        let seconds = raw.isFinite ? min(max(raw, -1e12), 1e12) : 0
        let (year, month, day) = CivilDate.from(days: Int((seconds / 86_400).rounded(.down)))
        func padded(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return padded(year, 4) + "-" + padded(month, 2) + "-" + padded(day, 2)
    }

    /// One answer served from the cache, saving the tokens of `usage`.
    public static func hit(tenant: String, user: String, model: String, usage: Usage, at date: Date) -> UsageRow {
        var row = UsageRow(day: day(of: date), tenant: tenant, user: user, model: model, deployment: "cache")
        row.requests = 1
        row.cacheHits = 1
        row.savedTokens = usage.totalTokens
        return row
    }

    /// Adds another row's counts (the key stays this row's).
    public mutating func add(_ other: UsageRow) {
        requests += other.requests
        failures += other.failures
        promptTokens += other.promptTokens
        completionTokens += other.completionTokens
        costMicros += other.costMicros
        cacheHits += other.cacheHits
        savedTokens += other.savedTokens
    }
}

/// The usage rollup: jobs' rows are written with their final state (`JobStore.save`); answers served
/// from the cache, which make no job of their own on every front door, are added here.
public protocol UsageRollup: Sendable {
    /// Adds rows (cache hits) to the rollup and applies counter changes (the hit's message) in one
    /// commit, summed with the calls beside it (`UsageWriter`): a burst of hits is one durable write.
    func addUsage(_ rows: [UsageRow], counters: [DailyCounterDelta]) async throws
    /// The rows of a tenant (and of one of its users, when given) from day `from` to day `to`, inclusive
    /// (`yyyy-mm-dd`).
    func usage(tenant: String, user: String?, from: String, to: String) async throws -> [UsageRow]
}

extension UsageRollup {
    /// Adds rows to the rollup, with no counter changes.
    public func addUsage(_ rows: [UsageRow]) async throws { try await addUsage(rows, counters: []) }
}
