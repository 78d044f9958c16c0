import Foundation
import AsyncHTTPClient
import Logging
import Synchronization
import SluiceCache
import SluiceCore
import SluiceProviders
import SluiceStore

/// The life of jobs: accept (durable before acknowledged), run through a provider, stream, retry,
/// cancel, expire, recover after a restart. The one place that changes a job's state.
final class JobService: Sendable {
    let store: any JobStore & StreamLog
    let hub: StreamHub
    let scheduler: Scheduler
    let router: ProviderRouter
    let configuration: SluiceConfiguration
    let metrics: SluiceMetrics
    let admission: AdmissionController
    let cache: ExactCache
    /// Exact key → the job answering it now (single-flight).
    let inflight = Mutex<[String: String]>([:])
    let logger: Logger
    /// This node's part in a cluster sharing the store; nil on the embedded store.
    let cluster: Cluster?
    /// Counters shared with the other nodes of the cluster.
    let sharedCounters: (any SharedCounters)?
    var backoff: Backoff {
        Backoff(base: configuration.queue.backoffBaseMs / 1000, cap: configuration.queue.backoffMaxMs / 1000)
    }

    init(
        store: any JobStore & StreamLog & CacheStore, router: ProviderRouter, configuration: SluiceConfiguration, metrics: SluiceMetrics,
        clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger
    ) {
        if let queue = store as? any SharedJobQueue {
            cluster = Cluster(
                queue: queue, cacheFeed: store as? any SharedCacheFeed, leaseSeconds: configuration.cluster.leaseSeconds,
                pollInterval: .milliseconds(Int(configuration.cluster.pollSeconds * 1000)), metrics: metrics, logger: logger)
        } else {
            cluster = nil
        }
        sharedCounters = store as? any SharedCounters
        self.cache = ExactCache(configuration: configuration.cache, store: store, semantic: Self.semanticCache(configuration))
        self.store = store
        self.hub = StreamHub(log: store, remote: cluster)
        let workers = max(1, configuration.queue.workers)
        let reserved = configuration.admission.reservedBypassWorkers ?? max(1, workers / 10)
        let scheduler = Scheduler(
            maxRunningPerUser: configuration.queue.maxRunningPerUser, workers: workers, reservedForBypass: min(reserved, workers - 1), router: router)
        self.admission = AdmissionController(policy: configuration.admission, metrics: metrics, clock: clock) {
            let (queued, running) = scheduler.counts
            return queued + running
        }
        self.scheduler = scheduler
        self.router = router
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        router.whenCapacityFrees { scheduler.poke() }
        if let cluster { scheduler.onIdle.withLock { $0 = { cluster.wake() } } }
    }

    /// The semantic layer the configuration asks for, if any.
    static func semanticCache(_ configuration: SluiceConfiguration) -> SemanticCache? {
        guard configuration.cache.enabled, configuration.semantic.enabled else { return nil }
        let embedder: any Embedder
        if configuration.embedder.kind == "openai" {
            embedder = OpenAIEmbedder(
                client: HTTPClient.shared, baseURL: configuration.embedder.baseURL, model: configuration.embedder.model,
                apiKey: configuration.embedder.apiKey)
        } else {
            embedder = HashingEmbedder()
        }
        return SemanticCache(configuration: configuration.semantic, embedder: embedder)
    }

    // MARK: Accepting

    /// Accepts a validated, admitted request as a job; returns once it is durable and queued.
    func submit(
        _ request: ChatRequest, owner: Principal, id: String = Job.newID(), priority: PriorityClass? = nil,
        reservation: AdmissionLedger.Reservation? = nil, cache: CachePlan? = nil, counters: [DailyCounterDelta] = [], now: Date = Date()
    ) async throws -> Job {
        guard !scheduler.isStopped else { throw SluiceError(.shuttingDown, retryAfter: 5) }
        var job = Job(
            id: id, owner: owner, priority: priority ?? owner.priorityClass, request: request,
            createdAt: now, deadline: now.addingTimeInterval(configuration.queue.deadlineSeconds))
        job.reservation = reservation
        job.cache = cache
        cluster?.stamp(&job, freeWorkers: scheduler.idleCapacity)
        // A job left to the cluster streams from the store until a node (maybe this one) takes it.
        let runsHere = cluster == nil || job.node != nil
        if runsHere { hub.open(job.id) }
        try await store.insert(job, counters: counters)
        if runsHere {
            scheduler.enqueue(job, now: now)
        } else {
            try? await cluster?.queue.notifyQueued()
        }
        return job
    }

    /// Reads a job its owner, or a follower of it (single-flight), may see; anyone else gets `job_not_found`.
    func job(_ id: String, for principal: Principal) async throws -> Job {
        guard let job = try await store.job(id: id) else { throw SluiceError(.jobNotFound, details: ["id": String(id.prefix(64))]) }
        if principal.owns(job.owner) { return job }
        if job.owner.tenant == principal.tenant, try await store.isFollower(jobID: id, tenant: principal.tenant, user: principal.user) {
            return job
        }
        throw SluiceError(.jobNotFound, details: ["id": String(id.prefix(64))])
    }

