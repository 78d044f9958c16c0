import Foundation
import Logging
import SluiceCache
import SluiceCore
import SluiceStore
import Tracing

/// What became of an accepted request.
enum Accepted: Sendable {
    /// A job runs (or is queued) for it.
    case job(Job)
    /// An identical request was already running: this one follows that job's stream.
    case follower(Job)
    /// The cache answered (`exact` or `semantic`).
    case hit(CacheEntry, layer: String)
}

/// The request path, top to bottom. A front door (chat, Responses, Messages, jobs, a batch's line) reads
/// and checks its request into a `ChatRequest`, names its owner and options, and calls `accept`; HTTP
/// ends there. Then, in order:
///
/// 1. the store is up (else 503 at once) and a callback's host is allowed; an answer that streams is
///    counted against its caller's open streams (`AdmissionGate.openStream`), so that a refused stream
///    leaves nothing behind: no job, no charge;
/// 2. **cache** (`CacheLookup`): an exact or semantic hit is answered now, charged one message and
///    added to the usage rollup in one write (`AdmissionGate.chargeHit`), served even in overload;
/// 3. **single-flight** (`SingleFlight`): an identical request in flight is followed, charged one
///    message, and raises the job it follows to its own class;
/// 4. **admission** (`AdmissionGate`): the plan, mode, tier and ceilings, the cluster's shared windows
///    and day — which may simplify the request;
/// 5. **submission** (`JobService.submit`): the job is inserted, with its day's counters, in one durable
///    commit before it is acknowledged, then queued. Running and ending it is the job service's work.
///
/// A cancel comes this way too (`cancel`): the job service stops a job this node holds, and the
/// cluster finds the one that holds it otherwise.
struct RequestPipeline: Sendable {
    let lookup: CacheLookup
    let singleFlight: SingleFlight
    let gate: AdmissionGate
    let jobs: JobService
    /// This node's part in a cluster sharing the store, and its queue as the cluster reaches it; nil on
    /// the embedded store.
    let cluster: (node: Cluster, work: any ClusterWork)?

    /// A request as it will run, what became of it, and the headers its answer carries.
    struct Acceptance: Sendable {
        var chat: ChatRequest
        var outcome: Accepted
        var headers: [String: String]
        /// Whom the request runs for.
        var owner: Principal
        /// The job's id: the job made or followed; for a hit, the fixed id it is stored under when a front
        /// door stores it (`job(of:origin:)`), nil for a new one.
        var id: String?
        /// The answer's stream, counted until the ticket goes; nil for a whole answer.
        var ticket: AdmissionController.StreamTicket?
    }

