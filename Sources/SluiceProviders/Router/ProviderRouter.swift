public import Foundation
public import SluiceCore
import DequeModule
import Synchronization

/// Chooses the deployment that serves each call of a model alias, and guards every deployment with a
/// bulkhead (calls in flight), a circuit breaker, the provider's `Retry-After`, and the account's
/// per-minute caps. Reservations are atomic: a call holds its slot from `reserve` until `release`.
public final class ProviderRouter: Sendable {
    /// A reserved slot on one deployment.
    public struct Lease: Sendable {
        /// The alias the call is for.
        public var alias: String
        /// The deployment chosen.
        public var deployment: Deployment
        /// Its provider.
        public var provider: any Provider
        let index: Int
    }

    /// How a call ended, for the deployment's health and caps.
    public enum Outcome: Sendable {
        /// Answered, using this many tokens.
        case success(tokens: Int)
        /// Failed through the provider's fault.
        case failure(retryAfter: Double?)
        /// Failed through the request's fault (400, context length): not the provider's health.
        case requestFault
        /// Stopped by us (cancel, shutdown).
        case cancelled
    }

    /// A deployment's state, for metrics.
    public struct Status: Sendable {
        /// The alias.
        public var alias: String
        /// The deployment.
        public var deployment: String
        /// Calls in flight.
        public var inFlight: Int
        /// 0 closed, 1 half-open, 2 open.
        public var breaker: Int
    }

    struct Slot {
        var deployment: Deployment
        var provider: any Provider
        var inFlight = 0
        var breaker: CircuitBreaker
        var coolUntil: Date?
        /// Request start times of the last minute, kept only under a requests-per-minute cap.
        var requests: Deque<Date> = []
        /// Tokens used in the last minute, kept only under a tokens-per-minute cap.
        var tokens: Deque<(Date, Int)> = []
    }

    struct Route {
        var alias: ModelAlias
        var slots: [Slot]
    }

    private let routes: Mutex<[String: Route]>
    /// Holds the capacity handler by reference: a closure kept directly in a `Mutex` and read through
    /// its `inout` access is re-wrapped in reabstraction thunks on every access, which piled up and
    /// slowed every release (found with perf: throughput fell run after run).
    private final class Handler: Sendable {
        let call: @Sendable () -> Void
        init(_ call: @escaping @Sendable () -> Void) { self.call = call }
    }

    private let onCapacity = Mutex<Handler?>(nil)
    private let names: [String]

    /// - Parameters:
    ///   - aliases: the aliases.
    ///   - deployments: deployments by name, each with its provider.
    public init(aliases: [ModelAlias], deployments: [String: (Deployment, any Provider)]) throws {
        var routes: [String: Route] = [:]
        for alias in aliases {
            let slots = try alias.deployments.map { name -> Slot in
                guard let (deployment, provider) = deployments[name] else {
                    throw RouterError(description: "alias '\(alias.name)' names the unknown deployment '\(name)'")
                }
                return Slot(deployment: deployment, provider: provider, breaker: CircuitBreaker(policy: deployment.breaker))
            }
            guard !slots.isEmpty else { throw RouterError(description: "alias '\(alias.name)' has no deployments") }
            routes[alias.name] = Route(alias: alias, slots: slots)
        }
        self.routes = Mutex(routes)
        self.names = routes.keys.sorted()
    }

    /// A configuration error.
    public struct RouterError: Error, CustomStringConvertible {
        /// What is wrong.
        public var description: String
    }

    /// Serves the mock provider under the aliases `default` and `mock`.
    public static func mock(_ provider: MockProvider) -> ProviderRouter {
        var deployment = Deployment(name: "mock", kind: .mock, model: "mock")
        // The built-in mock costs nothing: no bulkhead worth the name.
        deployment.maxInFlight = 100_000
        return try! ProviderRouter(
            aliases: [ModelAlias(name: "default", deployments: ["mock"]), ModelAlias(name: "mock", deployments: ["mock"])],
            deployments: ["mock": (deployment, provider)])
    }

    /// Every alias, sorted.
    public var aliases: [String] { names }

    /// The first field of a request that a deployment of its alias cannot express: a request is
    /// accepted only when every deployment it may fail over to can send it whole.
    public func unsupported(_ request: ChatRequest) -> (deployment: String, field: String, reason: String)? {
        let slots = routes.withLock { $0[request.model]?.slots.map { ($0.deployment.name, $0.provider) } ?? [] }
        for (name, provider) in slots {
            if let (field, reason) = provider.unsupported(request) { return (name, field, reason) }
        }
        return nil
    }

    /// Whether an alias is served.
    public func serves(_ alias: String) -> Bool { names.contains(alias) }

    /// The names of the deployments that serve an alias, in order.
    public func deployments(of alias: String) -> [String] {
        routes.withLock { $0[alias]?.slots.map(\.deployment.name) ?? [] }
    }

    /// What to do when an answer of this alias breaks after output.
    public func interruptPolicy(for alias: String) -> ModelAlias.InterruptPolicy {
        routes.withLock { $0[alias]?.alias.onInterrupt ?? .retry }
    }

