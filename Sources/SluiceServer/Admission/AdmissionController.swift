import Foundation
import SluiceCore
import SluiceStore
import Synchronization

/// Decides whether a request may become a job, before it costs anything: the tier (from queued and
/// running work), the mode (calendar or admin), the plan's per-minute and daily limits (exact under
/// concurrency: one lock), the abuse guards, and simple mode. Also the guards on open streams.
final class AdmissionController: Sendable {
    let policy: AdmissionPolicy
    let clock: @Sendable () -> Date
    let load: @Sendable () -> Int
    let metrics: SluiceMetrics
    let ledger = Mutex(AdmissionLedger())
    /// Modes set by hand, by tenant ("" for every tenant): a mode's name, or nil for "no mode".
    private let forcedModes = Mutex<[String: String?]>([:])
    /// Tenants with a calendar of their own (their exam weeks, their peak hours).
    let calendars: [String: SchoolCalendar]
    /// Tenants' ceilings across all their users (requests per minute, jobs at once, tokens per day).
    let ceilings: [String: TenantPolicy.Ceilings]
    /// Each tenant's admitted jobs that have not ended, under a `runningJobs` ceiling, by id with the
    /// time admitted. A job another node ends (a cluster) is forgotten after `jobLifetime`.
    let tenantJobs = Mutex<[String: [String: Date]]>([:])
    /// Longer than any job lives (queue deadline and attempts included).
    static let jobLifetime: TimeInterval = 3600
    /// Each tenant's spend this month (`yyyy-mm`) under a `spendPerMonthUSD` ceiling, in millionths of
    /// a dollar: kept in the stored counters under the tenant's spend key with the month as the period,
    /// written with each job's end, restored at start.
    let spend = Mutex<[String: (month: String, micros: Int)]>([:])
    let streams = Mutex<(open: [String: Int], resumes: [String: [Date]])>(([:], [:]))
    private let today = Mutex<(day: String, start: Date, end: Date)?>(nil)

    /// The calendar day of a moment and the start of the next, computed once a day.
    func day(of now: Date) -> (day: String, next: Date) {
        if let cached = today.withLock({ $0 }), cached.start <= now, now < cached.end { return (cached.day, cached.end) }
        let bounds = policy.calendar.dayBounds(of: now)
        today.withLock { $0 = bounds }
        return (bounds.day, bounds.end)
    }

    init(
        policy: AdmissionPolicy, calendars: [String: SchoolCalendar] = [:], ceilings: [String: TenantPolicy.Ceilings] = [:],
        metrics: SluiceMetrics, clock: @escaping @Sendable () -> Date, load: @escaping @Sendable () -> Int
    ) {
        self.policy = policy
        self.calendars = calendars
        self.ceilings = ceilings.filter { !$0.value.isEmpty }
        self.metrics = metrics
        self.clock = clock
        self.load = load
    }

    /// Restores the modes set by hand, today's counters, and this month's spend of tenants with a spend
    /// ceiling, from the store.
    func restore(from store: any JobStore) async throws {
        adopt(forced: try await ForcedModes.load(from: store))
        let month = Self.month(of: policy.calendar.day(of: clock()))
        // Months of spend, tenants' and users', kept in the stored counters under the month.
        let prefix = Self.spendKey("")
        let stored = try await store.dailyCounters(day: month).filter { $0.user.hasPrefix(prefix) }
        spend.withLock { spend in
            for counter in stored { spend[String(counter.user.dropFirst(prefix.count))] = (month, counter.tokens) }
        }
        let now = clock()
        let day = policy.calendar.day(of: now)
        let counters = try await store.dailyCounters(day: day)
        ledger.withLock { ledger in
            for counter in counters { ledger.restore(user: counter.user, day: day, messages: counter.messages, tokens: counter.tokens) }
        }
    }

    // MARK: Tier and mode

