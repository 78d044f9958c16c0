import Foundation
import SluiceCore
import SluiceStore

/// Admission as the nodes see it together: this node's `AdmissionController` (plans, modes, tiers, the
/// tenant's ceilings), then — on a store the nodes share — the minute's shared windows and the day's
/// counters, taken atomically against the limits so that together the nodes admit no more than them.
final class AdmissionGate: Sendable {
    /// This node's admission.
    let controller: AdmissionController
    /// Where a day's counters are kept.
    let store: any JobStore & UsageRollup
    /// Counters the nodes of a cluster share; nil on the embedded store.
    let shared: (any SharedCounters)?
    /// This node in a cluster, for the open streams counted across nodes; nil on the embedded store.
    let node: (id: String, leaseSeconds: Double)?
    let metrics: SluiceMetrics

    init(
        controller: AdmissionController, store: any JobStore & UsageRollup, shared: (any SharedCounters)?,
        node: (id: String, leaseSeconds: Double)?, metrics: SluiceMetrics
    ) {
        self.controller = controller
        self.store = store
        self.shared = shared
        self.node = node
        self.metrics = metrics
    }

    /// A request admitted to become a job: what it reserved, its headers, and the counter changes its
    /// insert carries (nothing when the shared day already counted them).
    struct Admitted: Sendable {
        var reservation: AdmissionLedger.Reservation
        var headers: [String: String]
        /// Answered plainly (an overloaded tier): the answer is not cached.
        var simplified: Bool
        /// The day's counters, written in the job's insert.
        var counters: [DailyCounterDelta]
        /// The day's change already counted in the shared counters (refunded if the insert fails).
        var countedShared: DailyCounterDelta?
    }

    /// Admits `chat` (which admission may simplify) as job `jobID`: this node's admission, then the shared
    /// windows and, with daily quotas on a shared store, the day's counters. A refusal leaves nothing taken.
    func admit(_ chat: inout ChatRequest, owner: Principal, jobID: String) async throws -> Admitted {
        let admitted = try controller.admit(&chat, principal: owner, jobID: jobID)
        do {
            try await takeSharedWindows(admitted.limits, reservation: admitted.reservation, tenant: owner.tenant)
            let tenant = controller.tenantDelta(of: admitted.reservation, tenant: owner.tenant)
            var result = Admitted(
                reservation: admitted.reservation, headers: admitted.headers, simplified: admitted.simplified,
                counters: [admitted.delta, tenant].compactMap { $0 }, countedShared: nil)
            if try sharedDailyLimits(for: owner) != nil {
                try await count(admitted.delta, owner: owner)
                result.counters = [tenant].compactMap { $0 }
                result.countedShared = admitted.delta
            }
            return result
        } catch {
            controller.release(admitted.reservation)
            throw error
        }
    }

    /// Gives back what `admit` took, for a job that was not accepted after all.
    func giveBack(_ admitted: Admitted) async {
        controller.release(admitted.reservation)
        if let delta = admitted.countedShared {
            try? await store.addCounters([DailyCounterDelta(user: delta.user, day: delta.day, messages: -delta.messages, tokens: -delta.tokens)])
        }
    }

    /// A request that makes no job of its own (a cache hit, a follower): one message against the plan's
    /// limits, not yet counted.
    func admitLight(_ owner: Principal) throws -> (delta: DailyCounterDelta, headers: [String: String]) {
        try controller.admitLight(principal: owner)
    }

    /// A cache hit: one message counted and the hit added to the usage rollup — in one write on the
    /// embedded store and on a shared store without daily quotas. Returns the rate-limit headers.
    func chargeHit(_ owner: Principal, usage: UsageRow) async throws -> [String: String] {
        let admitted = try controller.admitLight(principal: owner)
        if try sharedDailyLimits(for: owner) != nil {
            try await count(admitted.delta, owner: owner)
            try await store.addUsage([usage])
        } else {
            try await store.addUsage([usage], counters: [admitted.delta])
        }
        return admitted.headers
    }

