import Foundation
import SluiceCore
import SluiceProviders
import SluiceStore
import Synchronization

/// The dashboard's one view of the node, `GET /admin/api/events` sends it when it changes: the tier and
/// mode, the queue by class, each deployment's breaker, calls in flight against its cap, error rate and
/// time to first token, the cache's hits and what they saved, and today's top users and tenants. Built
/// once a second per scope (the operator's, or one tenant's) however many dashboards are open, and
/// the top lists (which read the usage rollup) at most every ten seconds. A dashboard is sent a snapshot
/// only when its content changed (at most one a second), and otherwise a heartbeat, like any idle
/// event stream.
final class DashboardFeed: Sendable {
    struct Top: Sendable {
        var users: [[String: JSONValue]] = []
        var tenants: [[String: JSONValue]] = []
        /// Today's dollars per token paid to providers, to price what the cache saved.
        var dollarsPerToken = 0.0
        /// Today's requests, answers from the cache and the tokens they saved, in the scope.
        var today = UsageRow(day: "", tenant: "", user: "", model: "", deployment: "")
    }

    /// A scope's last snapshot: its content without the time, and what is sent (the content with the
    /// time it last changed).
    struct Built: Sendable {
        var content: Data
        var data: Data
    }

    /// What an open dashboard is sent.
    enum Item: Sendable {
        case snapshot(Data)
        case heartbeat
    }

    /// The dashboards open on one scope, and the one task that watches it for them.
    private struct Audience {
        var subscribers: [UInt64: AsyncStream<Item>.Continuation] = [:]
        var watcher: Task<Void, Never>?
    }

    let jobs: JobService
    private let snapshots = Mutex<[String: Built]>([:])
    private let audiences = Mutex<(next: UInt64, byScope: [String: Audience])>((0, [:]))
    private let tops = Mutex<[String: (at: ContinuousClock.Instant, top: Top)]>([:])
    static let topInterval: Duration = .seconds(10)

    /// A scope's key: a tenant's name, or one no tenant can have for the operator's view of all.
    static func scope(_ tenant: String?) -> String { tenant.map { "tenant:" + $0 } ?? "all" }
    static let topCount = 10

    /// The batches this node runs now (their progress as last saved).
    let batches: @Sendable () -> [BatchRecord]

    init(jobs: JobService, batches: @escaping @Sendable () -> [BatchRecord] = { [] }) {
        self.jobs = jobs
        self.batches = batches
    }

