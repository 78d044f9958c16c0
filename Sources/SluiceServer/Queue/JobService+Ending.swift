import Foundation
import Logging
import Synchronization
import SluiceCache
import SluiceCore
import SluiceProviders
import SluiceStore
import Tracing

/// Ending a job: its final state and terminal event durable together, then delivered.
extension JobService {
    var expiredEvent: StreamEvent {
        let error = SluiceError(.deadlineExceeded, details: ["seconds": String(Int(configuration.queue.deadlineSeconds))])
        return .error(code: error.code.rawValue, message: error.message(language: .en))
    }

    /// Expires a job that waited past its deadline.
    func expire(_ job: Job) async {
        var job = job
        // A job whose insert is under way expires once it is stored, and not at all if it never is.
        if case .failed = await inserts.insert(of: job.id) { return }
        await endLogged(&job, .expired, event: expiredEvent)
    }

    func endLogged(_ job: inout Job, _ state: JobState, event: StreamEvent, pending: [StreamChunk] = []) async {
        do {
            try await end(&job, state, event: event, pending: pending)
        } catch {
            lost(job, error: error, doing: "could not end job")
        }
    }

    /// After a failed write: a lost lease means another node holds the job now, and this one lets go.
    func lost(_ job: Job, error: any Error, doing what: String) {
        if error is LeaseLost {
            logger.warning("another node took over the job; dropping this node's attempt", metadata: ["sluice.job": "\(job.id)"])
            hub.abandon(job.id)
            if let plan = job.cache { flights.release(plan.key, leader: job.id) }
        } else {
            logger.error("\(what)", metadata: ["sluice.job": "\(job.id)", "error": "\(error)"])
        }
    }

    /// Ends a job: its final state and its last event become durable together, then reach subscribers.
    func end(_ job: inout Job, _ state: JobState, event: StreamEvent, pending: [StreamChunk] = []) async throws {
        job.state = state
        job.finishedAt = Date()
        metrics.jobEnded(state: state.rawValue)
        if case .error(let code, let message) = event, job.failure == nil {
            job.failure = JobFailure(code: code, message: message)
        }
        let chunk = hub.number(event, of: job.id)
        let settled = admission.settle(job)
        let ended = job
        try await withSpan("store commit") { span in
            span.attributes["sluice.job"] = ended.id
            span.attributes["sluice.state"] = state.rawValue
            try await durably(job, doing: "could not save the end of a job") {
                try await store.save(ended, appending: pending + [chunk], counters: settled)
            }
        }
        if let plan = job.cache {
            if state == .succeeded, plan.store, let result = job.result {
                var entry = cache.entry(
                    key: plan.key, tenant: job.owner.tenant, model: job.request.model, namespace: plan.namespace, tags: plan.tags,
                    text: result.text, finishReason: result.finishReason, usage: result.usage, pieces: result.pieces,
                    fingerprint: result.fingerprint)
                do {
                    // An answer with tool calls, log probabilities or several choices is served under its exact key only.
                    entry.semantic = result.pieces == nil ? plan.semantic : nil
                    try await cache.store(entry)
                } catch {
                    logger.error("could not store a cache entry", metadata: ["error": "\(error)"])
                }
            }
            flights.release(plan.key, leader: job.id)
        }
        hub.deliver(chunk, to: job.id)
        if job.callback != nil { await callbacks.jobEnded(job) }
    }
}
