import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore

/// The jobs API: submit, read, cancel, and the resumable stream.
struct JobRoutes {
    let jobs: JobService

    func register(on group: RouterGroup<SluiceRequestContext>) {
        group.post("jobs") { request, context in
            let (_, job, limits) = try await jobs.accept(request, context: context)
            var headers: HTTPFields = [.sluiceJobID: job.id, .location: "/v1/jobs/\(job.id)"]
            headers.append(contentsOf: limits)
            return JSONResponse.make(
                ["id": job.id, "object": "job", "state": job.state.rawValue, "stream_url": Self.streamURL(job.id),
                 "created_at": job.createdAt.timeIntervalSince1970],
                status: .accepted, headers: headers)
        }
        group.get("jobs/{id}") { _, context in
            let job = try await jobs.job(try Self.id(context), for: try context.requirePrincipal())
            return JSONResponse.make(object(job))
        }
        group.delete("jobs/{id}") { _, context in
            let job = try await jobs.cancel(try Self.id(context), for: try context.requirePrincipal())
            return JSONResponse.make(object(job))
        }
        group.get("jobs/{id}/stream") { request, context in try await stream(request, context: context) }
    }

    static func streamURL(_ id: String) -> String { "/v1/jobs/\(id)/stream" }

    static func id(_ context: SluiceRequestContext) throws -> String {
        guard let id = context.parameters.get("id"), !id.isEmpty else { throw SluiceError(.jobNotFound, details: ["id": ""]) }
        return id
    }

    func object(_ job: Job) -> [String: Any] {
        var object: [String: Any] = [
            "id": job.id, "object": "job", "state": job.state.rawValue, "attempt": job.attempt, "model": job.request.model,
            "priority": job.priority.name, "created_at": job.createdAt.timeIntervalSince1970,
            "deadline": job.deadline.timeIntervalSince1970, "stream_url": Self.streamURL(job.id),
        ]
        if let started = job.startedAt { object["started_at"] = started.timeIntervalSince1970 }
        if let finished = job.finishedAt { object["finished_at"] = finished.timeIntervalSince1970 }
        if job.state == .queued, let position = jobs.scheduler.position(of: job.id) { object["queue_position"] = position }
        if let deployment = job.deployment { object["deployment"] = deployment }
        if let cap = job.request.tokenCap { object["max_tokens"] = cap }
        if let result = job.result {
            var answer: [String: Any] = ["text": result.text, "finish_reason": result.finishReason, "usage": result.usage.dictionary]
            if let cost = result.cost { answer["cost"] = cost }
            object["result"] = answer
        }
        if let failure = job.failure { object["error"] = ["code": failure.code, "message": failure.message] }
        return object
    }

    func stream(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let job = try await jobs.job(try Self.id(context), for: principal)
        let after = try Self.resumePoint(request)
        let ticket = try jobs.admission.openStream(for: principal, resuming: after > 0)
        let chunks = try await jobs.hub.subscribe(job.id, after: after)
        var headers = JSONResponse.sseHeaders
        headers[.sluiceJobID] = job.id
        let heartbeat = Duration.milliseconds(Int(jobs.configuration.server.heartbeatSeconds * 1000))
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { withExtendedLifetime(ticket) {} }
            try await writer.write(ServerSentEvents.retry(milliseconds: 3000))
            try await ServerSentEvents.pump(chunks, heartbeat: heartbeat, into: &writer) { chunk in
                ([ServerSentEvents.jobEvent(chunk)], chunk.event.isTerminal)
            }
            try await writer.finish(nil)
        })
    }

    /// `?after=N` or `Last-Event-ID: N` (the query wins); 0 streams from the start.
    static func resumePoint(_ request: Request) throws -> Int {
        let raw = request.uri.queryParameters["after"].map(String.init) ?? request.headers[.lastEventID]
        guard let raw, !raw.isEmpty else { return 0 }
        guard let value = Int(raw), value >= 0 else {
            throw SluiceError(.invalidParameter, details: ["field": "after", "reason": "must be a whole number of 0 or more"])
        }
        return value
    }
}

/// `GET /healthz`, `GET /readyz`.
struct HealthRoutes {
    let jobs: JobService

    func register(on router: Router<SluiceRequestContext>) {
        router.get("healthz") { _, _ in JSONResponse.make(["status": "ok"]) }
        router.get("readyz") { _, _ in
            let (queued, running) = jobs.scheduler.counts
            let ready = !jobs.scheduler.isStopped
            return JSONResponse.make(
                ["status": ready ? "ready" : "stopping", "queued": queued, "running": running],
                status: ready ? .ok : .serviceUnavailable)
        }
    }
}

/// `GET /metrics`: Prometheus text.
struct MetricsRoutes {
    let jobs: JobService

    func register(on router: Router<SluiceRequestContext>) {
        router.get("metrics") { _, _ in
            let (queued, running) = jobs.scheduler.counts
            let now = jobs.admission.clock()
            jobs.metrics.state(tier: jobs.admission.tier(at: now), mode: jobs.admission.mode(at: now)?.name, modes: Array(jobs.admission.policy.modes.keys))
            let text = jobs.metrics.render(router: jobs.router, queued: queued, running: running)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }
}

/// `/admin/api`: the tier and mode, and setting a mode by hand. Needs the admin role.
struct AdminRoutes {
    let jobs: JobService

    func register(on group: RouterGroup<SluiceRequestContext>) {
        group.get("status") { _, context in
            try Self.requireAdmin(context)
            return status()
        }
        group.put("mode") { request, context in
            try Self.requireAdmin(context)
            var request = request
            let body = try await request.collectBody(upTo: 64 * 1024)
            let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]
            guard let object, object.keys.contains("mode") else {
                throw SluiceError(.missingField, details: ["field": "mode"])
            }
            jobs.admission.force(mode: .some(object["mode"] as? String))
            return status()
        }
        group.delete("mode") { _, context in
            try Self.requireAdmin(context)
            jobs.admission.force(mode: nil)
            return status()
        }
    }

    static func requireAdmin(_ context: SluiceRequestContext) throws {
        guard try context.requirePrincipal().role == "admin" else { throw SluiceError(.forbidden) }
    }

    func status() -> Response {
        let now = jobs.admission.clock()
        let (queued, running) = jobs.scheduler.counts
        let mode = jobs.admission.mode(at: now)
        return JSONResponse.make([
            "tier": jobs.admission.tier(at: now).name, "mode": mode?.name ?? NSNull(), "mode_source": jobs.admission.modeSource,
            "queued": queued, "running": running,
        ] as [String: Any])
    }
}