    /// Accepts a checked chat request for `owner`. `id` names the job it makes (a batch's line has a
    /// fixed one, so that a line is never run twice); `origin` is kept on the job (nil for chat).
    /// `streamFor` is the caller whose open streams count the answer's stream; nil for a whole answer.
    func accept(
        _ chat: ChatRequest, owner: Principal, options: RequestOptions, origin: JobOrigin?, background: Background = Background(),
        id fixedID: String? = nil, streamFor: Principal? = nil, logger: Logger
    ) async throws -> Acceptance {
        if jobs.health.refusesAtOnce { throw SluiceError(.storageUnavailable, retryAfter: 1) }
        if let callback = background.callback { try jobs.callbacks.check(callback, tenant: owner.tenant) }
        var ticket: AdmissionController.StreamTicket?
        if let streamFor { ticket = try await gate.openStream(for: streamFor, resuming: false) }
        var chat = chat
        // A caller may lower its own priority (warming, bulk work), never raise it.
        let priority = options.batch ? PriorityClass.batch : owner.priorityClass
        let key = lookup.key(for: chat, tenant: owner.tenant, namespace: options.namespace)
        // A delayed job runs at its time, not from what the cache holds now.
        let looksUp = !options.noCache && background.notBefore == nil

        // Cache.
        var semanticKey: SemanticKey?
        if let key, looksUp {
            let (found, semantic) = await lookup.find(chat, key: key, owner: owner, namespace: options.namespace)
            if let found {
                let usage = UsageRow.hit(tenant: owner.tenant, user: owner.user, model: chat.model, usage: found.entry.usage, at: Date())
                let headers = try await gate.chargeHit(owner, usage: usage)
                return Acceptance(
                    chat: chat, outcome: .hit(found.entry, layer: found.layer), headers: headers.merging(["X-Sluice-Cache": found.layer]) { $1 },
                    owner: owner, id: fixedID, ticket: ticket)
            }
            semanticKey = semantic
        }

        // Single-flight.
        let id = fixedID ?? Job.newID()
        let flight = looksUp && background.callback == nil ? key : nil
        if let flight, let leader = singleFlight.claim(flight, for: id) {
            let light = try gate.admitLight(owner)
            if let job = try await singleFlight.join(leader, key: flight, as: id, owner: owner, priority: priority, logger: logger) {
                try await gate.count(light.delta, owner: owner)
                let headers = light.headers.merging(["X-Sluice-Cache": "miss", "X-Sluice-Single-Flight": "follower"]) { $1 }
                return Acceptance(chat: chat, outcome: .follower(job), headers: headers, owner: owner, id: job.id, ticket: ticket)
            }
        }

        // Admission, then submission.
        do {
            let admitted = try await withSpan("admission") { span in
                span.attributes["sluice.plan"] = owner.plan
                return try await gate.admit(&chat, owner: owner, jobID: id)
            }
            var plan = key.map { CachePlan(key: $0, namespace: options.namespace, tags: options.tags, store: !options.noStore && !admitted.simplified) }
            if let store = plan?.store, store, semanticKey == nil {
                // A request that skipped the lookup still enters the semantic index with its answer.
                semanticKey = await lookup.semanticKey(for: chat, tenant: owner.tenant)
            }
            plan?.semantic = semanticKey
            let job: Job
            do {
                job = try await jobs.submit(
                    chat, owner: owner, id: id, priority: priority, origin: origin, reservation: admitted.reservation, cache: plan,
                    counters: admitted.counters, background: background)
            } catch {
                await gate.giveBack(admitted)
                throw error
            }
            logger.debug("job accepted", metadata: ["sluice.job": .string(job.id), "sluice.model": .string(chat.model)])
            return Acceptance(
                chat: chat, outcome: .job(job), headers: admitted.headers.merging(["X-Sluice-Cache": "miss"]) { $1 }, owner: owner, id: id,
                ticket: ticket)
        } catch {
            if let flight { singleFlight.release(flight, leader: id) }
            throw error
        }
    }

    /// The job a front door that shows every answer as a job (jobs, Responses, Messages, a batch's line)
    /// shows for an acceptance: a cache hit is stored as a finished job of its owner, under the id the
    /// acceptance names.
    func job(of acceptance: Acceptance, origin: JobOrigin?) async throws -> Job {
        switch acceptance.outcome {
        case .hit(let entry, let layer):
            return try await jobs.recordHit(entry, layer: layer, request: acceptance.chat, owner: acceptance.owner, id: acceptance.id ?? Job.newID(), origin: origin)
        case .job(let job), .follower(let job):
            return job
        }
    }

    /// Cancels a job: a queued one ends at once, a running one stops its provider call, wherever it runs.
    /// Returns the job as it is afterwards; a job that already ended is returned unchanged.
    func cancel(_ id: String, for principal: Principal) async throws -> Job {
        let job = try await jobs.job(id, for: principal)
        // A follower leaves; the answer goes on for its owner and the other followers.
        guard !job.state.isTerminal, principal.owns(job.owner) else { return job }
        if try await !jobs.cancelHere(id), let cluster { try await cluster.node.cancelElsewhere(id, work: cluster.work) }
        return try await jobs.job(id, for: principal)
    }
}
