public import Foundation
public import SluiceCore
import DequeModule
import Synchronization

/// Chooses the deployment that serves each call of a model alias, and guards every deployment with a
/// bulkhead (calls in flight), a circuit breaker, the provider's `Retry-After`, and the account's
/// per-minute caps. Reservations are atomic: a call holds its slot from `reserve` until `release`.
/// A deployment's guards are one per deployment, whichever aliases name it; in a cluster each node
/// takes its share of the caps (`share(nodes:rank:)`), so the account never sees more than its caps.
public final class ProviderRouter: Sendable {
    /// A reserved slot on one deployment.
    public struct Lease: Sendable {
        /// The alias the call is for.
        public var alias: String
        /// The deployment chosen.
        public var deployment: Deployment
        /// Its provider.
        public var provider: any Provider
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
        /// At most this many calls at once (this node's share of the account's cap in a cluster).
        public var maxInFlight: Int = 0
        /// 0 closed, 1 half-open, 2 open.
        public var breaker: Int
        /// Until when it is kept aside (a provider's `Retry-After`, or a cool-down another node heard).
        public var coolingUntil: Date?
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
        /// Its deployments, in order.
        var names: [String]
    }

    /// This node's part of every deployment's caps: among `nodes` live nodes, it is number `rank`.
    public struct Share: Sendable, Equatable {
        /// Live nodes sharing the caps.
        public var nodes: Int
        /// This node's place among them (0-based).
        public var rank: Int

        /// This node's part of a cap of `total`: the parts of all nodes add up to `total` (at least one
        /// each, so that a node with more nodes than the cap can still call).
        public func part(of total: Int) -> Int {
            guard nodes > 1 else { return total }
            return max(1, total / nodes + (rank < total % nodes ? 1 : 0))
        }
    }

    struct State {
        var routes: [String: Route]
        /// Each deployment's guards, one per deployment.
        var slots: [String: Slot]
        var share = Share(nodes: 1, rank: 0)
    }

    private let state: Mutex<State>
    /// Holds the capacity handler by reference: a closure kept directly in a `Mutex` and read through
    /// its `inout` access is re-wrapped in reabstraction thunks on every access, which piled up and
    /// slowed every release (found with perf: throughput fell run after run).
    private final class Handler: Sendable {
        let call: @Sendable () -> Void
        init(_ call: @escaping @Sendable () -> Void) { self.call = call }
    }

    private let onCapacity = Mutex<Handler?>(nil)
    /// Told of a deployment set aside until a time (its `Retry-After`, its breaker opening), to share it.
    private let onCoolDown = Mutex<CoolDownHandler?>(nil)

    private final class CoolDownHandler: Sendable {
        let call: @Sendable (String, Date) -> Void
        init(_ call: @escaping @Sendable (String, Date) -> Void) { self.call = call }
    }
    private let names: [String]

    /// - Parameters:
    ///   - aliases: the aliases.
    ///   - deployments: deployments by name, each with its provider.
    public init(aliases: [ModelAlias], deployments: [String: (Deployment, any Provider)]) throws {
        var routes: [String: Route] = [:]
        var slots: [String: Slot] = [:]
        for alias in aliases {
            for name in alias.deployments where slots[name] == nil {
                guard let (deployment, provider) = deployments[name] else {
                    throw RouterError(description: "alias '\(alias.name)' names the unknown deployment '\(name)'")
                }
                slots[name] = Slot(deployment: deployment, provider: provider, breaker: CircuitBreaker(policy: deployment.breaker))
            }
            guard !alias.deployments.isEmpty else { throw RouterError(description: "alias '\(alias.name)' has no deployments") }
            routes[alias.name] = Route(alias: alias, names: alias.deployments)
        }
        self.state = Mutex(State(routes: routes, slots: slots))
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
        let slots = state.withLock { state in state.routes[request.model]?.names.compactMap { name in state.slots[name].map { (name, $0.provider) } } ?? [] }
        for (name, provider) in slots {
            if let (field, reason) = provider.unsupported(request) { return (name, field, reason) }
        }
        return nil
    }

