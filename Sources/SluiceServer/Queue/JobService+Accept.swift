import Foundation
import HTTPTypes
import Hummingbird
import SluiceCache
import SluiceCore
import SluiceStore
import Logging
import Synchronization
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

extension JobService {
    /// Reads, checks and accepts a chat request from an HTTP request: a cache hit is answered at once
    /// (served even in overload, counting only a message); otherwise admission control decides, and an
    /// identical request already in flight is followed instead of calling the provider again.
    /// Returns the request as it will run, what became of it, and the headers for the response.
    func accept(_ request: Request, context: SluiceRequestContext) async throws -> (ChatRequest, Accepted, HTTPFields) {
        // The database is known to be down: refused at once rather than left waiting for a connection.
        if health.refusesAtOnce { throw SluiceError(.storageUnavailable, retryAfter: 1) }
        let chat = try await ChatRequest.decode(from: request, configuration: configuration, router: router)
        return try await accept(chat, headers: request.headers, context: context, origin: nil)
    }

    /// Accepts a chat request another front door (Responses, Messages) read and checked: the same
    /// cache, admission, single-flight and queue. `origin` is kept on the job (nil for chat).
    func accept(
        _ chat: ChatRequest, headers requestHeaders: HTTPFields, context: SluiceRequestContext, origin: JobOrigin?,
        background: Background = Background()
    ) async throws -> (ChatRequest, Accepted, HTTPFields) {
        let owner = try principal(asking: chat, headers: requestHeaders, context: context)
        return try await accept(
            chat, owner: owner, options: try RequestOptions(requestHeaders), origin: origin, background: background, logger: context.logger)
    }

    /// Accepts a checked chat request for `owner`: the cache, admission, single-flight and the queue.
    /// `id` names the job it makes (a batch's line has a fixed one, so that a line is never run twice).
    func accept(
        _ chat: ChatRequest, owner: Principal, options: RequestOptions, origin: JobOrigin?, background: Background = Background(),
        id fixedID: String? = nil, logger: Logger
    ) async throws -> (ChatRequest, Accepted, HTTPFields) {
        if health.refusesAtOnce { throw SluiceError(.storageUnavailable, retryAfter: 1) }
        var chat = chat
        if let callback = background.callback { try callbacks.check(callback, tenant: owner.tenant) }
        let (noCache, noStore, namespace, tags) = (options.noCache, options.noStore, options.namespace, options.tags)
        // A caller may lower its own priority (warming, bulk work), never raise it.
        let priority = options.batch ? PriorityClass.batch : owner.priorityClass
        let key = cache.configuration.enabled ? CacheKey.exact(chat, tenant: owner.tenant, namespace: namespace) : nil

        var semanticKey: SemanticKey?
        let lookup = startSpan("cache lookup")
        // A delayed job runs at its time, not from what the cache holds now.
        if let key, !noCache, background.notBefore == nil {
            let started = ContinuousClock.now
            if case .hit(let entry) = cache.lookup(key: key, tenant: owner.tenant) {
                lookup.attributes["sluice.cache"] = "exact"
                lookup.end()
                let admitted = try admission.admitLight(principal: owner)
                try await count(admitted.delta, owner: owner)
                try await store.addUsage([.hit(tenant: owner.tenant, user: owner.user, model: chat.model, usage: entry.usage, at: Date())])
                metrics.cacheLookup(layer: "exact", result: "hit", duration: ContinuousClock.now - started, saved: entry.usage.totalTokens)
                return (chat, .hit(entry, layer: "exact"), Self.fields(admitted.headers, [.sluiceCache: "exact"]))
            }
            metrics.cacheLookup(layer: "exact", result: "miss", duration: ContinuousClock.now - started)
            if let semantic = cache.semantic {
                let started = ContinuousClock.now
                semanticKey = try? await semantic.probe(chat, tenant: owner.tenant)
                if let semanticKey,
                   let match = semantic.lookup(
                       semanticKey, namespace: namespace, namespaceThreshold: admission.semanticThreshold(at: admission.clock(), tenant: owner.tenant),
                       user: owner.userKey, asked: key),
                   let entry = cache.entry(key: match.key, tenant: owner.tenant)
                {
                    lookup.attributes["sluice.cache"] = "semantic"
                    lookup.end()
                    let admitted = try admission.admitLight(principal: owner)
                    try await count(admitted.delta, owner: owner)
                    try await store.addUsage([.hit(tenant: owner.tenant, user: owner.user, model: chat.model, usage: entry.usage, at: Date())])
                    metrics.cacheLookup(layer: "semantic", result: "hit", duration: ContinuousClock.now - started, saved: entry.usage.totalTokens)
                    return (chat, .hit(entry, layer: "semantic"), Self.fields(admitted.headers, [.sluiceCache: "semantic"]))
                }
                metrics.cacheLookup(layer: "semantic", result: "miss", duration: ContinuousClock.now - started)
            }
        }

        lookup.end()
        let id = fixedID ?? Job.newID()
        let singleFlight = key.flatMap { key in noCache || background.notBefore != nil || background.callback != nil ? nil : key }
        if let singleFlight, let leader = claimFlight(singleFlight, for: id) {
            let admitted = try admission.admitLight(principal: owner)
            if await flights.waitUntilStored(singleFlight, leader: leader), var job = try? await store.job(id: leader), !job.state.isTerminal {
                try await store.addFollower(jobID: leader, tenant: owner.tenant, user: owner.user)
                // A follower of a more urgent class raises the job it follows, so a teacher who asks what a
                // student asked does not inherit the student's place in the queue.
                if priority < job.priority, scheduler.raise(job.id, to: priority) {
                    job.priority = priority
                    logger.debug("job raised by a follower", metadata: ["sluice.job": "\(job.id)", "sluice.class": "\(priority.name)"])
                }
                try await count(admitted.delta, owner: owner)
                return (chat, .follower(job), Self.fields(admitted.headers, [.sluiceCache: "miss", .sluiceSingleFlight: "follower"]))
            }
            releaseFlight(singleFlight, leader: leader)
            _ = claimFlight(singleFlight, for: id)
        }
        do {
            let admitted = try withSpan("admission") { span in
                span.attributes["sluice.plan"] = owner.plan
                return try admission.admit(&chat, principal: owner, jobID: id)
            }
            do {
                try await takeSharedWindows(admitted.limits, reservation: admitted.reservation, tenant: owner.tenant)
            } catch {
                admission.release(admitted.reservation)
                throw error
            }
            let headers = Self.fields(admitted.headers, [.sluiceCache: "miss"])
            var plan = key.map { CachePlan(key: $0, namespace: namespace, tags: tags, store: !noStore && !admitted.simplified) }
            if plan != nil, plan!.store, semanticKey == nil, let semantic = cache.semantic {
                // A no-cache request skipped the lookup; its answer still enters the semantic index.
                semanticKey = try? await semantic.probe(chat, tenant: owner.tenant)
            }
            plan?.semantic = semanticKey
            // On a shared store with daily quotas, the day's counters move first, atomically against the quota.
            let sharedDay = try sharedDailyLimits(for: owner) != nil
            if sharedDay {
                do {
                    try await count(admitted.delta, owner: owner)
                } catch {
                    admission.release(admitted.reservation)
                    throw error
                }
            }
            do {
                let job = try await submit(
                    chat, owner: owner, id: id, priority: priority, origin: origin,
                    reservation: admitted.reservation, cache: plan,
                    counters: (sharedDay ? [] : [admitted.delta]) + [admission.tenantDelta(of: admitted.reservation, tenant: owner.tenant)].compactMap { $0 },
                    background: background)
                // The request's logger: with its request id, and the trace id when it is traced.
                logger.debug("job accepted", metadata: ["sluice.job": .string(job.id), "sluice.model": .string(chat.model)])
                return (chat, .job(job), headers)
            } catch {
                admission.release(admitted.reservation)
                if sharedDay {
                    let refund = DailyCounterDelta(user: admitted.delta.user, day: admitted.delta.day, messages: -admitted.delta.messages, tokens: -admitted.delta.tokens)
                    try? await store.addCounters([refund])
                }
                throw error
            }
        } catch {
            if let singleFlight { releaseFlight(singleFlight, leader: id) }
            throw error
        }
    }

