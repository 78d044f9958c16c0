import Foundation
import Logging
import Synchronization
import SluiceCache
import SluiceCore
import SluiceProviders
import SluiceStore
import Tracing

/// Running a job: one attempt through a provider, its stream, and what follows it (done, retry, failure).
extension JobService {
    enum Outcome: Sendable {
        case finished(reason: String, usage: Usage, fingerprint: String?)
        case failed(any Error)
        case stopped(StopReason)
    }

    /// Runs one attempt of a job a worker took from the scheduler, on the provider slot it reserved.
    func execute(_ claim: Scheduler.Claim) async {
        var job = claim.job
        let lease = claim.lease
        defer { scheduler.finished(job, control: claim.control) }
        let now = Date()
        if job.deadline <= now {
            router.release(lease, outcome: .cancelled)
            await expire(job)
            return
        }
        job.state = .running
        job.attempt += 1
        job.startedAt = now
        job.notBefore = nil
        job.deployment = lease.deployment.name
        if job.attempt == 1 { metrics.queueWait(priority: job.priority.name, seconds: now.timeIntervalSince(job.createdAt)) }
        let attempt = Attempt()
        let current = job
        // Marked running while the provider is asked (after the job's own insert, when that is still
        // committing; not at all when the insert stored it running): the first token waits for this
        // commit, not the call for it.
        let overlaps = inserts.tracks(current.id)
        let marked = Task { [store, inserts] in
            switch await inserts.insert(of: current.id) {
            case .failed: throw InsertFailed()
            case .committed(let markedRunning): if !markedRunning { try await store.save(current, appending: []) }
            }
        }
        // A job that waited in the store is marked before the provider is asked: while the store fails,
        // its retries must not call (and be billed by) the provider.
        if !overlaps, case .failure(let error) = await marked.result {
            unmarked(job, error: error, lease: lease, now: now)
            return
        }
        // The request's trace goes on here: its wait in the queue, then this attempt and what ends it.
        let trace = TraceHeaders.context(from: job.trace)
        if job.attempt == 1 {
            let createdAt = UInt64(max(0, job.createdAt.timeIntervalSince1970) * 1e9)
            startSpan("queue wait", context: trace, at: DefaultTracerClock.Instant(nanosecondsSinceEpoch: createdAt)).end()
        }
        let span = startSpan("provider attempt", context: trace, ofKind: .client)
        span.attributes["sluice.job"] = job.id
        span.attributes["sluice.deployment"] = lease.deployment.name
        span.attributes["sluice.attempt"] = job.attempt
        let outcome = await ServiceContext.withValue(span.context) {
            await withTaskGroup(of: Outcome?.self) { group in
                group.addTask { await self.consume(lease, job: current, attempt: attempt, started: now, marked: marked) }
                group.addTask { await claim.control.waitForStop().map { .stopped($0) } }
                group.addTask { await Self.watch(attempt, timeouts: lease.deployment.timeouts, started: now) }
                group.addTask {
                    // A failed mark stops the call at once; otherwise this waits with the others.
                    if case .failure(let error) = await marked.result { return .failed(error) }
                    try? await Task.sleep(for: .seconds(1_000_000))
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first ?? .stopped(.shutdown)
            }
        }
        if case .failure(let error) = await marked.result {
            span.end()
            unmarked(job, error: error, lease: lease, now: now)
            return
        }
        switch outcome {
        case .finished(let reason, let usage, _):
            span.attributes["sluice.outcome"] = "success"
            span.attributes["sluice.finish_reason"] = reason
            span.attributes["sluice.prompt_tokens"] = usage.promptTokens
            span.attributes["sluice.completion_tokens"] = usage.completionTokens
        case .failed(let error):
            span.attributes["sluice.outcome"] = "failure"
            if let failure = error as? ProviderError, let status = failure.status { span.attributes["http.response.status_code"] = status }
            span.setStatus(SpanStatus(code: .error, message: String(describing: type(of: error))))
        case .stopped(let reason):
            span.attributes["sluice.outcome"] = "\(reason)"
        }
        span.end()
        await ServiceContext.withValue(trace) { await settle(&job, outcome: outcome, attempt: attempt, lease: lease) }
    }

    /// An attempt whose job could not be marked running: a job never stored (its insert failed) is
    /// dropped unseen — its client was told so; one another node took (a lost lease) is left to it, as
    /// `settle` does; one still queued in the store waits its turn again, a second at least while the
    /// store is down.
    func unmarked(_ job: Job, error: any Error, lease: ProviderRouter.Lease, now: Date) {
        router.release(lease, outcome: .cancelled)
        if error is InsertFailed { return }
        if StoreFailure.isStoreError(error) {
            health.failed(error)
            metrics.storeWriteFailed()
        }
        lost(job, error: error, doing: "could not mark job running")
        // Queued again here with its old fence, every mark would be refused again, for good.
        if error is LeaseLost { return }
        var job = job
        job.state = .queued
        job.attempt -= 1
        job.notBefore = now.addingTimeInterval(health.isUp ? backoff.delay(retry: 1) : max(1, backoff.delay(retry: 1)))
        scheduler.enqueue(job)
    }

    /// Streams the provider's answer into the job's stream; nothing is shown before the job is `marked`
    /// running in the store.
    func consume(_ lease: ProviderRouter.Lease, job: Job, attempt: Attempt, started: Date, marked: Task<Void, any Error>) async -> Outcome {
        do {
            for try await event in lease.provider.stream(job.request, upstreamModel: lease.deployment.model) {
                if !attempt.produced { try await marked.value }
                let output: StreamEvent
                switch event {
                case .delta(let text): output = .delta(text)
                case .choice(let piece): output = .choice(piece)
                case .finish(let reason, let usage, let fingerprint):
                    let estimated = usage ?? Usage(
                        promptTokens: job.request.estimatedPromptTokens, completionTokens: Usage.estimateTokens(attempt.text))
                    return .finished(reason: reason, usage: estimated, fingerprint: fingerprint)
                }
                let chunk = hub.publish(output, to: job.id)
                if !attempt.produced { metrics.providerFirstToken(deployment: lease.deployment.name, seconds: Date().timeIntervalSince(started)) }
                if job.attempt == 1, !attempt.produced {
                    // What a user waits for: from acceptance (the queue included) to the first token.
                    metrics.firstToken(model: job.request.model, seconds: Date().timeIntervalSince(job.createdAt))
                }
                if attempt.add(output: chunk) {
                    let batch = attempt.pending
                    try await store.append(batch, to: job.id, fence: job.fence)
                    attempt.flushed(through: batch.last?.seq ?? 0)
                }
            }
            return .failed(ProviderError(.interrupted, reason: "the provider's stream ended without a finish"))
        } catch {
            return .failed(error)
        }
    }

    /// Fails the attempt when the provider is too slow: no first token, too long a gap, too long in all.
    static func watch(_ attempt: Attempt, timeouts: Deployment.Timeouts, started: Date) async -> Outcome? {
        let total = started.addingTimeInterval(timeouts.total)
        while true {
            let last = attempt.lastOutput
            let gap = last.map { $0.addingTimeInterval(timeouts.idle) } ?? started.addingTimeInterval(timeouts.firstToken)
            let deadline = min(gap, total)
            let wait = deadline.timeIntervalSinceNow
            if wait <= 0, attempt.lastOutput == last {
                let reason = deadline == total ? "the answer took longer than \(timeouts.total) s"
                    : last == nil ? "no first token within \(timeouts.firstToken) s" : "no token for \(timeouts.idle) s"
                return .failed(ProviderError(.timeout, reason: reason))
            }
            guard (try? await Task.sleep(for: .milliseconds(max(1, Int(wait * 1000))))) != nil else { return nil }
        }
    }

    func settle(_ job: inout Job, outcome: Outcome, attempt: Attempt, lease: ProviderRouter.Lease) async {
        let alias = lease.alias
        let deployment = lease.deployment.name
        if case .failed(let error) = outcome, error is LeaseLost {
            router.release(lease, outcome: .cancelled)
            lost(job, error: error, doing: "")
            return
        }
        if case .failed(let error) = outcome, StoreFailure.isStoreError(error) {
            // The store, not the provider, failed (a chunk batch could not be saved): the attempt does not
            // count against the provider or the job, which waits its turn again behind a reset.
            router.release(lease, outcome: .cancelled)
            health.failed(error)
            job.attempt -= 1
            await requeue(&job, attempt: attempt, retryAfter: nil)
            return
        }
        switch outcome {
        case .finished(let reason, let usage, let fingerprint):
            let cost = lease.deployment.prices.cost(of: usage)
            router.release(lease, outcome: .success(tokens: usage.totalTokens))
            metrics.providerCall(alias: alias, deployment: deployment, outcome: "success")
            metrics.usage(model: alias, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, cost: cost)
            let answer = attempt.answer
            job.result = JobResult(
                text: answer.text, finishReason: reason, usage: usage, cost: cost, pieces: answer.isPlainText ? nil : answer.pieces,
                fingerprint: fingerprint)
            let queueMs = job.startedAt.map { Int(max(0, $0.timeIntervalSince(job.createdAt)) * 1000) }
            await endLogged(
                &job, .succeeded, event: .done(finishReason: reason, usage: usage, cache: "miss", queueMs: queueMs, fingerprint: fingerprint),
                pending: attempt.pending)
        case .stopped(.cancelled):
            router.release(lease, outcome: .cancelled)
            metrics.providerCall(alias: alias, deployment: deployment, outcome: "cancelled")
            // The provider bills what it streamed: what was said so far counts against the limits and the
            // budget, so that cancelling just before the end is no way around them.
            let answer = attempt.answer
            let usage = Usage(promptTokens: job.request.estimatedPromptTokens, completionTokens: Usage.estimateTokens(answer.text))
            job.result = JobResult(
                text: answer.text, finishReason: "cancelled", usage: usage, cost: lease.deployment.prices.cost(of: usage),
                pieces: answer.isPlainText ? nil : answer.pieces)
            await endLogged(
                &job, .cancelled, event: .error(code: SluiceError.Code.jobCancelled.rawValue, message: "cancelled by its owner"),
                pending: attempt.pending)
        case .stopped(.shutdown):
            router.release(lease, outcome: .cancelled)
            job.state = .queued
            do {
                try await store.save(job, appending: attempt.pending)
            } catch {
                logger.error("could not checkpoint job at shutdown", metadata: ["sluice.job": "\(job.id)", "error": "\(error)"])
            }
        case .failed(let error):
            var failure = error as? ProviderError ?? ProviderError(.interrupted, reason: "unexpected provider failure")
            // A provider's wait is capped (`providers.maxRetryAfterSeconds`): a `Retry-After: 86400` does not park a job for a day.
            failure.retryAfter = failure.retryAfter.map { min($0, configuration.providers.maxRetryAfterSeconds) }
            if failure.isRequestFault {
                router.release(lease, outcome: .requestFault)
                metrics.providerCall(alias: alias, deployment: deployment, outcome: "request_error")
            } else {
                router.release(lease, outcome: .failure(retryAfter: failure.retryAfter))
                metrics.providerCall(alias: alias, deployment: deployment, outcome: failure.code == .status ? "status_\(failure.status ?? 0)" : failure.code.rawValue)
            }
            logger.warning("provider call failed", metadata: [
                "sluice.job": "\(job.id)", "sluice.deployment": "\(deployment)", "sluice.failure": "\(failure.description)",
            ])
            job.tried = Array(Set(job.tried ?? []).union([deployment])).sorted()
            let retryMidStream = router.interruptPolicy(for: alias) == .retry
            let retry = !failure.isRequestFault && job.attempt < configuration.queue.maxAttempts && (!attempt.produced || retryMidStream)
            if retry {
                await requeue(&job, attempt: attempt, retryAfter: failure.retryAfter)
                return
            }
            let code: SluiceError.Code = failure.isRequestFault ? .upstreamRejected : attempt.produced ? .streamInterrupted : .providerError
            job.failure = JobFailure(code: code.rawValue, message: SluiceError(code, details: ["reason": failure.reason]).message(language: .en))
            await endLogged(&job, .failed, event: .error(code: code.rawValue, message: job.failure!.message), pending: attempt.pending)
        }
    }

    /// Queues a failed attempt again: at once when a deployment it has not failed on serves its alias,
    /// else after a backoff with full jitter, no sooner than the provider's `Retry-After`. Partial output
    /// is announced as void by a `reset`.
    func requeue(_ job: inout Job, attempt: Attempt, retryAfter: Double?) async {
        var pending = attempt.pending
        if attempt.produced { pending.append(hub.publish(.reset, to: job.id)) }
        let now = Date()
        let untried = router.deployments(of: job.request.model).contains { !(job.tried ?? []).contains($0) }
        let delay = untried ? 0 : max(backoff.delay(retry: job.attempt), retryAfter ?? 0)
        job.state = .queued
        job.notBefore = delay > 0 ? now.addingTimeInterval(delay) : nil
        job.deadline = max(job.deadline, now.addingTimeInterval(delay + configuration.queue.deadlineSeconds))
        do {
            let queued = job
            try await durably(job, doing: "could not re-queue a job") { try await store.save(queued, appending: pending) }
            scheduler.enqueue(job, now: now)
        } catch {
            lost(job, error: error, doing: "could not re-queue job")
        }
    }
}
