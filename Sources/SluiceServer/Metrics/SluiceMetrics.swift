import CoreMetrics
import Foundation
import Prometheus
import Synchronization
import SluiceCore
import SluiceProviders

/// The node's metrics, through swift-metrics into its own Prometheus registry (so that several nodes in
/// one process, as in tests, keep their numbers apart). Labels never carry prompts, users or keys.
final class SluiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    /// What the dashboard reads back.
    let live = LiveStats()
    let factory: PrometheusMetricsFactory
    /// Counters and timers by label set, each made once (hot paths ask for them per request).
    private let handles = Mutex<[String: any Sendable]>([:])

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        // Waits a user feels reach the queue's deadline (minutes), far past the default top bucket (10 s).
        let waits: [Duration] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300].map { .milliseconds(Int($0 * 1000)) }
        factory.durationHistogramBuckets = [
            "sluice_time_to_first_token_seconds": waits, "sluice_queue_wait_seconds": waits, "sluice_provider_first_token_seconds": waits,
        ]
        self.factory = factory
    }

    /// A counter, made once per label set.
    private func counter(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Counter {
        handle("counter", label, dimensions) { CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory) }
    }

    /// A timer, made once per label set.
    private func timer(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Timer {
        handle("timer", label, dimensions) { CoreMetrics.Timer(label: label, dimensions: dimensions, factory: factory) }
    }

    private func handle<Handle: Sendable>(_ kind: String, _ label: String, _ dimensions: [(String, String)], make: () -> Handle) -> Handle {
        let key = kind + "|" + label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        return handles.withLock { handles in
            if let made = handles[key] as? Handle { return made }
            let made = make()
            handles[key] = made
            return made
        }
    }

    /// One provider call ended.
    func providerCall(alias: String, deployment: String, outcome: String) {
        counter("sluice_provider_calls_total", [("alias", alias), ("deployment", deployment), ("outcome", outcome)]).increment()
        live.call(deployment: deployment, outcome: outcome)
    }

    /// An attempt's first token from a deployment, `seconds` after the call started.
    func providerFirstToken(deployment: String, seconds: Double) {
        timer("sluice_provider_first_token_seconds", [("deployment", deployment)])
            .recordNanoseconds(Int64(max(0, min(seconds, 86_400)) * 1e9))
        live.firstToken(deployment: deployment, seconds: seconds)
    }

    /// An answer's tokens and cost, by model alias.
    func usage(model: String, promptTokens: Int, completionTokens: Int, cost: Double) {
        counter("sluice_tokens_total", [("model", model), ("kind", "prompt")]).increment(by: promptTokens)
        counter("sluice_tokens_total", [("model", model), ("kind", "completion")]).increment(by: completionTokens)
        FloatingPointCounter(label: "sluice_cost_dollars_total", dimensions: [("model", model)], factory: factory).increment(by: cost)
    }

    /// A cache lookup; a hit saved the tokens of the answer it served.
    func cacheLookup(layer: String, result: String, duration: Duration, saved: Int = 0) {
        counter("sluice_cache_lookups_total", [("layer", layer), ("result", result)]).increment()
        live.lookup(layer: layer, hit: result == "hit")
        if saved > 0 {
            counter("sluice_cache_saved_tokens_total", [("layer", layer)]).increment(by: saved)
            live.saved(tokens: saved)
        }
        if result == "hit" {
            let (seconds, attoseconds) = duration.components
            timer("sluice_cache_hit_seconds", [("layer", layer)])
                .recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        }
    }

    /// The cache's size.
    func cacheSize(entries: Int, bytes: Int, evictions: Int) {
        Gauge(label: "sluice_cache_entries", factory: factory).record(entries)
        Gauge(label: "sluice_cache_bytes", factory: factory).record(bytes)
        Gauge(label: "sluice_cache_evictions", factory: factory).record(evictions)
    }

    /// A job reached a final state.
    /// A write the store refused (it is retried, or the request refused).
    /// From a job's acceptance to its first token (first attempts only), by model.
    func firstToken(model: String, seconds: Double) {
        timer("sluice_time_to_first_token_seconds", [("model", model)])
            .recordNanoseconds(Int64(max(0, min(seconds, 86_400)) * 1e9))
    }

    /// How long a job waited for its first attempt, by priority class.
    func queueWait(priority: String, seconds: Double) {
        timer("sluice_queue_wait_seconds", [("class", priority)])
            .recordNanoseconds(Int64(max(0, min(seconds, 86_400)) * 1e9))
    }

    func storeWriteFailed() {
        counter("sluice_store_write_failures_total", []).increment()
    }

    /// A stream client was dropped (`slow_reader`: it fell too far behind).
    func streamDropped(reason: String) {
        counter("sluice_stream_clients_dropped_total", [("reason", reason)]).increment()
    }

    /// One attempt to deliver a callback: `delivered`, `retrying` (it failed and will be tried again),
    /// `dead` (given up: a 4xx or a day of failures) or `refused` (its address is not allowed).
    func callbackAttempt(outcome: String) {
        counter("sluice_callback_deliveries_total", [("outcome", outcome)]).increment()
    }

    func jobEnded(state: String) {
        counter("sluice_jobs_total", [("state", state)]).increment()
    }

    /// Chunks of jobs running on other nodes that this node relayed to its clients.
    func relayed(chunks: Int) {
        counter("sluice_cluster_relayed_chunks_total", []).increment(by: chunks)
    }

    /// A request refused by admission control.
    func rejected(reason: String) {
        counter("sluice_rejections_total", [("reason", reason)]).increment()
    }

    /// Quota charged at admission.
    func charged(plan: String, messages: Int, tokens: Int) {
        counter("sluice_quota_messages_total", [("plan", plan)]).increment(by: messages)
        counter("sluice_quota_reserved_tokens_total", [("plan", plan)]).increment(by: tokens)
    }

    /// The tier and mode now.
    func state(tier: Tier, mode: String?, modes: [String]) {
        Gauge(label: "sluice_tier", factory: factory).record(tier.rawValue)
        for name in Set(modes + (mode.map { [$0] } ?? [])) {
            Gauge(label: "sluice_mode", dimensions: [("mode", name)], factory: factory).record(name == mode ? 1 : 0)
        }
    }

    /// The Prometheus text, with the gauges read now: the deployments, the queue, the nodes of the
    /// cluster, and the free space where the embedded store writes (`dataDirectory`, nil on PostgreSQL).
    func render(router: ProviderRouter, queued: Int, running: Int, dataDirectory: String? = nil) -> String {
        Gauge(label: "sluice_cluster_nodes", factory: factory).record(router.currentShare.nodes)
        if let dataDirectory, let free = (try? FileManager.default.attributesOfFileSystem(forPath: dataDirectory))?[.systemFreeSize] as? NSNumber {
            Gauge(label: "sluice_store_free_bytes", factory: factory).record(free.int64Value)
        }
        for status in router.status() {
            let dimensions = [("alias", status.alias), ("deployment", status.deployment)]
            Gauge(label: "sluice_breaker_state", dimensions: dimensions, factory: factory).record(status.breaker)
            Gauge(label: "sluice_provider_in_flight", dimensions: dimensions, factory: factory).record(status.inFlight)
        }
        Gauge(label: "sluice_jobs_queued", factory: factory).record(queued)
        Gauge(label: "sluice_jobs_running", factory: factory).record(running)
        return registry.emitToString()
    }
}
