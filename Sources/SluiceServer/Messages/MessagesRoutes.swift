import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore

/// Anthropic's Messages API (`POST /v1/messages`) as a front door to every alias: the request runs as a
/// job like any other (queued, limited, cached, single-flight), answered as a message or as Anthropic's
/// events; errors come in Anthropic's shape. `x-api-key` is read like `Authorization: Bearer`, and
/// `anthropic-version` is accepted whatever it says.
struct MessagesRoutes {
    let pipeline: RequestPipeline
    var jobs: JobService { pipeline.jobs }

    func register(on group: RouterGroup<SluiceRequestContext>) {
        group.post("messages") { request, context in try await create(request, context: context) }
    }

    func create(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        if jobs.health.refusesAtOnce { throw SluiceError(.storageUnavailable, retryAfter: 1) }
        let asked = try MessagesRequest(try await RequestBody.object(of: request, limit: jobs.configuration.server.maxBodyBytes))
        try asked.chat.validate(configuration: jobs.configuration, router: jobs.router, anyModel: false)
        let accepted = try await pipeline.accept(asked.chat, headers: request.headers, context: context, origin: .message, streams: asked.stream)
        let job = try await pipeline.job(of: accepted, origin: .message)
        var headers = accepted.fields
        headers[.sluiceJobID] = job.id
        let hint = "The answer restarted after a failure; resume it from /v1/jobs/\(job.id)/stream."
        if let ticket = accepted.ticket {
            let chunks = try await jobs.hub.subscribe(job.id, after: 0)
            headers.append(contentsOf: JSONResponse.sseHeaders)
            let outlet = StreamOutlet(context, server: jobs.configuration.server, metrics: jobs.metrics)
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                defer { withExtendedLifetime(ticket) {} }
                var events = MessageEvents(job: job)
                func render(_ list: [(String, JSONValue)], seq: Int?) -> [ByteBuffer] {
                    list.map { ServerSentEvents.event(id: seq, name: $0.0, json: ServerSentEvents.json($0.1)) }
                }
                try await writer.write(contentsOf: render(events.opening(), seq: nil))
                try await ServerSentEvents.pump(chunks, to: outlet, into: &writer) { chunk in
                    let (list, last) = events.events(for: chunk, resumeHint: hint)
                    return (render(list, seq: chunk.seq), last)
                }
                try await writer.finish(nil)
            })
        }
        var answer = AnswerAssembly()
        for await chunk in try await jobs.hub.subscribe(job.id, after: 0) {
            answer.add(chunk.event)
            switch chunk.event {
            case .delta, .choice, .reset: continue
            case .done(let reason, let usage, _, _, _):
                let message = MessageEvents(job: job).message(text: answer.text, stopReason: MessageEvents.stopReason(reason), usage: usage)
                return JSONResponse.make(ServerSentEvents.foundation(message), headers: headers)
            case .error(let code, let message):
                return ErrorMiddleware<SluiceRequestContext>.response(
                    code: SluiceError.Code(rawValue: code) ?? .providerError, message: message, headers: headers, anthropic: true)
            }
        }
        throw SluiceError(.shuttingDown, retryAfter: 5)
    }
}