    /// Cancels a job: a queued one ends at once, a running one stops its provider call, wherever it runs.
    /// Returns the job as it is afterwards; a job that already ended is returned unchanged.
    func cancel(_ id: String, for principal: Principal) async throws -> Job {
        let job = try await job(id, for: principal)
        // A follower leaves; the answer goes on for its owner and the other followers.
        guard !job.state.isTerminal, principal.owns(job.owner) else { return job }
        if try await !cancelHere(id), let cluster { try await cluster.cancelElsewhere(id, jobs: self) }
        return try await self.job(id, for: principal)
    }

    /// Cancels a job this node holds and returns once it has ended; false when it is not here.
    func cancelHere(_ id: String) async throws -> Bool {
        switch scheduler.cancel(id) {
        case .dequeued(var queued):
            try await end(&queued, .cancelled, event: .error(code: SluiceError.Code.jobCancelled.rawValue, message: "cancelled by its owner"))
            return true
        case .signalled:
            for await _ in try await hub.subscribe(id, after: Int.max - 1, following: false) {}
            return true
        case .notHere:
            return false
        }
    }

    // MARK: Running

    enum Outcome: Sendable {
        case finished(reason: String, usage: Usage)
        case failed(any Error)
        case stopped(StopReason)
    }

    /// Runs one attempt of a job a worker took from the scheduler, on the provider slot it reserved.
    func execute(_ claim: Scheduler.Claim) async {
        var job = claim.job
        let lease = claim.lease
        defer { scheduler.finished(job) }
        let now = Date()
        if job.deadline <= now {
            router.release(lease, outcome: .cancelled)
            await endLogged(&job, .expired, event: expiredEvent)
            return
        }
        job.state = .running
        job.attempt += 1
        job.startedAt = now
        job.notBefore = nil
        job.deployment = lease.deployment.name
        do {
            try await store.save(job, appending: [])
        } catch {
            lost(job, error: error, doing: "could not mark job running")
            router.release(lease, outcome: .cancelled)
            job.state = .queued
            job.attempt -= 1
            job.notBefore = now.addingTimeInterval(backoff.delay(retry: 1))
            scheduler.enqueue(job)
            return
        }
        let attempt = Attempt()
        let current = job
        let outcome = await withTaskGroup(of: Outcome?.self) { group in
            group.addTask { await self.consume(lease, job: current, attempt: attempt) }
            group.addTask { await claim.control.waitForStop().map { .stopped($0) } }
            group.addTask { await Self.watch(attempt, timeouts: lease.deployment.timeouts, started: now) }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .stopped(.shutdown)
        }
        await settle(&job, outcome: outcome, attempt: attempt, lease: lease)
    }