    /// The mode in force for `tenant`: set by hand for every tenant (the operator's: a tenant's admin
    /// cannot lift it), else set by hand for that tenant (its admin's), else the tenant's own calendar,
    /// else the calendar.
    func mode(at now: Date, tenant: String = "") -> Mode? {
        let forced = forcedModes.withLock { $0[""] ?? $0[tenant] }
        let name: String?
        switch forced {
        case .some(let forced): name = forced
        case .none: name = (calendars[tenant] ?? policy.calendar).mode(at: now)
        }
        return name.flatMap { policy.modes[$0] ?? Mode(name: $0) }
    }

    /// Sets the mode of a tenant ("": every tenant) by hand (nil: no mode), or gives it back to the calendar.
    func force(mode: String??, tenant: String = "") {
        forcedModes.withLock { modes in
            switch mode {
            case .some(let name): modes[tenant] = .some(name)
            case .none: modes[tenant] = nil
            }
        }
    }

    /// Every mode set by hand, by tenant ("" for every tenant).
    var forced: [String: String?] { forcedModes.withLock { $0 } }

    /// Takes the modes set by hand on any node (a cluster keeps them in its store).
    func adopt(forced: [String: String?]) {
        forcedModes.withLock { $0 = forced }
    }

    /// Where a tenant's mode comes from.
    func modeSource(tenant: String = "") -> String {
        forcedModes.withLock { $0[tenant] != nil || $0[""] != nil ? "admin" : "calendar" }
    }

    /// The tier now (for a tenant, whose mode may differ).
    func tier(at now: Date, tenant: String = "") -> Tier {
        policy.tiers.tier(load: load(), mode: mode(at: now, tenant: tenant))
    }

    /// The semantic-cache threshold the mode or the tier sets now, if either does.
    func semanticThreshold(at now: Date, tenant: String = "") -> Double? {
        let mode = mode(at: now, tenant: tenant)
        if let threshold = mode?.semanticThreshold { return threshold }
        return policy.tiers.semanticThreshold[policy.tiers.tier(load: load(), mode: mode)]
    }

    /// The plan of a principal.
    func plan(for principal: Principal) throws -> Plan {
        guard let plan = policy.plans[principal.plan] else {
            throw SluiceError(.invalidParameter, details: ["field": "X-Sluice-Plan", "reason": "no plan '\(principal.plan.prefix(64))'"])
        }
        return plan
    }

    // MARK: Requests

