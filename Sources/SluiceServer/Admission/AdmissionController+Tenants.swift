import Foundation
import SluiceCore
import Synchronization
import SluiceStore

/// A tenant's ceilings across all its users: its part of each reservation in the ledger, its jobs at
/// once, its month of spend.
extension AdmissionController {
    /// The stored counter key of a month of spend: a tenant's (its name) or a user's (their key).
    static func spendKey(_ who: String) -> String { "spend\u{1E}" + who }

    /// The month (`yyyy-mm`) of a day (`yyyy-mm-dd`).
    static func month(of day: String) -> String { String(day.prefix(7)) }

    /// Refuses a request whose tenant's month of spend reached its ceiling, or whose user's reached
    /// their plan's `spendPerMonthUSD` (what a job will cost is known only when it ends, so the last
    /// jobs admitted may pass the cap by their own cost).
    func checkBudget(of principal: Principal, plan: Plan, day: String, now: Date) throws {
        try checkBudget(of: principal.tenant, cap: ceilings[principal.tenant]?.spendPerMonthUSD, day: day, now: now)
        try checkBudget(of: principal.userKey, cap: plan.spendPerMonthUSD, day: day, now: now)
    }

    /// Refuses when the month's spend of `who` (a tenant, or a user's key) reached `cap`.
    func checkBudget(of who: String, cap: Double?, day: String, now: Date) throws {
        guard let budget = cap else { return }
        let month = Self.month(of: day)
        let micros = spend.withLock { $0[who].flatMap { $0.month == month ? $0.micros : nil } ?? 0 }
        guard Double(micros) / 1_000_000 >= budget else { return }
        metrics.rejected(reason: "budget")
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = policy.calendar.timeZone
        let reset = calendar.dateInterval(of: .month, for: now)?.end ?? now.addingTimeInterval(86_400)
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = policy.calendar.timeZone
        throw SluiceError(
            .budgetExceeded, details: ["limit": String(format: "%.2f", budget), "reset": formatter.string(from: reset)],
            retryAfter: max(1, Int(reset.timeIntervalSince(now).rounded(.up))))
    }

    /// Adds what a job cost to its tenant's month and its user's, for those with a spend cap; returns
    /// the changes to the stored counters.
    func charge(_ job: Job, month: String) -> [DailyCounterDelta] {
        guard let cost = job.result?.cost, cost > 0 else { return [] }
        var capped: [String] = []
        if ceilings[job.owner.tenant]?.spendPerMonthUSD != nil { capped.append(job.owner.tenant) }
        if (try? plan(for: job.owner))?.spendPerMonthUSD != nil { capped.append(job.owner.userKey) }
        // A provider's absurd usage must not trap: at most a billion dollars per answer.
        let micros = Int(exactly: (min(cost, 1e9) * 1_000_000).rounded(.up)) ?? 0
        return capped.map { who in
            spend.withLock { spend in
                let current = spend[who].flatMap { $0.month == month ? $0.micros : nil } ?? 0
                spend[who] = (month, current + micros)
            }
            return DailyCounterDelta(user: Self.spendKey(who), day: month, messages: 0, tokens: micros)
        }
    }

    /// The stored day counters' change for a tenant's part of an admission (nil without ceilings), kept
    /// with the job so that the tenant's day outlives a restart like its users' days.
    func tenantDelta(of reservation: AdmissionLedger.Reservation, tenant: String) -> DailyCounterDelta? {
        guard ceilings[tenant] != nil else { return nil }
        return DailyCounterDelta(user: Self.tenantShare(of: reservation, tenant: tenant).user, day: reservation.day, messages: 1, tokens: reservation.tokens)
    }

    /// The part of a user's reservation its tenant's ceilings count.
    static func tenantShare(of reservation: AdmissionLedger.Reservation, tenant: String) -> AdmissionLedger.Reservation {
        var share = reservation
        share.user = "tenant\u{1E}" + tenant
        return share
    }

    /// Settles the tenant's part of a reservation, and counts its job as ended.
    /// Only a job this node admitted moves its tenant's counters here (in a cluster another node may
    /// end it: the stored counters take that node's change, this node's ledger does not).
    func settleTenant(_ reservation: AdmissionLedger.Reservation, tenant: String, usedTokens: Int?, refund: Bool) {
        guard ceilings[tenant] != nil, forgetTenantJob(reservation.id, of: tenant) else { return }
        ledger.withLock { $0.settle(Self.tenantShare(of: reservation, tenant: tenant), usedTokens: usedTokens, refundMessage: refund) }
    }

    /// Stops counting a job among its tenant's jobs at once; false when it was not counted here.
    @discardableResult
    func forgetTenantJob(_ id: String, of tenant: String) -> Bool {
        tenantJobs.withLock { jobs in
            guard jobs[tenant]?.removeValue(forKey: id) != nil else { return false }
            if jobs[tenant]?.isEmpty == true { jobs[tenant] = nil }
            return true
        }
    }

    /// Jobs this node admitted under a tenant's ceilings more than `age` ago and still counts, oldest
    /// first (at most `limit`): a cluster looks them up, since another node may have ended them.
    func countedTenantJobs(olderThan age: TimeInterval, limit: Int, now: Date) -> [(tenant: String, id: String)] {
        tenantJobs.withLock { jobs in
            jobs.flatMap { tenant, ids in ids.filter { now.timeIntervalSince($0.value) > age }.map { (tenant, $0.key, $0.value) } }
                .sorted { $0.2 < $1.2 }.prefix(limit).map { (tenant: $0.0, id: $0.1) }
        }
    }
}