    private func consume(_ lease: ProviderRouter.Lease, job: Job, attempt: Attempt) async -> Outcome {
        do {
            for try await event in lease.provider.stream(job.request, upstreamModel: lease.deployment.model) {
                switch event {
                case .delta(let text):
                    let chunk = hub.publish(.delta(text), to: job.id)
                    if attempt.add(chunk, text: text) {
                        let batch = attempt.pending
                        try await store.append(batch, to: job.id, fence: job.fence)
                        attempt.flushed(through: batch.last?.seq ?? 0)
                    }
                case .finish(let reason, let usage):
                    let estimated = usage ?? Usage(
                        promptTokens: job.request.messages.reduce(0) { $0 + Usage.estimateTokens($1.content) },
                        completionTokens: Usage.estimateTokens(attempt.text))
                    return .finished(reason: reason, usage: estimated)
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

    private func settle(_ job: inout Job, outcome: Outcome, attempt: Attempt, lease: ProviderRouter.Lease) async {
        let alias = lease.alias
        let deployment = lease.deployment.name
        if case .failed(let error) = outcome, error is LeaseLost {
            router.release(lease, outcome: .cancelled)
            lost(job, error: error, doing: "")
            return
        }
        switch outcome {
        case .finished(let reason, let usage):
            let cost = lease.deployment.prices.cost(of: usage)
            router.release(lease, outcome: .success(tokens: usage.totalTokens))
            metrics.providerCall(alias: alias, deployment: deployment, outcome: "success")
            metrics.usage(model: alias, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, cost: cost)
            job.result = JobResult(text: attempt.text, finishReason: reason, usage: usage, cost: cost)
            let queueMs = job.startedAt.map { Int(max(0, $0.timeIntervalSince(job.createdAt)) * 1000) }
            await endLogged(&job, .succeeded, event: .done(finishReason: reason, usage: usage, cache: "miss", queueMs: queueMs), pending: attempt.pending)
        case .stopped(.cancelled):
            router.release(lease, outcome: .cancelled)
            metrics.providerCall(alias: alias, deployment: deployment, outcome: "cancelled")
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
            let failure = error as? ProviderError ?? ProviderError(.interrupted, reason: "unexpected provider failure")
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
    private func requeue(_ job: inout Job, attempt: Attempt, retryAfter: Double?) async {
        var pending = attempt.pending
        if attempt.produced { pending.append(hub.publish(.reset, to: job.id)) }
        let now = Date()
        let untried = router.deployments(of: job.request.model).contains { !(job.tried ?? []).contains($0) }
        let delay = untried ? 0 : max(backoff.delay(retry: job.attempt), retryAfter ?? 0)
        job.state = .queued
        job.notBefore = delay > 0 ? now.addingTimeInterval(delay) : nil
        job.deadline = max(job.deadline, now.addingTimeInterval(delay + configuration.queue.deadlineSeconds))
        do {
            try await store.save(job, appending: pending)
            scheduler.enqueue(job, now: now)
        } catch {
            lost(job, error: error, doing: "could not re-queue job")
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
            lost(job, error: error, doing: "could not end job")
        }
    }

    /// After a failed write: a lost lease means another node holds the job now, and this one lets go.
    func lost(_ job: Job, error: any Error, doing what: String) {
        if error is LeaseLost {
            logger.warning("another node took over the job; dropping this node's attempt", metadata: ["sluice.job": "\(job.id)"])
            hub.abandon(job.id)
            if let plan = job.cache { releaseFlight(plan.key, leader: job.id) }
        } else {
            logger.error("\(what)", metadata: ["sluice.job": "\(job.id)", "error": "\(error)"])
        }
    }

    /// Ends a job: its final state and its last event become durable together, then reach subscribers.
    private func end(_ job: inout Job, _ state: JobState, event: StreamEvent, pending: [StreamChunk] = []) async throws {
        job.state = state
        job.finishedAt = Date()
        metrics.jobEnded(state: state.rawValue)
        if case .error(let code, let message) = event, job.failure == nil {
            job.failure = JobFailure(code: code, message: message)
        }
        let chunk = hub.number(event, of: job.id)
        let settled = admission.settle(job)
        try await store.save(job, appending: pending + [chunk], counters: settled.map { [$0] } ?? [])
        if let plan = job.cache {
            if state == .succeeded, plan.store, let result = job.result {
                var entry = cache.entry(
                    key: plan.key, tenant: job.owner.tenant, model: job.request.model, namespace: plan.namespace, tags: plan.tags,
                    text: result.text, finishReason: result.finishReason, usage: result.usage)
                do {
                    entry.semantic = plan.semantic
                    try await cache.store(entry)
                } catch {
                    logger.error("could not store a cache entry", metadata: ["error": "\(error)"])
                }
            }
            releaseFlight(plan.key, leader: job.id)
        }
        hub.deliver(chunk, to: job.id)
    }

    // MARK: Recovering

    /// Re-queues the work a previous run left: queued jobs as they were, running ones with the attempt
    /// counted and a `reset` so that followers drop partial output. Sequence numbers skip past anything
    /// the previous run may have sent without storing.
    func recover() async throws -> Int {
        let jobs = try await store.unfinishedJobs().sorted { $0.createdAt < $1.createdAt }
        for job in jobs { try await adopt(job) }
        return jobs.count
    }

    /// Takes over an unfinished job that an earlier run, or another node, left: a running one has its
    /// attempt counted and a `reset` so that followers drop partial output; sequence numbers skip past
    /// anything the previous holder may have sent without storing. Then it joins this node's queue.
    func adopt(_ job: Job, now: Date = Date()) async throws {
        var job = job
        let stored = job.state == .queued && job.attempt == 0 ? [] : try await store.chunks(of: job.id, after: 0)
        let lastSeq = stored.last?.seq ?? 0
        let wasRunning = job.state == .running
        let partial = stored.reversed().prefix { $0.event != .reset }.contains { if case .delta = $0.event { true } else { false } }
        var nextSeq = lastSeq + 1 + (wasRunning ? Attempt.flushCount : 0)
        if wasRunning || partial {
            if wasRunning, job.attempt >= configuration.queue.maxAttempts {
                hub.open(job.id, nextSeq: nextSeq)
                let reason = "the node running it stopped, and its attempts are used up"
                await endLogged(&job, .failed, event: .error(code: SluiceError.Code.providerError.rawValue, message: reason))
                return
            }
            job.state = .queued
            job.deadline = max(job.deadline, now.addingTimeInterval(configuration.queue.deadlineSeconds))
            try await store.save(job, appending: [StreamChunk(seq: nextSeq, event: .reset)])
            nextSeq += 1
        }
        hub.open(job.id, nextSeq: nextSeq)
        scheduler.enqueue(job, now: now)
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
