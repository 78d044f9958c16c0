import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore
import SluiceStore

/// OpenAI's Responses API (`/v1/responses`) over Sluice's jobs: a response is a job (`resp_X` is
/// `job_X`) on the same cache, admission, single-flight, queue and providers as chat. Its events are
/// made from the job's stored stream, so `GET /v1/responses/{id}?stream=true&starting_after=N` resumes
/// it on any node, for as long as the job is kept (`retention.streamSeconds`). Only its owner (and the
/// followers of the job it joined) sees it; anyone else gets 404.
struct ResponsesRoutes {
    let pipeline: RequestPipeline
    var jobs: JobService { pipeline.jobs }

    func register(on group: RouterGroup<SluiceRequestContext>) {
        group.post("responses") { request, context in try await create(request, context: context) }
        group.get("responses/{id}") { request, context in try await retrieve(request, context: context) }
        group.post("responses/{id}/cancel") { _, context in
            let principal = try context.requirePrincipal()
            let job = try await pipeline.cancel(try await responseJob(context, for: principal).id, for: principal)
            return JSONResponse.make(ServerSentEvents.foundation(ResponseObject(job: job, forOwner: principal.owns(job.owner)).json()))
        }
        group.delete("responses/{id}") { _, context in
            let principal = try context.requirePrincipal()
            var job = try await responseJob(context, for: principal)
            if !job.state.isTerminal { job = try await pipeline.cancel(job.id, for: principal) }
            guard principal.owns(job.owner), try await jobs.store.deleteEnded(jobID: job.id) else { throw Self.notFound(context) }
            return JSONResponse.make(["id": ResponseDetails.responseID(forJob: job.id), "object": "response", "deleted": true])
        }
        group.get("responses/{id}/input_items") { request, context in
            let job = try await responseJob(context, for: try context.requirePrincipal())
            return try Self.list(ResponseObject(job: job).inputItems, query: request.uri.queryParameters)
        }
    }

    func create(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        if jobs.health.refusesAtOnce { throw SluiceError(.storageUnavailable, retryAfter: 1) }
        var asked = try ResponsesRequest(try await RequestBody.object(of: request, limit: jobs.configuration.server.maxBodyBytes))
        let principal = try context.requirePrincipal()
        if let previousID = asked.details.previousResponseID {
            let previous = try await responseJob(previousID, for: principal)
            guard previous.state == .succeeded, previous.result != nil else {
                throw BodyFields.wrongType("previous_response_id", "must name a completed response")
            }
            asked.continuing(previous)
        }
        try asked.chat.validate(configuration: jobs.configuration, router: jobs.router, anyModel: false)
        let origin = JobOrigin.response(asked.details)
        let accepted = try await pipeline.accept(
            asked.chat, headers: request.headers, context: context, origin: origin, background: Background(callback: asked.callback),
            streams: asked.stream)
        let job = try await pipeline.job(of: accepted, origin: origin)
        if let url = asked.callback { try await jobs.callbacks.register(job, url: url) }
        var headers = accepted.fields
        headers[.sluiceJobID] = job.id
        if let ticket = accepted.ticket {
            return try await stream(job, after: -1, headers: headers, context: context, ticket: ticket)
        }
        let forOwner = principal.owns(job.owner)
        if asked.details.background {
            return JSONResponse.make(ServerSentEvents.foundation(ResponseObject(job: job, forOwner: forOwner).json()), headers: headers)
        }
        // Answered when it ends, like a chat completion.
        var events = ResponseEvents(job: job, forOwner: forOwner)
        for await chunk in try await jobs.hub.subscribe(job.id, after: 0) {
            for event in events.events(for: chunk) where event.type == "error" {
                throw SluiceError(SluiceError.Code(rawValue: event.json["code"]?.string ?? "") ?? .storeUnavailable, retryAfter: 2)
            }
        }
        guard let final = events.final else { throw SluiceError(.shuttingDown, retryAfter: 5) }
        if let error = final["error"], error != .null {
            let known = SluiceError.Code(rawValue: error["code"]?.string ?? "") ?? .providerError
            if known == .deadlineExceeded || known == .jobCancelled {
                throw SluiceError(known, details: ["seconds": String(Int(jobs.configuration.queue.deadlineSeconds))])
            }
            return ErrorMiddleware<SluiceRequestContext>.response(code: known, message: error["message"]?.string ?? "", headers: headers)
        }
        return JSONResponse.make(ServerSentEvents.foundation(final), headers: headers)
    }

    func retrieve(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let query = request.uri.queryParameters
        guard query["stream"].map(String.init)?.lowercased() == "true" else {
            let job = try await responseJob(context, for: principal)
            return JSONResponse.make(ServerSentEvents.foundation(try await object(job, forOwner: principal.owns(job.owner))))
        }
        let after = try Self.startingAfter(request)
        // Ended and swept (or never was): nothing more will come, so an EventSource stops asking.
        let named = ResponseDetails.jobID(forResponse: context.parameters.get("id") ?? "")
        guard let named, try await jobs.store.job(id: named) != nil else { return Response(status: .noContent) }
        let job = try await responseJob(context, for: principal)
        return try await stream(job, after: after, headers: [.sluiceJobID: job.id], context: context, ticket: nil)
    }