    /// Admits a request or throws the precise refusal. Applies the plan's `max_tokens` cap and, in
    /// simple mode, a tighter cap and a brevity instruction. Returns the reservation to keep with the
    /// job, its counter change, the headers for the response, and whether simple mode changed it.
    func admit(_ request: inout ChatRequest, principal: Principal, jobID: String) throws
        -> (reservation: AdmissionLedger.Reservation, delta: DailyCounterDelta, headers: [String: String], simplified: Bool, limits: AdmissionLedger.Limits)
    {
        let now = clock()
        let plan = try plan(for: principal)
        let mode = mode(at: now, tenant: principal.tenant)
        let tier = policy.tiers.tier(load: load(), mode: mode)
        let bypass = principal.priorityClass == .bypass
        if tier == .overload, !bypass {
            metrics.rejected(reason: "overload")
            let seconds = policy.tiers.overloadRetryAfter
            throw SluiceError(.systemBusy, details: ["seconds": String(seconds)], retryAfter: seconds)
        }
        let promptBytes = request.promptBytes
        guard promptBytes <= plan.maxPromptBytes else {
            metrics.rejected(reason: "prompt_too_large")
            throw SluiceError(.promptTooLarge, details: ["limit": String(plan.maxPromptBytes)])
        }
        if let cap = request.tokenCap, cap > plan.maxTokens {
            metrics.rejected(reason: "max_tokens")
            throw SluiceError(.invalidMaxTokens, details: ["limit": String(plan.maxTokens)])
        }
        var cap = request.tokenCap ?? plan.maxTokens
        let simplified = !bypass && (tier >= policy.tiers.simpleModeFrom || mode?.simpleMode == true)
        if simplified {
            cap = min(cap, policy.tiers.simpleMaxTokens)
            request.messages.insert(ChatMessage(role: "system", content: policy.tiers.brevityInstruction), at: 0)
        }
        request.setTokenCap(cap)
        let promptTokens = request.estimatedPromptTokens
        let limits = AdmissionLedger.Limits(
            requestsPerMinute: plan.requestLimit(tier: tier, mode: bypass ? nil : mode),
            tokensPerMinute: plan.tokensPerMinute, messagesPerDay: plan.messagesPerDay, tokensPerDay: plan.tokensPerDay)
        let (day, nextDay) = day(of: now)
        try checkBudget(of: principal, plan: plan, day: day, now: now)
        let reservation = AdmissionLedger.Reservation(user: principal.userKey, day: day, tokens: promptTokens + cap * (request.n ?? 1), at: now, id: jobID)
        let outcome = ledger.withLock { ledger -> Result<AdmissionLedger.Headroom, AdmissionLedger.Refusal> in
            let admitted = ledger.admit(reservation, limits: limits, nextDay: nextDay)
            guard case .success = admitted, let ceiling = ceilings[principal.tenant] else { return admitted }
            // The tenant's ceilings hold across all its users, however many names its app makes up.
            let whole = ledger.admit(Self.tenantShare(of: reservation, tenant: principal.tenant), limits: ceiling.limits, nextDay: nextDay)
            if case .failure(let refusal) = whole {
                ledger.withdraw(reservation)
                return .failure(refusal)
            }
            return admitted
        }
        if case .success = outcome, let ceiling = ceilings[principal.tenant] {
            let started = tenantJobs.withLock { jobs in
                var open = jobs[principal.tenant, default: [:]].filter { now.timeIntervalSince($0.value) < Self.jobLifetime }
                if let cap = ceiling.runningJobs, open.count >= cap { return false }
                open[jobID] = now
                jobs[principal.tenant] = open
                return true
            }
            if !started {
                ledger.withLock { ledger in
                    ledger.withdraw(reservation)
                    ledger.withdraw(Self.tenantShare(of: reservation, tenant: principal.tenant))
                }
                metrics.rejected(reason: "tenant_jobs")
                throw SluiceError(.rateLimited, details: ["seconds": "5"], retryAfter: 5)
            }
        }
        switch outcome {
        case .success(let headroom):
            metrics.charged(plan: plan.name, messages: 1, tokens: reservation.tokens)
            return (reservation, DailyCounterDelta(user: reservation.user, day: reservation.day, messages: 1, tokens: reservation.tokens),
                    Self.headers(headroom), simplified, limits)
        case .failure(.rateLimited(let retryAfter, let limit)):
            throw rateLimited(retryAfter: retryAfter, limit: limit)
        case .failure(.quotaExceeded(let reset, let limit)):
            throw quotaExceeded(reset: reset, limit: limit, now: now)
        }
    }

    /// The refusal for a full per-minute window.
    func rateLimited(retryAfter: Int, limit: Int) -> SluiceError {
        metrics.rejected(reason: "rate_limited")
        var error = SluiceError(.rateLimited, details: ["seconds": String(retryAfter)], retryAfter: retryAfter)
        error.headers = ["X-RateLimit-Limit": String(limit), "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": String(retryAfter)]
        return error
    }

    /// The refusal for a daily quota the nodes sharing a store used up together.
    func quotaExceeded(limit: Int) -> SluiceError {
        let now = clock()
        return quotaExceeded(reset: day(of: now).next, limit: limit, now: now)
    }