    /// On a store the nodes share, counts the request and its reserved tokens in the minute's shared
    /// windows, so that together the nodes admit at most the per-minute limits (calendar minutes).
    func takeSharedWindows(_ limits: AdmissionLedger.Limits, reservation: AdmissionLedger.Reservation, tenant: String) async throws {
        guard let counters = sharedCounters else { return }
        let now = admission.clock().timeIntervalSince1970
        let window = Int64(now / 60)
        let retryAfter = max(1, 60 - Int(now) % 60)
        // A tenant's ceiling holds across the nodes too, whoever its users are.
        if let limit = admission.ceilings[tenant]?.requestsPerMinute,
           try await !counters.take(key: AdmissionController.tenantShare(of: reservation, tenant: tenant).user, window: window, amount: 1, limit: limit)
        {
            throw admission.rateLimited(retryAfter: retryAfter, limit: limit)
        }
        if let limit = limits.requestsPerMinute, try await !counters.take(key: reservation.user, window: window, amount: 1, limit: limit) {
            throw admission.rateLimited(retryAfter: retryAfter, limit: limit)
        }
        if let limit = limits.tokensPerMinute,
           try await !counters.take(key: "tokens:" + reservation.user, window: window, amount: reservation.tokens, limit: limit)
        {
            throw admission.rateLimited(retryAfter: retryAfter, limit: limit)
        }
    }