    /// The response's events numbered above `after`: replayed from the job's stream, then live, counted
    /// as one of its caller's open streams: by the ticket its creation took, or else as a resume.
    func stream(
        _ job: Job, after: Int, headers: HTTPFields, context: SluiceRequestContext, ticket given: AdmissionController.StreamTicket?
    ) async throws -> Response {
        if job.state.isTerminal {
            // Everything was said already: 204, so that a client (or an EventSource) stops reconnecting.
            var events = ResponseEvents(job: job)
            _ = events.opening()
            let stored = try await jobs.store.chunks(of: job.id, after: 0)
            for chunk in stored { _ = events.events(for: chunk) }
            // Nothing after `after`, or the stream was swept (the response is read whole with a plain GET).
            if stored.isEmpty || events.last <= after { return Response(status: .noContent) }
        }
        let ticket: AdmissionController.StreamTicket
        if let given { ticket = given } else { ticket = try await pipeline.gate.openStream(for: try context.requirePrincipal(), resuming: after >= 0) }
        let chunks = try await jobs.hub.subscribe(job.id, after: 0)
        var headers = headers
        headers.append(contentsOf: JSONResponse.sseHeaders)
        let outlet = StreamOutlet(context, server: jobs.configuration.server, metrics: jobs.metrics)
        let forOwner = try context.requirePrincipal().owns(job.owner)
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { withExtendedLifetime(ticket) {} }
            var events = ResponseEvents(job: job, forOwner: forOwner)
            func render(_ list: [ResponseEvents.Event]) -> [ByteBuffer] {
                list.filter { $0.sequenceNumber > after || $0.type == "error" }.map {
                    ServerSentEvents.event(id: $0.sequenceNumber, name: $0.type, json: ServerSentEvents.json($0.json))
                }
            }
            try await writer.write(contentsOf: render(events.opening()))
            try await ServerSentEvents.pump(chunks, to: outlet, into: &writer) { chunk in
                (render(events.events(for: chunk)), chunk.event.isTerminal)
            }
            try await writer.finish(nil)
        })
    }

    /// The response object of a job as it stands; a restarted answer's item is numbered as its stream numbers it.
    func object(_ job: Job, forOwner: Bool) async throws -> JSONValue {
        guard job.state == .succeeded, job.attempt > 1 else { return ResponseObject(job: job, forOwner: forOwner).json() }
        let resets = try await jobs.store.chunks(of: job.id, after: 0).count { $0.event == .reset }
        return ResponseObject(job: job, resets: resets, forOwner: forOwner).json()
    }

    /// The job behind the response named in the path.
    func responseJob(_ context: SluiceRequestContext, for principal: Principal) async throws -> Job {
        try await responseJob(context.parameters.get("id") ?? "", for: principal)
    }

    /// The job behind a response its caller may see: its own (or one it follows), and while it runs or
    /// while it is stored (`store: false` hides it once it has ended). Anything else is not found.
    func responseJob(_ id: String, for principal: Principal) async throws -> Job {
        let notFound = SluiceError(.jobNotFound, details: ["id": String(id.prefix(64))])
        guard id.count <= 64, let jobID = ResponseDetails.jobID(forResponse: id) else { throw notFound }
        let job = try await jobs.job(jobID, for: principal)
        if job.state.isTerminal, job.origin?.response?.store == false { throw notFound }
        return job
    }

    static func notFound(_ context: SluiceRequestContext) -> SluiceError {
        SluiceError(.jobNotFound, details: ["id": String((context.parameters.get("id") ?? "").prefix(64))])
    }

    /// `starting_after=N` (or `Last-Event-ID: N`): the last sequence number the client has; -1 for none.
    static func startingAfter(_ request: Request) throws -> Int {
        let raw = request.uri.queryParameters["starting_after"].map(String.init) ?? request.headers[.lastEventID]
        guard let raw, !raw.isEmpty else { return -1 }
        guard raw.utf8.count <= 20, let value = Int(raw), (-1...JobRoutes.maxResumePoint).contains(value) else {
            throw SluiceError(.invalidParameter, details: ["field": "starting_after", "reason": "must be a whole number from 0 to \(JobRoutes.maxResumePoint)"])
        }
        return value
    }

    /// A page of items as OpenAI lists them: `limit` (1–100, default 20), `order` (`asc` or `desc`,
    /// the default), `after` and `before` (item ids).
    static func list(_ items: [JSONValue], query: Parameters) throws -> Response {
        let limit: Int
        if let raw = query["limit"] {
            guard let value = Int(raw), (1...100).contains(value) else {
                throw SluiceError(.invalidParameter, details: ["field": "limit", "reason": "must be a whole number from 1 to 100"])
            }
            limit = value
        } else {
            limit = 20
        }
        let order = query["order"].map(String.init) ?? "desc"
        guard order == "asc" || order == "desc" else {
            throw SluiceError(.invalidParameter, details: ["field": "order", "reason": "must be asc or desc"])
        }
        var ordered = order == "asc" ? items : items.reversed()
        if let after = query["after"].map(String.init), let index = ordered.firstIndex(where: { $0["id"]?.string == after }) {
            ordered = Array(ordered[(index + 1)...])
        }
        if let before = query["before"].map(String.init), let index = ordered.firstIndex(where: { $0["id"]?.string == before }) {
            ordered = Array(ordered[..<index])
        }
        let page = Array(ordered.prefix(limit))
        return JSONResponse.make([
            "object": "list", "data": ServerSentEvents.foundation(.array(page)),
            "first_id": page.first?["id"]?.string as Any? ?? NSNull(), "last_id": page.last?["id"]?.string as Any? ?? NSNull(),
            "has_more": ordered.count > page.count,
        ])
    }
}