    /// The refusal for a used-up daily quota: when it resets, in the calendar's time zone.
    private func quotaExceeded(reset: Date, limit: Int, now: Date) -> SluiceError {
        metrics.rejected(reason: "quota_exceeded")
        let seconds = max(1, Int(reset.timeIntervalSince(now).rounded(.up)))
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = policy.calendar.timeZone
        var error = SluiceError(.quotaExceeded, details: ["limit": String(limit), "reset": formatter.string(from: reset)], retryAfter: seconds)
        error.headers = ["X-RateLimit-Reset": String(seconds)]
        return error
    }

    /// Admits a request that costs no provider work — a cache hit or a single-flight follower: it counts a
    /// message against the day's quota, and nothing else; it is served even in overload. Returns the
    /// counter change and the rate-limit headers (the per-minute window, untouched).
    func admitLight(principal: Principal) throws -> (delta: DailyCounterDelta, headers: [String: String]) {
        let now = clock()
        let plan = try plan(for: principal)
        let (day, nextDay) = day(of: now)
        let outcome = ledger.withLock { $0.countMessage(user: principal.userKey, day: day, limit: plan.messagesPerDay, nextDay: nextDay) }
        if case .failure(.quotaExceeded(let reset, let limit)) = outcome {
            throw quotaExceeded(reset: reset, limit: limit, now: now)
        }
        metrics.charged(plan: plan.name, messages: 1, tokens: 0)
        let mode = mode(at: now, tenant: principal.tenant)
        let limit = plan.requestLimit(tier: policy.tiers.tier(load: load(), mode: mode), mode: principal.priorityClass == .bypass ? nil : mode)
        let headroom = ledger.withLock { $0.headroom(user: principal.userKey, limit: limit, now: now) }
        return (DailyCounterDelta(user: principal.userKey, day: day, messages: 1, tokens: 0), Self.headers(headroom))
    }

    static func headers(_ headroom: AdmissionLedger.Headroom) -> [String: String] {
        var headers = ["X-RateLimit-Reset": String(headroom.reset)]
        if let limit = headroom.limit { headers["X-RateLimit-Limit"] = String(limit) }
        if let remaining = headroom.remaining { headers["X-RateLimit-Remaining"] = String(remaining) }
        return headers
    }

    /// Settles a job's reservation when it ends: to its real use when it answered; released (and the
    /// message given back) when it failed or expired; released, the message kept, when it was cancelled.
    /// Returns the changes to the stored day counters: the user's, and its tenant's under a ceiling.
    func settle(_ job: Job) -> [DailyCounterDelta] {
        guard let reservation = job.reservation else { return [] }
        let used: Int? = switch job.state {
        case .succeeded: job.result?.usage.totalTokens ?? 0
        // A cancelled job that had started is charged what it was sent (its result holds that).
        case .cancelled: job.result?.usage.totalTokens
        default: nil
        }
        let refund = job.state == .failed || job.state == .expired
        ledger.withLock { $0.settle(reservation, usedTokens: used, refundMessage: refund) }
        settleTenant(reservation, tenant: job.owner.tenant, usedTokens: used, refund: refund)
        let change = { (user: String) in
            DailyCounterDelta(user: user, day: reservation.day, messages: refund ? -1 : 0, tokens: (used ?? 0) - reservation.tokens)
        }
        var changes = [change(reservation.user)]
        if ceilings[job.owner.tenant] != nil { changes.append(change(Self.tenantShare(of: reservation, tenant: job.owner.tenant).user)) }
        changes += charge(job, month: Self.month(of: reservation.day))
        return changes
    }

    /// Undoes an admission whose job could not be stored.
    func release(_ reservation: AdmissionLedger.Reservation) {
        ledger.withLock { $0.withdraw(reservation) }
        if let tenant = reservation.user.split(separator: "\u{1F}", maxSplits: 1).first.map(String.init), ceilings[tenant] != nil,
           forgetTenantJob(reservation.id, of: tenant)
        {
            ledger.withLock { $0.withdraw(Self.tenantShare(of: reservation, tenant: tenant)) }
        }
    }
}