    /// Whether an alias is served.
    public func serves(_ alias: String) -> Bool { names.contains(alias) }

    /// Whether every deployment of `alias` speaks a protocol with an embeddings endpoint (OpenAI-compatible,
    /// or the mock's built-in embedder).
    public func embeds(_ alias: String) -> Bool {
        state.withLock { state in
            guard let route = state.routes[alias] else { return false }
            return route.names.allSatisfy { state.slots[$0].map { $0.deployment.kind != .anthropic } ?? false }
        }
    }

    /// The names of the deployments that serve an alias, in order.
    public func deployments(of alias: String) -> [String] {
        state.withLock { $0.routes[alias]?.names ?? [] }
    }

    /// What to do when an answer of this alias breaks after output.
    public func interruptPolicy(for alias: String) -> ModelAlias.InterruptPolicy {
        state.withLock { $0.routes[alias]?.alias.onInterrupt ?? .retry }
    }

    /// Called (outside any lock) whenever a slot frees, so that waiting work can be claimed.
    public func whenCapacityFrees(_ handler: @escaping @Sendable () -> Void) {
        let boxed = Handler(handler)
        onCapacity.withLock { $0 = boxed }
    }

    /// Sets this node's share of every deployment's caps (a cluster of `nodes`, this one `rank`);
    /// waiting work is looked at again when the share grows.
    public func share(nodes: Int, rank: Int) {
        let share = Share(nodes: max(1, nodes), rank: min(max(0, rank), max(0, nodes - 1)))
        let grew = state.withLock { state -> Bool in
            defer { state.share = share }
            return state.share != share
        }
        if grew { onCapacity.withLock { $0 }?.call() }
    }

    /// This node's share of the caps.
    public var currentShare: Share { state.withLock { $0.share } }

    /// Reserves a call on the best deployment of `alias` that is healthy and has room, preferring
    /// deployments not in `avoiding` (those a job already failed on); nil when none has room now.
    public func reserve(alias: String, avoiding: Set<String> = [], now: Date = Date()) -> Lease? {
        state.withLock { state -> Lease? in
            guard let route = state.routes[alias] else { return nil }
            let share = state.share
            var open: [String] = []
            for name in route.names where Self.hasRoom(&state.slots[name]!, share: share, now: now) { open.append(name) }
            let fresh = open.filter { !avoiding.contains($0) }
            let candidates = fresh.isEmpty ? open : fresh
            let chosen: String?
            switch route.alias.strategy {
            case .ordered:
                chosen = candidates.first
            case .weighted:
                let weights = Dictionary(candidates.map { ($0, max(0, state.slots[$0]!.deployment.weight)) }, uniquingKeysWith: { first, _ in first })
                let weight = { (name: String) in weights[name] ?? 0 }
                let total = candidates.reduce(0) { $0 + weight($1) }
                if total <= 0 {
                    chosen = candidates.first
                } else {
                    var pick = Double.random(in: 0..<total)
                    chosen = candidates.first { name in
                        pick -= weight(name)
                        return pick < 0
                    } ?? candidates.last
                }
            }
            guard let name = chosen, state.slots[name]!.breaker.admit(now: now) else { return nil }
            state.slots[name]!.inFlight += 1
            if state.slots[name]!.deployment.requestsPerMinute != nil { state.slots[name]!.requests.append(now) }
            let slot = state.slots[name]!
            return Lease(alias: alias, deployment: slot.deployment, provider: slot.provider)
        }
    }

