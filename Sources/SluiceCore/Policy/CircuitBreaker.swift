public import Foundation

/// A circuit breaker's state machine for one provider deployment. Pure: the caller holds it under a
/// lock, asks `canAdmit` before a call, and reports each call's outcome.
///
/// Closed, it opens when the failure rate over the last `window` calls reaches `failureRate` (once at
/// least `minimumCalls` were made), or after `consecutiveFailures` failures in a row. Open, it admits
/// nothing for `openSeconds`; then half-open, it admits up to `halfOpenProbes` calls at once: one
/// success closes it, one failure opens it again.
public struct CircuitBreaker: Sendable {
    /// When to open and for how long.
    public struct Policy: Sendable, Hashable {
        /// Failure share over the window that opens the breaker (default 0.5).
        public var failureRate: Double
        /// Calls in the window before the rate counts (default 10).
        public var minimumCalls: Int
        /// Calls the rate is computed over (default 20).
        public var window: Int
        /// Failures in a row that open the breaker regardless of the rate (default 5).
        public var consecutiveFailures: Int
        /// Seconds it stays open (default 30).
        public var openSeconds: Double
        /// Calls admitted at once while half-open (default 1).
        public var halfOpenProbes: Int

        /// - Parameters:
        ///   - failureRate: failure share that opens it.
        ///   - minimumCalls: calls before the rate counts.
        ///   - window: calls in the rate's window.
        ///   - consecutiveFailures: failures in a row that open it.
        ///   - openSeconds: how long it stays open.
        ///   - halfOpenProbes: probes admitted at once when half-open.
        public init(
            failureRate: Double = 0.5, minimumCalls: Int = 10, window: Int = 20, consecutiveFailures: Int = 5,
            openSeconds: Double = 30, halfOpenProbes: Int = 1
        ) {
            self.failureRate = failureRate
            self.minimumCalls = minimumCalls
            self.window = max(1, window)
            self.consecutiveFailures = consecutiveFailures
            self.openSeconds = openSeconds
            self.halfOpenProbes = max(1, halfOpenProbes)
        }
    }

    /// Where the breaker is.
    public enum State: Sendable, Hashable {
        case closed
        case open(until: Date)
        case halfOpen(probes: Int)

        /// 0 closed, 1 half-open, 2 open: for a gauge.
        public var level: Int {
            switch self {
            case .closed: 0
            case .halfOpen: 1
            case .open: 2
            }
        }
    }

    /// The policy.
    public let policy: Policy
    /// The state, as of the last call or check.
    public private(set) var state: State = .closed
    private var outcomes: [Bool] = []
    private var consecutive = 0

    /// - Parameter policy: when to open.
    public init(policy: Policy = .init()) {
        self.policy = policy
    }

    /// Moves an open breaker whose time is up to half-open.
    public mutating func refresh(now: Date) {
        if case .open(let until) = state, now >= until { state = .halfOpen(probes: 0) }
    }

    /// Whether a call may start now (without reserving it).
    public mutating func canAdmit(now: Date) -> Bool {
        refresh(now: now)
        switch state {
        case .closed: return true
        case .open: return false
        case .halfOpen(let probes): return probes < policy.halfOpenProbes
        }
    }

    /// Reserves a call; false when none may start.
    public mutating func admit(now: Date) -> Bool {
        guard canAdmit(now: now) else { return false }
        if case .halfOpen(let probes) = state { state = .halfOpen(probes: probes + 1) }
        return true
    }

    /// Whether this failure would open a closed breaker (the caller may veto it to keep enough
    /// deployments in service, then calls `record(success: false, mayOpen: false)`).
    public func wouldOpen() -> Bool {
        switch state {
        case .halfOpen: return true
        case .open: return false
        case .closed:
            if consecutive + 1 >= policy.consecutiveFailures { return true }
            let recent = (outcomes + [false]).suffix(policy.window)
            guard recent.count >= policy.minimumCalls else { return false }
            let failures = recent.filter { !$0 }.count
            return Double(failures) / Double(recent.count) >= policy.failureRate
        }
    }

    /// Records a call's outcome. Failures that are the request's own fault (400, context length) must
    /// not be recorded at all.
    public mutating func record(success: Bool, now: Date, mayOpen: Bool = true) {
        let opens = !success && mayOpen && wouldOpen()
        if success { consecutive = 0 } else { consecutive += 1 }
        outcomes.append(success)
        if outcomes.count > policy.window { outcomes.removeFirst(outcomes.count - policy.window) }
        switch state {
        case .halfOpen(let probes):
            if success {
                state = .closed
                outcomes = []
                consecutive = 0
            } else if opens {
                state = .open(until: now.addingTimeInterval(policy.openSeconds))
            } else {
                state = .halfOpen(probes: max(0, probes - 1))
            }
        case .closed:
            if opens { state = .open(until: now.addingTimeInterval(policy.openSeconds)) }
        case .open:
            break
        }
    }

    /// Ends a half-open probe that neither succeeded nor failed (cancelled).
    public mutating func release() {
        if case .halfOpen(let probes) = state { state = .halfOpen(probes: max(0, probes - 1)) }
    }

    /// The time an open breaker admits probes again.
    public var reopensAt: Date? {
        if case .open(let until) = state { return until }
        return nil
    }
}
