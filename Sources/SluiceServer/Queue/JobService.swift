import Foundation
import Logging
import SluiceCache
import SluiceCore
import SluiceProviders
import SluiceStore
import Tracing

/// The life of jobs on this node: accept (durable before acknowledged), run through a provider, stream,
/// retry, cancel, expire. The one place that changes a running job's state; `Recovery` takes up what a
/// restart or another node left and hands it to this queue. It is built from parts the node makes, and
/// it calls nothing of the cluster: on a shared store it reads this node's `Membership` to stamp the
/// jobs it accepts, and the cluster hands it work through `NodeWork`.
final class JobService: Sendable {
    let store: any JobStore & StreamLog & JobHistory & UsageRollup
    let hub: StreamHub
    let scheduler: Scheduler
    /// The queue as streams and the dashboard show it, read at most once a second.
    let queueWatch: QueueWatch
    /// Tells waiting streams their place in the queue.
    let queueNotices: QueueNotices
    let router: ProviderRouter
    let configuration: SluiceConfiguration
    let metrics: SluiceMetrics
    let admission: AdmissionController
    let cache: ExactCache
    /// Exact key → the job answering it now (single-flight).
    let flights = FlightBoard()
    /// Jobs whose insert is still committing while a worker already runs them.
    let inserts = PendingInserts()
    let logger: Logger
    /// This node's standing in a cluster sharing the store; nil on the embedded store.
    let membership: Membership?
    /// The callbacks of jobs that asked for one.
    let callbacks: CallbackOutbox
    /// Whether the store takes writes now.
    let health = StoreHealth()
    var backoff: Backoff {
        Backoff(base: configuration.queue.backoffBaseMs / 1000, cap: configuration.queue.backoffMaxMs / 1000)
    }

    /// - Parameters:
    ///   - store: where jobs, streams and usage are kept.
    ///   - membership: this node's standing in a cluster sharing the store (nil on the embedded store).
    init(
        store: any JobStore & StreamLog & JobHistory & UsageRollup, hub: StreamHub, scheduler: Scheduler, admission: AdmissionController,
        cache: ExactCache, callbacks: CallbackOutbox, membership: Membership?, router: ProviderRouter, configuration: SluiceConfiguration,
        metrics: SluiceMetrics, logger: Logger
    ) {
        self.store = store
        self.hub = hub
        self.scheduler = scheduler
        self.admission = admission
        self.cache = cache
        self.callbacks = callbacks
        self.membership = membership
        queueWatch = QueueWatch(scheduler: scheduler)
        queueNotices = QueueNotices(watch: queueWatch)
        self.router = router
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        router.whenCapacityFrees { scheduler.poke() }
    }

    // MARK: Accepting

    /// Accepts a validated, admitted request as a job; returns once it is durable and queued.
    func submit(
        _ request: ChatRequest, owner: Principal, id: String = Job.newID(), priority: PriorityClass? = nil, origin: JobOrigin? = nil,
        reservation: AdmissionLedger.Reservation? = nil, cache: CachePlan? = nil, counters: [DailyCounterDelta] = [],
        background: Background = Background(), now: Date = Date()
    ) async throws -> Job {
        guard !scheduler.isStopped else { throw SluiceError(.shuttingDown, retryAfter: 5) }
        // A delayed job's deadline counts from the time it may start.
        let start = max(now, background.notBefore ?? now)
        var job = Job(
            id: id, owner: owner, priority: priority ?? owner.priorityClass, request: request,
            createdAt: now, deadline: background.deadline ?? start.addingTimeInterval(configuration.queue.deadlineSeconds))
        job.reservation = reservation
        job.cache = cache
        job.origin = origin
        job.notBefore = background.notBefore.flatMap { $0 > now ? $0 : nil }
        job.callback = background.callback
        let trace = TraceHeaders.current()
        job.trace = trace.isEmpty ? nil : trace
        // A delayed job is left to whichever node has room when its time comes.
        membership?.stamp(&job, freeWorkers: job.notBefore == nil ? scheduler.idleCapacity : 0)
        // A job left to the cluster streams from the store until a node (maybe this one) takes it; its
        // insert tells the idle nodes.
        let runsHere = membership == nil || job.node != nil
        if runsHere { hub.open(job.id) }
        // With a worker free, the job goes to it now: the provider is asked while the insert commits, and
        // the worker shows and saves nothing of the job until the commit is done. A job a worker took at
        // once is inserted already running: one commit, not two. (On a shared store, a job held here.)
        let early = runsHere && job.notBefore == nil && scheduler.idleCapacity > 0
        var stored = job
        if early {
            inserts.begin(job.id)
            if scheduler.enqueue(job, now: now) {
                inserts.storesRunning(job.id)
                // As the worker's first attempt will be: a restart counts it (its deployment is saved at its end).
                stored.state = .running
                stored.attempt += 1
                stored.startedAt = now
            }
        }
        var failure: (any Error)?
        do {
            try await withSpan("store commit") { [stored] span in
                span.attributes["sluice.job"] = stored.id
                try await store.insert(stored, counters: counters)
            }
        } catch {
            failure = error
        }
        // A PostgreSQL insert whose connection dropped before its reply may have committed all the same:
        // the row says which. (Were the row unreadable too, the job is dropped below; had it committed,
        // the watchdog takes it up as a job held here that nothing runs: nothing is stranded.)
        if let error = failure, StoreFailure.mayHaveCommitted(error), (try? await store.job(id: job.id)) != nil {
            failure = nil
        }
        if let error = failure {
            // Nothing was accepted: the caller gets 503 (507 on a full disk) and retries.
            if early {
                inserts.end(job.id, committed: false)
                if case .dequeued = scheduler.cancel(job.id) { inserts.forget(job.id) }
            }
            hub.abandon(job.id)
            guard StoreFailure.isStoreError(error) else { throw error }
            health.failed(error)
            metrics.storeWriteFailed()
            throw StoreHealth.refusal(for: error)
        }
        // Followers may join before the job can end (it ends only after this).
        if let cache { flights.stored(cache.key, leader: job) }
        if early { inserts.end(job.id, committed: true) }
        health.succeeded()
        if runsHere, !early { scheduler.enqueue(job, now: now) }
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
}