    /// Opens a dashboard on a scope (nil: every tenant): the latest snapshot at once, then each new one
    /// when the content changes and a heartbeat after `heartbeat` without one. One task a scope builds
    /// and compares the snapshots for every dashboard on it, so a dashboard wakes only to write — as an
    /// idle event stream does. A dashboard that falls behind gets the newest snapshot, not every one.
    func subscribe(tenant: String?, heartbeat: Duration) -> (items: AsyncStream<Item>, close: @Sendable () -> Void) {
        let scope = Self.scope(tenant)
        let (items, continuation) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .bufferingNewest(2))
        if let latest = snapshots.withLock({ $0[scope]?.data }) { continuation.yield(.snapshot(latest)) }
        let id = audiences.withLock { state -> UInt64 in
            state.next += 1
            state.byScope[scope, default: Audience()].subscribers[state.next] = continuation
            if state.byScope[scope]?.watcher == nil {
                state.byScope[scope]?.watcher = Task { [weak self] in await self?.watch(scope: scope, tenant: tenant, heartbeat: heartbeat) }
            }
            return state.next
        }
        let close: @Sendable () -> Void = { [weak self] in self?.unsubscribe(scope: scope, id: id) }
        continuation.onTermination = { _ in close() }
        return (items, close)
    }

    private func unsubscribe(scope: String, id: UInt64) {
        let (continuation, watcher) = audiences.withLock { state -> (AsyncStream<Item>.Continuation?, Task<Void, Never>?) in
            let continuation = state.byScope[scope]?.subscribers.removeValue(forKey: id)
            guard state.byScope[scope]?.subscribers.isEmpty == true else { return (continuation, nil) }
            defer { state.byScope[scope] = nil }
            return (continuation, state.byScope[scope]?.watcher)
        }
        continuation?.finish()
        watcher?.cancel()
    }

    /// Each second: the scope's snapshot, sent to its dashboards when it changed; a heartbeat otherwise.
    private func watch(scope: String, tenant: String?, heartbeat: Duration) async {
        var sent: Data?
        var lastSent = ContinuousClock.now
        while !Task.isCancelled {
            let data = await snapshot(tenant: tenant)
            let item: Item? = data != sent ? .snapshot(data) : ContinuousClock.now - lastSent >= heartbeat ? .heartbeat : nil
            if let item {
                sent = data
                lastSent = .now
                for continuation in audiences.withLock({ Array(($0.byScope[scope]?.subscribers ?? [:]).values) }) { continuation.yield(item) }
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// The snapshot for a scope (nil: every tenant), as JSON; the same bytes until its content changes
    /// (`time` says when it last did). Built by the scope's one watcher, once a second.
    func snapshot(tenant: String?) async -> Data {
        let scope = Self.scope(tenant)
        let top = await self.top(tenant: tenant)
        var object = build(tenant: tenant, top: top)
        let content = ServerSentEvents.json(JSONValue.object(object))
        if let last = snapshots.withLock({ $0[scope] }), last.content == content { return last.data }
        object["time"] = .double(jobs.admission.clock().timeIntervalSince1970)
        let data = ServerSentEvents.json(JSONValue.object(object))
        snapshots.withLock { $0[scope] = Built(content: content, data: data) }
        return data
    }

    func build(tenant: String?, top: Top) -> [String: JSONValue] {
        let now = jobs.admission.clock()
        let queue = jobs.queueWatch.current
        let live = jobs.metrics.live.current
        let deployments: [JSONValue] = jobs.router.status(now: now).map { status in
            let stats = live.deployments[status.deployment] ?? LiveStats.Deployment()
            return .object([
                "alias": .string(status.alias), "deployment": .string(status.deployment),
                "breaker": .string(["closed", "half-open", "open"][min(2, max(0, status.breaker))]),
                "in_flight": .int(Int64(status.inFlight)), "max_in_flight": .int(Int64(status.maxInFlight)),
                "cooling_seconds": .double(status.coolingUntil.map { max(0, $0.timeIntervalSince(now)) } ?? 0),
                "calls": .int(Int64(stats.calls)), "errors": .int(Int64(stats.errors)),
                "error_rate": .double(stats.calls == 0 ? 0 : Double(stats.errors) / Double(stats.calls)),
                "ttft_p50_ms": stats.firstTokenMilliseconds(at: 0.5).map { .double($0.rounded()) } ?? .null,
                "ttft_p99_ms": stats.firstTokenMilliseconds(at: 0.99).map { .double($0.rounded()) } ?? .null,
            ])
        }
        let cache: JSONValue
        if tenant == nil {
            // The node's lookups since it started. Both layers are looked up for a miss; every request
            // looks up the exact layer first.
            let lookups = live.layers["exact"]?.lookups ?? 0
            let hits = live.layers.values.reduce(0) { $0 + $1.hits }
            let rate = { (hits: Int) -> JSONValue in .double(lookups == 0 ? 0 : Double(hits) / Double(lookups)) }
            let layers = live.layers.mapValues { layer -> JSONValue in ["hits": .int(Int64(layer.hits)), "hit_rate": rate(layer.hits)] }
            cache = [
                "lookups": .int(Int64(lookups)), "hits": .int(Int64(hits)), "hit_rate": rate(hits), "layers": .object(layers),
                "saved_tokens": .int(Int64(live.savedTokens)), "saved_dollars": .double(Double(live.savedTokens) * top.dollarsPerToken),
            ]
        } else {
            // A tenant's own: today's answers from the cache among its requests, from the usage rollup.
            let day = top.today
            cache = [
                "lookups": .int(Int64(day.requests)), "hits": .int(Int64(day.cacheHits)),
                "hit_rate": .double(day.requests == 0 ? 0 : Double(day.cacheHits) / Double(day.requests)), "layers": .null,
                "saved_tokens": .int(Int64(day.savedTokens)), "saved_dollars": .double(Double(day.savedTokens) * top.dollarsPerToken),
            ]
        }
        let scope = tenant ?? ""
        let mode = jobs.admission.mode(at: now, tenant: scope)
        return [
            // The host's name for the operator; a tenant's admin sees the node's id in a cluster, none otherwise.
            "node": .string(jobs.membership?.nodeID ?? (tenant == nil ? ProcessInfo.processInfo.hostName : "")),
            "tenant": tenant.map(JSONValue.string) ?? .null,
            "tier": .string(jobs.admission.tier(at: now, tenant: scope).name), "mode": mode.map { .string($0.name) } ?? .null,
            "mode_source": .string(jobs.admission.modeSource(tenant: scope)),
            "modes": .array(jobs.configuration.admission.modes.keys.sorted().map(JSONValue.string)),
            "queue": [
                "queued": .object(QueueSnapshot.byClass(queue.queued).mapValues { .int(Int64($0)) }),
                "running": .object(QueueSnapshot.byClass(queue.running).mapValues { .int(Int64($0)) }),
                "queued_total": .int(Int64(queue.queued.reduce(0, +))), "running_total": .int(Int64(queue.running.reduce(0, +))),
                "cluster_load": jobs.membership.map { .int(Int64(max(0, $0.load.load(ordering: .relaxed)))) } ?? .null,
            ],
            "deployments": .array(deployments),
            "cache": cache,
            "top_users": .array(top.users.map(JSONValue.object)), "top_tenants": .array(top.tenants.map(JSONValue.object)),
            "batches": .array(batches().filter { tenant == nil || $0.owner.tenant == tenant }.sorted { $0.createdAt < $1.createdAt }.map { batch in
                .object([
                    "id": .string(batch.id), "tenant": .string(batch.owner.tenant), "user": .string(batch.owner.user),
                    "endpoint": .string(batch.endpoint), "status": .string(batch.status.rawValue), "total": .int(Int64(batch.total)),
                    "completed": .int(Int64(batch.completed)), "failed": .int(Int64(batch.failed)),
                    "created_at": .double(batch.createdAt.timeIntervalSince1970),
                ])
            }),
        ]
    }

    /// Today's top users and tenants by tokens, from the usage rollup (every tenant this node knows, or
    /// one), refreshed every `topInterval`. A store that cannot answer leaves the last lists standing.
    func top(tenant: String?) async -> Top {
        let scope = Self.scope(tenant)
        let now = ContinuousClock.now
        let last = tops.withLock { $0[scope] }
        if let last, now - last.at < Self.topInterval { return last.top }
        let today = UsageRoutes.day(Date())
        let tenants = tenant.map { [$0] } ?? Array(Set(jobs.configuration.effectiveTenants.map(\.name)).union(["default", "local", "operator"])).sorted()
        var users: [String: UsageRow] = [:]
        var perTenant: [String: UsageRow] = [:]
        do {
            for name in tenants {
                for row in try await jobs.store.usage(tenant: name, user: nil, from: today, to: today) {
                    users["\(row.tenant)\u{0}\(row.user)", default: UsageRow(day: today, tenant: row.tenant, user: row.user, model: "", deployment: "")].add(row)
                    perTenant[row.tenant, default: UsageRow(day: today, tenant: row.tenant, user: "", model: "", deployment: "")].add(row)
                }
            }
        } catch {
            return last?.top ?? Top()
        }
        let tokens = { (row: UsageRow) in row.promptTokens + row.completionTokens }
        let entry = { (row: UsageRow, user: Bool) -> [String: JSONValue] in
            var object: [String: JSONValue] = [
                "tenant": .string(row.tenant), "tokens": .int(Int64(tokens(row))), "cost": .double(Double(row.costMicros) / 1_000_000),
                "requests": .int(Int64(row.requests)), "cache_hits": .int(Int64(row.cacheHits)),
            ]
            if user { object["user"] = .string(row.user) }
            return object
        }
        let ranked = { (rows: [UsageRow]) in
            rows.sorted { (tokens($0), $0.requests, $0.tenant + $0.user) > (tokens($1), $1.requests, $1.tenant + $1.user) }.prefix(Self.topCount)
        }
        let paid = perTenant.values.reduce(into: (tokens: 0, micros: 0)) { $0.tokens += tokens($1); $0.micros += $1.costMicros }
        var sum = UsageRow(day: today, tenant: tenant ?? "", user: "", model: "", deployment: "")
        for row in perTenant.values { sum.add(row) }
        let top = Top(
            users: ranked(Array(users.values)).map { entry($0, true) }, tenants: ranked(Array(perTenant.values)).map { entry($0, false) },
            dollarsPerToken: paid.tokens == 0 ? 0 : Double(paid.micros) / 1_000_000 / Double(paid.tokens), today: sum)
        tops.withLock { $0[scope] = (now, top) }
        return top
    }
}
