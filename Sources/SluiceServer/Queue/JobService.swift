import Foundation
import Logging
import SluiceCore
import SluiceProviders
import SluiceStore

/// The life of jobs: accept (durable before acknowledged), run through a provider, stream, retry,
/// cancel, expire, recover after a restart. The one place that changes a job's state.
final class JobService: Sendable {
    let store: any JobStore & StreamLog
    let hub: StreamHub
    let scheduler: Scheduler
    let router: ModelRouter
    let configuration: SluiceConfiguration
    let logger: Logger
    var backoff: Backoff {
        Backoff(base: configuration.queue.backoffBaseMs / 1000, cap: configuration.queue.backoffMaxMs / 1000)
    }

    init(store: any JobStore & StreamLog, router: ModelRouter, configuration: SluiceConfiguration, logger: Logger) {
        self.store = store
        self.hub = StreamHub(log: store)
        self.scheduler = Scheduler(maxRunningPerUser: configuration.queue.maxRunningPerUser)
        self.router = router
        self.configuration = configuration
        self.logger = logger
    }

    // MARK: Accepting

    /// Accepts a validated request as a job; returns once it is durable and queued.
    func submit(_ request: ChatRequest, owner: Principal, now: Date = Date()) async throws -> Job {
        guard !scheduler.isStopped else { throw SluiceError(.shuttingDown, retryAfter: 5) }
        let job = Job(
            id: Job.newID(), owner: owner, priority: owner.priorityClass, request: request,
            createdAt: now, deadline: now.addingTimeInterval(configuration.queue.deadlineSeconds))
        hub.open(job.id)
        try await store.insert(job)
        scheduler.enqueue(job, now: now)
        return job
    }

    /// Reads a job its owner may see; anyone else gets `job_not_found`.
    func job(_ id: String, for principal: Principal) async throws -> Job {
        guard let job = try await store.job(id: id), principal.owns(job.owner) else {
            throw SluiceError(.jobNotFound, details: ["id": String(id.prefix(64))])
        }
        return job
    }

    /// Cancels a job: a queued one ends at once, a running one stops its provider call. Returns the job
    /// as it is afterwards; a job that already ended is returned unchanged.
    func cancel(_ id: String, for principal: Principal) async throws -> Job {
        let job = try await job(id, for: principal)
        guard !job.state.isTerminal else { return job }
        switch scheduler.cancel(id) {
        case .dequeued(var queued):
            try await end(&queued, .cancelled, event: .error(code: SluiceError.Code.jobCancelled.rawValue, message: "cancelled by its owner"))
            return queued
        case .signalled:
            for await _ in try await hub.subscribe(id, after: Int.max - 1) {}
            return try await self.job(id, for: principal)
        case .notHere:
            return job
        }
    }

    // MARK: Running

    enum Outcome: Sendable {
        case finished(reason: String, usage: Usage)
        case failed(any Error)
        case stopped(StopReason)
    }

    /// Runs one attempt of a job a worker took from the scheduler.
    func execute(_ claimed: Job, control: RunControl) async {
        var job = claimed
        defer { scheduler.finished(job) }
        let now = Date()
        if job.deadline <= now {
            await endLogged(&job, .expired, event: expiredEvent)
            return
        }
        job.state = .running
        job.attempt += 1
        job.startedAt = now
        job.notBefore = nil
        do {
            try await store.save(job, appending: [])
        } catch {
            logger.error("could not mark job running", metadata: ["sluice.job": "\(job.id)", "error": "\(error)"])
            job.state = .queued
            job.attempt -= 1
            job.notBefore = now.addingTimeInterval(backoff.delay(retry: 1))
            scheduler.enqueue(job)
            return
        }
        guard let route = router.route(for: job.request.model) else {
            await endLogged(&job, .failed, event: .error(code: SluiceError.Code.modelNotFound.rawValue, message: "model no longer served"))
            return
        }
        let attempt = Attempt()
        let current = job
        let outcome = await withTaskGroup(of: Outcome?.self) { group in
            group.addTask { await self.consume(route, job: current, attempt: attempt) }
            group.addTask { await control.waitForStop().map { .stopped($0) } }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .stopped(.shutdown)
        }
        await settle(&job, outcome: outcome, attempt: attempt)
    }

    private func consume(_ route: ModelRouter.Route, job: Job, attempt: Attempt) async -> Outcome {
        do {
            for try await event in route.provider.stream(job.request, upstreamModel: route.upstreamModel) {
                switch event {
                case .delta(let text):
                    let chunk = hub.publish(.delta(text), to: job.id)
                    if attempt.add(chunk, text: text) {
                        let batch = attempt.pending
                        try await store.append(batch, to: job.id)
                        attempt.flushed(through: batch.last?.seq ?? 0)
                    }
                case .finish(let reason, let usage):
                    return .finished(reason: reason, usage: usage)
                }
            }
            return .failed(ProviderError(.interrupted, reason: "the provider's stream ended without a finish"))
        } catch {
            return .failed(error)
        }
    }

