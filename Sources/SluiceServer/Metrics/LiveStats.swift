import Foundation
import SluiceCore
import Synchronization

/// What the dashboard shows that the Prometheus registry cannot give back cheaply, since the node
/// started: each deployment's calls, failures and its latest times to first token; cache lookups and
/// hits by layer, and the tokens hits saved.
final class LiveStats: Sendable {
    /// Times to first token kept per deployment (the latest ones), for the percentiles.
    static let samples = 512

    struct Deployment: Sendable {
        var calls = 0
        var errors = 0
        /// Seconds, a ring of the latest `samples`.
        var firstTokens: [Double] = []
        var next = 0

        /// The `p`-th percentile (0…1) of the kept times to first token, in milliseconds.
        func firstTokenMilliseconds(at p: Double) -> Double? {
            guard !firstTokens.isEmpty else { return nil }
            let sorted = firstTokens.sorted()
            // Nearest rank: the smallest sample with at least `p` of them at or below it.
            let rank = Int((Double(sorted.count) * p).rounded(.up))
            return sorted[min(sorted.count, max(1, rank)) - 1] * 1000
        }
    }

    struct Layer: Sendable {
        var lookups = 0
        var hits = 0
    }

    struct State: Sendable {
        var deployments: [String: Deployment] = [:]
        var layers: [String: Layer] = [:]
        var savedTokens = 0
    }

    private let state = Mutex(State())

    /// A provider call ended; a cancelled call or the request's own fault is not the provider's error.
    func call(deployment: String, outcome: String) {
        state.withLock { state in
            state.deployments[deployment, default: Deployment()].calls += 1
            if !["success", "cancelled", "request_error"].contains(outcome) { state.deployments[deployment, default: Deployment()].errors += 1 }
        }
    }

    /// An attempt's first token, `seconds` after the call started.
    func firstToken(deployment: String, seconds: Double) {
        state.withLock { state in
            var stats = state.deployments[deployment, default: Deployment()]
            if stats.firstTokens.count < Self.samples {
                stats.firstTokens.append(seconds)
            } else {
                stats.firstTokens[stats.next] = seconds
                stats.next = (stats.next + 1) % Self.samples
            }
            state.deployments[deployment] = stats
        }
    }

    /// A cache lookup in a layer (`exact`, `semantic`).
    func lookup(layer: String, hit: Bool) {
        state.withLock { state in
            state.layers[layer, default: Layer()].lookups += 1
            if hit { state.layers[layer, default: Layer()].hits += 1 }
        }
    }

    /// An answer served from the cache, which would have cost these tokens.
    func saved(tokens: Int) {
        state.withLock { $0.savedTokens += max(0, tokens) }
    }

    var current: State { state.withLock { $0 } }
}
