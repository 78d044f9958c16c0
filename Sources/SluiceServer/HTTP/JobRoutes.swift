import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCache
import SluiceCore
import SluiceStore

/// The jobs API: submit, read, cancel, and the resumable stream.
struct JobRoutes {
    let pipeline: RequestPipeline
    var jobs: JobService { pipeline.jobs }

    func register(on group: RouterGroup<SluiceRequestContext>) {
        group.post("jobs") { request, context in
            if jobs.health.refusesAtOnce { throw SluiceError(.storageUnavailable, retryAfter: 1) }
            var asked = try await ChatRequest.decode(from: request, configuration: jobs.configuration, router: jobs.router)
            let background = try Background.taking(from: &asked.extra, now: Date())
            let accepted = try await pipeline.accept(asked, headers: request.headers, context: context, origin: nil, background: background, streams: false)
            let job = try await pipeline.job(of: accepted, origin: nil)
            // Durable before the job is acknowledged: the 202 promises the callback.
            if let url = background.callback { try await jobs.callbacks.register(job, url: url) }
            var headers = accepted.fields
            headers[.sluiceJobID] = job.id
            headers[.location] = "/v1/jobs/\(job.id)"
            var object: [String: Any] = [
                "id": job.id, "object": "job", "state": Self.state(job), "stream_url": Self.streamURL(job.id),
                "created_at": job.createdAt.timeIntervalSince1970,
            ]
            if let notBefore = job.notBefore { object["not_before"] = notBefore.timeIntervalSince1970 }
            if let served = job.cache?.servedFrom { object["cache"] = served }
            return JSONResponse.make(object, status: .accepted, headers: headers)
        }
        group.get("jobs/{id}") { _, context in
            let job = try await jobs.job(try Self.id(context), for: try context.requirePrincipal())
            return JSONResponse.make(object(job))
        }
        group.delete("jobs/{id}") { _, context in
            let job = try await pipeline.cancel(try Self.id(context), for: try context.requirePrincipal())
            return JSONResponse.make(object(job))
        }
        group.get("jobs/{id}/stream") { request, context in try await stream(request, context: context) }
    }

    static func streamURL(_ id: String) -> String { "/v1/jobs/\(id)/stream" }

    /// The state the API shows: `scheduled` for a delayed job before its time, else the job's own.
    static func state(_ job: Job, now: Date = Date()) -> String {
        job.isScheduled(at: now) ? "scheduled" : job.state.rawValue
    }

    static func id(_ context: SluiceRequestContext) throws -> String {
        guard let id = context.parameters.get("id"), !id.isEmpty else { throw SluiceError(.jobNotFound, details: ["id": ""]) }
        return id
    }

    func object(_ job: Job) -> [String: Any] {
        Self.object(job, queuePosition: job.state == .queued ? jobs.scheduler.position(of: job.id) : nil)
    }

    /// A job as the jobs API shows it; a queued one with its place in this node's queue, when known.
    static func object(_ job: Job, queuePosition: Int?) -> [String: Any] {
        var object: [String: Any] = [
            "id": job.id, "object": "job", "state": state(job), "attempt": job.attempt, "model": job.request.model,
            "priority": job.priority.name, "created_at": job.createdAt.timeIntervalSince1970,
            "deadline": job.deadline.timeIntervalSince1970, "stream_url": Self.streamURL(job.id),
        ]
        if let started = job.startedAt { object["started_at"] = started.timeIntervalSince1970 }
        if job.attempt == 0, let notBefore = job.notBefore { object["not_before"] = notBefore.timeIntervalSince1970 }
        if let callback = job.callback { object["callback_url"] = callback }
        if let finished = job.finishedAt { object["finished_at"] = finished.timeIntervalSince1970 }
        if let queuePosition { object["queue_position"] = queuePosition }
        if let deployment = job.deployment { object["deployment"] = deployment }
        if let cap = job.request.tokenCap { object["max_tokens"] = cap }
        if let served = job.cache?.servedFrom { object["cache"] = served }
        if let result = job.result {
            var answer: [String: Any] = [
                "text": result.text, "finish_reason": result.finishReason, "usage": ServerSentEvents.foundation(result.usage.json),
                "choices": ServerSentEvents.foundation(.array(result.assembly.completionChoices(finishReason: result.finishReason))),
            ]
            if let cost = result.cost { answer["cost"] = cost }
            if let fingerprint = result.fingerprint { answer["system_fingerprint"] = fingerprint }
            object["result"] = answer
        }
        if let failure = job.failure { object["error"] = ["code": failure.code, "message": failure.message] }
        return object
    }

    func stream(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let after = try Self.resumePoint(request)
        let id = try Self.id(context)
        // Ended and swept (or never was): 204, so that an EventSource stops reconnecting. Another's job
        // is still not found.
        guard try await jobs.store.job(id: id) != nil else { return Response(status: .noContent) }
        let job = try await jobs.job(id, for: principal)
        if job.state.isTerminal, try await jobs.store.chunks(of: job.id, after: after).isEmpty {
            // Everything was said: 204 rather than an empty stream the client would reopen forever.
            return Response(status: .noContent)
        }
        let ticket = try await pipeline.gate.openStream(for: principal, resuming: after > 0)
        let chunks = try await jobs.hub.subscribe(job.id, after: after)
        var headers = JSONResponse.sseHeaders
        headers[.sluiceJobID] = job.id
        let outlet = StreamOutlet(context, server: jobs.configuration.server, metrics: jobs.metrics)
        // Asked for (`?queue_notices=true`, as sluice.js does), and the job not yet ended: its client hears
        // where it stands in the queue, or that it runs. Without it the stream is the job's events only.
        let notices = request.uri.queryParameters["queue_notices"].map { $0 == "true" || $0 == "1" } ?? false
        let notice = notices && !job.state.isTerminal ? QueueNotice(job: job.id, running: job.state == .running) : nil
        if let notice { jobs.queueNotices.listen(notice, into: chunks) }
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { withExtendedLifetime(ticket) {} }
            try await writer.write(ServerSentEvents.retry(milliseconds: 3000))
            try await ServerSentEvents.pump(chunks, to: outlet, into: &writer, notice: notice) { chunk in
                ([ServerSentEvents.jobEvent(chunk)], chunk.event.isTerminal)
            }
            try await writer.finish(nil)
        })
    }

    /// The largest resume point: far beyond any sequence number a job reaches (each restart adds 64).
    static let maxResumePoint = 1_000_000_000_000

    /// `?after=N` or `Last-Event-ID: N` (the query wins); 0 streams from the start.
    static func resumePoint(_ request: Request) throws -> Int {
        let raw = request.uri.queryParameters["after"].map(String.init) ?? request.headers[.lastEventID]
        guard let raw, !raw.isEmpty else { return 0 }
        guard raw.utf8.count <= 20, let value = Int(raw), (0...maxResumePoint).contains(value) else {
            throw SluiceError(.invalidParameter, details: ["field": "after", "reason": "must be a whole number from 0 to \(maxResumePoint)"])
        }
        return value
    }
}