    /// Counts a stream a client opens against the plan's limits on open streams and on resumes: on this
    /// node, and on a store the nodes share, across all of them. The stream counts until the ticket goes.
    func openStream(for principal: Principal, resuming: Bool) async throws -> AdmissionController.StreamTicket {
        let local = try admission.openStream(for: principal, resuming: resuming)
        guard let counters = sharedCounters, let cluster else { return local }
        let plan = (try? admission.plan(for: principal)) ?? Plan(name: principal.plan)
        let user = principal.userKey
        let now = admission.clock().timeIntervalSince1970
        if resuming, try await !counters.take(key: "resumes:" + user, window: Int64(now / 60), amount: 1, limit: plan.reconnectsPerMinute) {
            let seconds = max(1, 60 - Int(now) % 60)
            metrics.rejected(reason: SluiceError.Code.tooManyReconnects.rawValue)
            throw SluiceError(.tooManyReconnects, details: ["seconds": String(seconds)], retryAfter: seconds)
        }
        guard try await counters.openStream(node: cluster.nodeID, user: user, limit: plan.maxStreams, liveSeconds: cluster.leaseSeconds) else {
            metrics.rejected(reason: SluiceError.Code.tooManyStreams.rawValue)
            throw SluiceError(.tooManyStreams, details: ["limit": String(plan.maxStreams)], retryAfter: 5)
        }
        let node = cluster.nodeID
        return AdmissionController.StreamTicket {
            withExtendedLifetime(local) {}
            Task { try? await counters.closeStream(node: node, user: user) }
        }
    }

    /// The owner's daily limits when they are counted in a store the nodes share; nil otherwise.
    func sharedDailyLimits(for owner: Principal) throws -> (messages: Int?, tokens: Int?)? {
        guard sharedCounters != nil else { return nil }
        let plan = try admission.plan(for: owner)
        guard plan.messagesPerDay != nil || plan.tokensPerDay != nil else { return nil }
        return (plan.messagesPerDay, plan.tokensPerDay)
    }

    /// Applies an admission's change to the owner's day: on a store the nodes share, atomically
    /// against the daily quotas, so that together they admit no more than them.
    func count(_ delta: DailyCounterDelta, owner: Principal) async throws {
        guard let counters = sharedCounters, let limits = try sharedDailyLimits(for: owner) else {
            try await store.addCounters([delta])
            return
        }
        guard try await counters.addDaily(delta, messageLimit: limits.messages, tokenLimit: limits.tokens) else {
            throw admission.quotaExceeded(limit: limits.messages ?? limits.tokens ?? 0)
        }
    }

    /// Whom a request runs for: the caller, named down to its end user by the body's `user` when the
    /// caller may name its users and no `X-Sluice-User` header did.
    func principal(asking chat: ChatRequest, headers: HTTPFields, context: SluiceRequestContext) throws -> Principal {
        var owner = try context.requirePrincipal()
        if headers[.sluiceUser] == nil, context.caller?.namesItsUser ?? true, let user = chat.user, !user.isEmpty {
            owner.user = String(user.prefix(256))
        }
        return owner
    }

    /// Response headers from admission's names and values, added to `base`.
    static func fields(_ headers: [String: String], _ base: HTTPFields) -> HTTPFields {
        var fields = base
        for (name, value) in headers {
            if let field = HTTPField.Name(name) { fields[field] = value }
        }
        return fields
    }

    /// Registers `id` as the job answering `key`, or returns the job already answering it.
    func claimFlight(_ key: String, for id: String) -> String? { flights.claim(key, for: id) }

    /// Forgets the job answering `key`, if it is `leader`.
    func releaseFlight(_ key: String, leader: String) { flights.release(key, leader: leader) }

    /// Stores a cache hit as a finished job of its caller, so that the jobs API can read and stream it.
    func recordHit(
        _ entry: CacheEntry, layer: String, request: ChatRequest, owner: Principal, origin: JobOrigin? = nil, now: Date = Date()
    ) async throws -> Job {
        var job = Job(id: Job.newID(), owner: owner, priority: owner.priorityClass, request: request, createdAt: now, deadline: now)
        job.origin = origin
        job.state = .succeeded
        job.startedAt = now
        job.finishedAt = now
        job.result = JobResult(
            text: entry.text, finishReason: entry.finishReason, usage: entry.usage, cost: 0, pieces: entry.pieces, fingerprint: entry.fingerprint)
        job.cache = CachePlan(key: entry.key, namespace: entry.namespace, tags: entry.tags, store: false, servedFrom: layer)
        try await store.insert(job)
        try await store.save(job, appending: Self.replay(entry, cache: layer))
        return job
    }

    /// A cached answer as stream chunks: the text in word-sized deltas, the rest of the answer (tool
    /// calls, log probabilities, other choices) one piece per choice, then `done`.
    static func replay(_ entry: CacheEntry, cache: String) -> [StreamChunk] {
        var events: [StreamEvent] = entry.text.wordPieces.map { .delta($0) }
        events += (entry.pieces ?? []).map { .choice($0) }
        events.append(.done(finishReason: entry.finishReason, usage: entry.usage, cache: cache, fingerprint: entry.fingerprint))
        return events.enumerated().map { StreamChunk(seq: $0.offset + 1, event: $0.element) }
    }
}