    /// On a store the nodes share, counts the request and its reserved tokens in the minute's shared
    /// windows, so that together the nodes admit at most the per-minute limits (calendar minutes).
    func takeSharedWindows(_ limits: AdmissionLedger.Limits, reservation: AdmissionLedger.Reservation, tenant: String) async throws {
        guard let counters = shared else { return }
        let now = controller.clock().timeIntervalSince1970
        let window = Int64(now / 60)
        let retryAfter = max(1, 60 - Int(now) % 60)
        // A tenant's ceiling holds across the nodes too, whoever its users are.
        if let limit = controller.ceilings[tenant]?.requestsPerMinute,
           try await !counters.take(key: AdmissionController.tenantShare(of: reservation, tenant: tenant).user, window: window, amount: 1, limit: limit)
        {
            throw controller.rateLimited(retryAfter: retryAfter, limit: limit)
        }
        if let limit = limits.requestsPerMinute, try await !counters.take(key: reservation.user, window: window, amount: 1, limit: limit) {
            throw controller.rateLimited(retryAfter: retryAfter, limit: limit)
        }
        if let limit = limits.tokensPerMinute,
           try await !counters.take(key: "tokens:" + reservation.user, window: window, amount: reservation.tokens, limit: limit)
        {
            throw controller.rateLimited(retryAfter: retryAfter, limit: limit)
        }
    }

    /// Counts a stream a client opens against the plan's limits on open streams and on resumes: on this
    /// node, and on a store the nodes share, across all of them. The stream counts until the ticket goes.
    func openStream(for principal: Principal, resuming: Bool) async throws -> AdmissionController.StreamTicket {
        let local = try controller.openStream(for: principal, resuming: resuming)
        guard let counters = shared, let node else { return local }
        let plan = (try? controller.plan(for: principal)) ?? Plan(name: principal.plan)
        let user = principal.userKey
        let now = controller.clock().timeIntervalSince1970
        if resuming, try await !counters.take(key: "resumes:" + user, window: Int64(now / 60), amount: 1, limit: plan.reconnectsPerMinute) {
            let seconds = max(1, 60 - Int(now) % 60)
            metrics.rejected(reason: SluiceError.Code.tooManyReconnects.rawValue)
            throw SluiceError(.tooManyReconnects, details: ["seconds": String(seconds)], retryAfter: seconds)
        }
        guard try await counters.openStream(node: node.id, user: user, limit: plan.maxStreams, liveSeconds: node.leaseSeconds) else {
            metrics.rejected(reason: SluiceError.Code.tooManyStreams.rawValue)
            throw SluiceError(.tooManyStreams, details: ["limit": String(plan.maxStreams)], retryAfter: 5)
        }
        return AdmissionController.StreamTicket {
            withExtendedLifetime(local) {}
            Task { try? await counters.closeStream(node: node.id, user: user) }
        }
    }

    /// The owner's daily limits when they are counted in a store the nodes share; nil otherwise.
    func sharedDailyLimits(for owner: Principal) throws -> (messages: Int?, tokens: Int?)? {
        guard shared != nil else { return nil }
        let plan = try controller.plan(for: owner)
        guard plan.messagesPerDay != nil || plan.tokensPerDay != nil else { return nil }
        return (plan.messagesPerDay, plan.tokensPerDay)
    }

    /// Applies an admission's change to the owner's day: on a store the nodes share, atomically
    /// against the daily quotas, so that together they admit no more than them.
    func count(_ delta: DailyCounterDelta, owner: Principal) async throws {
        guard let counters = shared, let limits = try sharedDailyLimits(for: owner) else {
            try await store.addCounters([delta])
            return
        }
        guard try await counters.addDaily(delta, messageLimit: limits.messages, tokenLimit: limits.tokens) else {
            throw controller.quotaExceeded(limit: limits.messages ?? limits.tokens ?? 0)
        }
    }
}
