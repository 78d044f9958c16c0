import CoreMetrics
import Prometheus
import SluiceCore
import SluiceProviders

/// The node's metrics, through swift-metrics into its own Prometheus registry (so that several nodes in
/// one process, as in tests, keep their numbers apart). Labels never carry prompts, users or keys.
final class SluiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory

    init() {
        factory = PrometheusMetricsFactory(registry: registry)
    }

    /// One provider call ended.
    func providerCall(alias: String, deployment: String, outcome: String) {
        Counter(label: "sluice_provider_calls_total", dimensions: [("alias", alias), ("deployment", deployment), ("outcome", outcome)], factory: factory)
            .increment()
    }

    /// An answer's tokens and cost, by model alias.
    func usage(model: String, promptTokens: Int, completionTokens: Int, cost: Double) {
        Counter(label: "sluice_tokens_total", dimensions: [("model", model), ("kind", "prompt")], factory: factory).increment(by: promptTokens)
        Counter(label: "sluice_tokens_total", dimensions: [("model", model), ("kind", "completion")], factory: factory)
            .increment(by: completionTokens)
        FloatingPointCounter(label: "sluice_cost_dollars_total", dimensions: [("model", model)], factory: factory).increment(by: cost)
    }

    /// A job reached a final state.
    func jobEnded(state: String) {
        Counter(label: "sluice_jobs_total", dimensions: [("state", state)], factory: factory).increment()
    }

    /// A request refused by admission control.
    func rejected(reason: String) {
        Counter(label: "sluice_rejections_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    /// Quota charged at admission.
    func charged(plan: String, messages: Int, tokens: Int) {
        Counter(label: "sluice_quota_messages_total", dimensions: [("plan", plan)], factory: factory).increment(by: messages)
        Counter(label: "sluice_quota_reserved_tokens_total", dimensions: [("plan", plan)], factory: factory).increment(by: tokens)
    }

    /// The tier and mode now.
    func state(tier: Tier, mode: String?, modes: [String]) {
        Gauge(label: "sluice_tier", factory: factory).record(tier.rawValue)
        for name in Set(modes + (mode.map { [$0] } ?? [])) {
            Gauge(label: "sluice_mode", dimensions: [("mode", name)], factory: factory).record(name == mode ? 1 : 0)
        }
    }

    /// The Prometheus text, with the gauges read now.
    func render(router: ProviderRouter, queued: Int, running: Int) -> String {
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