    /// Called (outside any lock) whenever a slot frees, so that waiting work can be claimed.
    public func whenCapacityFrees(_ handler: @escaping @Sendable () -> Void) {
        let boxed = Handler(handler)
        onCapacity.withLock { $0 = boxed }
    }

    /// Reserves a call on the best deployment of `alias` that is healthy and has room, preferring
    /// deployments not in `avoiding` (those a job already failed on); nil when none has room now.
    public func reserve(alias: String, avoiding: Set<String> = [], now: Date = Date()) -> Lease? {
        routes.withLock { routes -> Lease? in
            guard var route = routes[alias] else { return nil }
            var open: [Int] = []
            for index in route.slots.indices where Self.hasRoom(&route.slots[index], now: now) { open.append(index) }
            let fresh = open.filter { !avoiding.contains(route.slots[$0].deployment.name) }
            let candidates = fresh.isEmpty ? open : fresh
            let chosen: Int?
            switch route.alias.strategy {
            case .ordered:
                chosen = candidates.first
            case .weighted:
                let total = candidates.reduce(0) { $0 + max(0, route.slots[$1].deployment.weight) }
                if total <= 0 {
                    chosen = candidates.first
                } else {
                    var pick = Double.random(in: 0..<total)
                    chosen = candidates.first { index in
                        pick -= max(0, route.slots[index].deployment.weight)
                        return pick < 0
                    } ?? candidates.last
                }
            }
            guard let index = chosen, route.slots[index].breaker.admit(now: now) else { return nil }
            route.slots[index].inFlight += 1
            if route.slots[index].deployment.requestsPerMinute != nil { route.slots[index].requests.append(now) }
            let slot = route.slots[index]
            routes[alias] = route
            return Lease(alias: alias, deployment: slot.deployment, provider: slot.provider, index: index)
        }
    }

    static func hasRoom(_ slot: inout Slot, now: Date) -> Bool {
        let minuteAgo = now.addingTimeInterval(-60)
        while let first = slot.requests.first, first <= minuteAgo { slot.requests.removeFirst() }
        while let first = slot.tokens.first, first.0 <= minuteAgo { slot.tokens.removeFirst() }
        if let cool = slot.coolUntil, cool > now { return false }
        if slot.inFlight >= slot.deployment.maxInFlight { return false }
        if let rpm = slot.deployment.requestsPerMinute, slot.requests.count >= rpm { return false }
        if let tpm = slot.deployment.tokensPerMinute, slot.tokens.reduce(0, { $0 + $1.1 }) >= tpm { return false }
        return slot.breaker.canAdmit(now: now)
    }

    /// Ends a call: frees its slot and records its outcome.
    public func release(_ lease: Lease, outcome: Outcome, now: Date = Date()) {
        routes.withLock { routes in
            guard var route = routes[lease.alias], route.slots.indices.contains(lease.index) else { return }
            let ejected = route.slots.indices.filter { $0 != lease.index && route.slots[$0].breaker.reopensAt.map { $0 > now } == true }.count
            let mayOpen = Double(ejected + 1) <= route.alias.maxEjectedShare * Double(route.slots.count)
            var slot = route.slots[lease.index]
            slot.inFlight = max(0, slot.inFlight - 1)
            switch outcome {
            case .success(let tokens):
                slot.breaker.record(success: true, now: now)
                if slot.deployment.tokensPerMinute != nil { slot.tokens.append((now, tokens)) }
            case .failure(let retryAfter):
                slot.breaker.record(success: false, now: now, mayOpen: mayOpen)
                if let retryAfter, retryAfter > 0 { slot.coolUntil = now.addingTimeInterval(retryAfter) }
            case .requestFault, .cancelled:
                slot.breaker.release()
            }
            route.slots[lease.index] = slot
            routes[lease.alias] = route
        }
        onCapacity.withLock { $0 }?.call()
    }

    /// The earliest time a deployment of `alias` without room now may have room again (a breaker's
    /// cool-down, a `Retry-After`, a per-minute window), or nil when only a release can free one.
    public func nextAvailability(for alias: String, now: Date = Date()) -> Date? {
        routes.withLock { routes -> Date? in
            guard let route = routes[alias] else { return nil }
            var times: [Date] = []
            for slot in route.slots {
                if let until = slot.breaker.reopensAt, until > now { times.append(until) }
                if let cool = slot.coolUntil, cool > now { times.append(cool) }
                if let rpm = slot.deployment.requestsPerMinute, slot.requests.count >= rpm, let first = slot.requests.first {
                    times.append(first.addingTimeInterval(60))
                }
                if slot.deployment.tokensPerMinute != nil, let first = slot.tokens.first { times.append(first.0.addingTimeInterval(60)) }
            }
            return times.min()
        }
    }

    /// Every deployment's state.
    public func status(now: Date = Date()) -> [Status] {
        routes.withLock { routes in
            routes.keys.sorted().flatMap { name in
                routes[name]!.slots.map { slot in
                    var breaker = slot.breaker
                    breaker.refresh(now: now)
                    return Status(alias: name, deployment: slot.deployment.name, inFlight: slot.inFlight, breaker: breaker.state.level)
                }
            }
        }
    }
}
