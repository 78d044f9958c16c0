import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore
import SluiceStore

/// The dashboard's data: `GET /admin/api/events`, one server-sent-event stream of `status` snapshots
/// (`DashboardFeed`) when they change, at most one a second, and `GET /admin/api/jobs/{id}`, the job inspector. An admin key or the
/// dashboard's session; a tenant's admin sees its own tenant and its own tenant's jobs only.
struct DashboardRoutes {
    let jobs: JobService
    let gate: AdmissionGate
    let feed: DashboardFeed

    func register(on group: RouterGroup<SluiceRequestContext>) {
        group.get("events") { request, context in
            let scope = try AdminRoutes.requireAdmin(context, request: request)
            // An open dashboard counts as one of its caller's open streams (the plan's `maxStreams`).
            let ticket = try await gate.openStream(for: try context.requirePrincipal(), resuming: false)
            let connection = context.connection
            // At least every 15 s, whatever the jobs streams' heartbeat: the page reconnects after 45 s of silence.
            let heartbeat = Duration.milliseconds(Int(min(jobs.configuration.server.heartbeatSeconds, 15) * 1000))
            var headers = JSONResponse.sseHeaders
            headers[.cacheControl] = "no-store"
            let (items, close) = feed.subscribe(tenant: scope.tenant, heartbeat: heartbeat)
            // The client left: its subscription ends at once (`StreamDeparture` closes it at the client's FIN).
            connection.closeFuture.whenComplete { _ in close() }
            // A session's dashboard stops with the session (the page then signs in again).
            let expiry = context.sessionExpires.map { expires in
                Task {
                    try? await Task.sleep(for: .milliseconds(Int64(max(0, expires.timeIntervalSinceNow) * 1000)))
                    close()
                }
            }
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                defer {
                    close()
                    expiry?.cancel()
                    withExtendedLifetime(ticket) {}
                }
                try await writer.write(ServerSentEvents.retry(milliseconds: 2000))
                for await item in items {
                    switch item {
                    case .snapshot(let data): try await writer.write(ServerSentEvents.event(id: nil, name: "status", json: data))
                    case .heartbeat: try await writer.write(ServerSentEvents.heartbeat)
                    }
                }
                try await writer.finish(nil)
            })
        }
        group.get("jobs/{id}") { request, context in
            let scope = try AdminRoutes.requireAdmin(context, request: request)
            let id = try JobRoutes.id(context)
            guard id.utf8.count <= 128, let job = try await jobs.store.job(id: id), scope.tenant == nil || job.owner.tenant == scope.tenant else {
                throw SluiceError(.jobNotFound, details: ["id": String(id.prefix(128))])
            }
            return JSONResponse.make(try await inspection(job))
        }
    }

    /// A job as the inspector shows it: the jobs API's object, with its owner, where it ran and what it
    /// tried, its timings, and the events of its stream (the first `maxEvents`).
    func inspection(_ job: Job) async throws -> [String: Any] {
        var object = JobRoutes.object(job, queuePosition: job.state == .queued ? jobs.queueWatch.current.positions[job.id] : nil)
        object["owner"] = ["tenant": job.owner.tenant, "user": job.owner.user, "role": job.owner.role, "plan": job.owner.plan]
        object["tried"] = job.tried ?? []
        if let node = job.node { object["node"] = node }
        if let started = job.startedAt {
            object["queue_ms"] = Int(max(0, started.timeIntervalSince(job.createdAt)) * 1000)
            if let finished = job.finishedAt { object["run_ms"] = Int(max(0, finished.timeIntervalSince(started)) * 1000) }
        }
        let chunks = try await jobs.store.chunks(of: job.id, after: 0)
        let events = chunks.prefix(Self.maxEvents).map { chunk -> [String: Any] in
            ["seq": chunk.seq, "event": chunk.event.name, "data": ServerSentEvents.foundation(ServerSentEvents.jobPayload(chunk))]
        }
        return ["object": "job.inspection", "job": object, "events": events, "events_total": chunks.count]
    }

    static let maxEvents = 2000
}