    private func settle(_ job: inout Job, outcome: Outcome, attempt: Attempt) async {
        switch outcome {
        case .finished(let reason, let usage):
            job.result = JobResult(text: attempt.text, finishReason: reason, usage: usage)
            await endLogged(&job, .succeeded, event: .done(finishReason: reason, usage: usage, cache: "miss"), pending: attempt.pending)
        case .stopped(.cancelled):
            await endLogged(
                &job, .cancelled, event: .error(code: SluiceError.Code.jobCancelled.rawValue, message: "cancelled by its owner"),
                pending: attempt.pending)
        case .stopped(.shutdown):
            job.state = .queued
            do {
                try await store.save(job, appending: attempt.pending)
            } catch {
                logger.error("could not checkpoint job at shutdown", metadata: ["sluice.job": "\(job.id)", "error": "\(error)"])
            }
        case .failed(let error):
            let providerError = error as? ProviderError
            let retryable = providerError.map { error in
                guard let status = error.status else { return true }
                return status == 408 || status == 429 || status >= 500
            } ?? false
            if retryable, job.attempt < configuration.queue.maxAttempts {
                var pending = attempt.pending
                if attempt.produced {
                    let reset = hub.publish(.reset, to: job.id)
                    pending.append(reset)
                }
                let now = Date()
                job.state = .queued
                job.notBefore = now.addingTimeInterval(backoff.delay(retry: job.attempt))
                job.deadline = max(job.deadline, job.notBefore!.addingTimeInterval(configuration.queue.deadlineSeconds))
                do {
                    try await store.save(job, appending: pending)
                    scheduler.enqueue(job, now: now)
                } catch {
                    logger.error("could not re-queue job", metadata: ["sluice.job": "\(job.id)", "error": "\(error)"])
                }
                return
            }
            let reason = providerError?.reason ?? "unexpected error"
            let code: SluiceError.Code = attempt.produced ? .streamInterrupted : .providerError
            job.failure = JobFailure(code: code.rawValue, message: SluiceError(code, details: ["reason": reason]).message(language: .en))
            await endLogged(&job, .failed, event: .error(code: code.rawValue, message: job.failure!.message), pending: attempt.pending)
        }
    }

    // MARK: Ending

    var expiredEvent: StreamEvent {
        let error = SluiceError(.deadlineExceeded, details: ["seconds": String(Int(configuration.queue.deadlineSeconds))])
        return .error(code: error.code.rawValue, message: error.message(language: .en))
    }

    /// Expires a job that waited past its deadline.
    func expire(_ job: Job) async {
        var job = job
        await endLogged(&job, .expired, event: expiredEvent)
    }

    private func endLogged(_ job: inout Job, _ state: JobState, event: StreamEvent, pending: [StreamChunk] = []) async {
        do {
            try await end(&job, state, event: event, pending: pending)
        } catch {
            logger.error("could not end job", metadata: ["sluice.job": "\(job.id)", "error": "\(error)"])
        }
    }

    /// Ends a job: its final state and its last event become durable together, then reach subscribers.
    private func end(_ job: inout Job, _ state: JobState, event: StreamEvent, pending: [StreamChunk] = []) async throws {
        job.state = state
        job.finishedAt = Date()
        if case .error(let code, let message) = event, job.failure == nil {
            job.failure = JobFailure(code: code, message: message)
        }
        let chunk = hub.number(event, of: job.id)
        try await store.save(job, appending: pending + [chunk])
        hub.deliver(chunk, to: job.id)
    }

    // MARK: Recovering

    /// Re-queues the work a previous run left: queued jobs as they were, running ones with the attempt
    /// counted and a `reset` so that followers drop partial output. Sequence numbers skip past anything
    /// the previous run may have sent without storing.
    func recover() async throws -> Int {
        let jobs = try await store.unfinishedJobs().sorted { $0.createdAt < $1.createdAt }
        let now = Date()
        for var job in jobs {
            let stored = try await store.chunks(of: job.id, after: 0)
            let lastSeq = stored.last?.seq ?? 0
            let wasRunning = job.state == .running
            let partial = stored.reversed().prefix { $0.event != .reset }.contains { if case .delta = $0.event { true } else { false } }
            var nextSeq = lastSeq + 1 + (wasRunning ? Attempt.flushCount : 0)
            if wasRunning || partial {
                if wasRunning, job.attempt >= configuration.queue.maxAttempts {
                    hub.open(job.id, nextSeq: nextSeq)
                    let reason = "the node running it stopped, and its attempts are used up"
                    await endLogged(&job, .failed, event: .error(code: SluiceError.Code.providerError.rawValue, message: reason))
                    continue
                }
                job.state = .queued
                job.deadline = max(job.deadline, now.addingTimeInterval(configuration.queue.deadlineSeconds))
                try await store.save(job, appending: [StreamChunk(seq: nextSeq, event: .reset)])
                nextSeq += 1
            }
            hub.open(job.id, nextSeq: nextSeq)
            scheduler.enqueue(job, now: now)
        }
        return jobs.count
    }

    /// Deletes jobs and streams that ended longer ago than the retention.
    func sweep(now: Date = Date()) async {
        do {
            let removed = try await store.deleteFinished(before: now.addingTimeInterval(-configuration.retention.streamSeconds))
            if removed > 0 { logger.debug("swept old jobs", metadata: ["sluice.count": "\(removed)"]) }
        } catch {
            logger.error("retention sweep failed", metadata: ["error": "\(error)"])
        }
    }
}