    static func hasRoom(_ slot: inout Slot, share: Share, now: Date) -> Bool {
        let minuteAgo = now.addingTimeInterval(-60)
        while let first = slot.requests.first, first <= minuteAgo { slot.requests.removeFirst() }
        while let first = slot.tokens.first, first.0 <= minuteAgo { slot.tokens.removeFirst() }
        if let cool = slot.coolUntil, cool > now { return false }
        if slot.inFlight >= share.part(of: slot.deployment.maxInFlight) { return false }
        if let rpm = slot.deployment.requestsPerMinute, slot.requests.count >= share.part(of: rpm) { return false }
        if let tpm = slot.deployment.tokensPerMinute, slot.tokens.reduce(0, { $0 + $1.1 }) >= share.part(of: tpm) { return false }
        return slot.breaker.canAdmit(now: now)
    }

    /// Calls `handler` with a deployment and the time until which this node keeps it aside, whenever a
    /// provider's `Retry-After` or an opening breaker sets it aside (a cluster shares these).
    public func whenCoolingDown(_ handler: @escaping @Sendable (_ deployment: String, _ until: Date) -> Void) {
        onCoolDown.withLock { $0 = CoolDownHandler(handler) }
    }

    /// Keeps a deployment aside until `until` (a cool-down another node heard from the same account).
    public func coolDown(_ deployment: String, until: Date) {
        state.withLock { state in
            guard var slot = state.slots[deployment], until > (slot.coolUntil ?? .distantPast) else { return }
            slot.coolUntil = until
            state.slots[deployment] = slot
        }
    }

    /// Ends a call: frees its slot and records its outcome.
    public func release(_ lease: Lease, outcome: Outcome, now: Date = Date()) {
        let aside = state.withLock { state -> Date? in
            let name = lease.deployment.name
            guard let route = state.routes[lease.alias], var slot = state.slots[name] else { return nil }
            let before = max(slot.coolUntil ?? .distantPast, slot.breaker.reopensAt ?? .distantPast)
            let ejected = route.names.filter { $0 != name && state.slots[$0]?.breaker.reopensAt.map { $0 > now } == true }.count
            let mayOpen = Double(ejected + 1) <= route.alias.maxEjectedShare * Double(route.names.count)
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
            state.slots[name] = slot
            let after = max(slot.coolUntil ?? .distantPast, slot.breaker.reopensAt ?? .distantPast)
            return after > before && after > now ? after : nil
        }
        if let aside { onCoolDown.withLock { $0 }?.call(lease.deployment.name, aside) }
        onCapacity.withLock { $0 }?.call()
    }

    /// The earliest time a deployment of `alias` without room now may have room again (a breaker's
    /// cool-down, a `Retry-After`, a per-minute window), or nil when only a release can free one.
    public func nextAvailability(for alias: String, now: Date = Date()) -> Date? {
        state.withLock { state -> Date? in
            guard let route = state.routes[alias] else { return nil }
            var times: [Date] = []
            for slot in route.names.compactMap({ state.slots[$0] }) {
                if let until = slot.breaker.reopensAt, until > now { times.append(until) }
                if let cool = slot.coolUntil, cool > now { times.append(cool) }
                if let rpm = slot.deployment.requestsPerMinute, slot.requests.count >= state.share.part(of: rpm), let first = slot.requests.first {
                    times.append(first.addingTimeInterval(60))
                }
                if slot.deployment.tokensPerMinute != nil, let first = slot.tokens.first { times.append(first.0.addingTimeInterval(60)) }
            }
            return times.min()
        }
    }

    /// Every deployment's state, by alias (a deployment that serves two aliases is listed under each).
    public func status(now: Date = Date()) -> [Status] {
        state.withLock { state in
            state.routes.keys.sorted().flatMap { alias in
                state.routes[alias]!.names.compactMap { name -> Status? in
                    guard var breaker = state.slots[name]?.breaker, let slot = state.slots[name] else { return nil }
                    breaker.refresh(now: now)
                    return Status(
                        alias: alias, deployment: name, inFlight: slot.inFlight, maxInFlight: state.share.part(of: slot.deployment.maxInFlight),
                        breaker: breaker.state.level, coolingUntil: slot.coolUntil.flatMap { $0 > now ? $0 : nil })
                }
            }
        }
    }
}
