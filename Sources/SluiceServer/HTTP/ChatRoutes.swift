import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCache
import SluiceCore
import SluiceProviders
import SluiceStore

/// `POST /v1/chat/completions` and `GET /v1/models`: the OpenAI-compatible face. Every request is a job;
/// the streamed answer carries `id:` lines and `X-Sluice-Job-Id`, so a dropped client resumes it
/// through the jobs stream.
struct ChatRoutes {
    let pipeline: RequestPipeline
    var jobs: JobService { pipeline.jobs }
    /// Non-streamed cache hits' bodies, encoded once per cached answer and served as they are.
    let hitBodies = BoundedMemo<Data>()
    /// Streamed cache hits' events, the same way (apart: a stream's events are several times a body's
    /// bytes, and would crowd bodies out of one memo).
    let hitEvents = BoundedMemo<Data>()

    func register(on group: RouterGroup<SluiceRequestContext>) {
        group.post("chat/completions") { request, context in try await complete(request, context: context) }
        group.get("models") { _, _ in models() }
    }

    func models() -> Response {
        let data = jobs.router.aliases.map { alias -> [String: Any] in
            [
                "id": alias, "object": "model", "created": 0, "owned_by": "sluice",
                "capabilities": ["chat": true, "embeddings": jobs.router.embeds(alias)],
                "deployments": jobs.router.deployments(of: alias),
            ]
        }
        return JSONResponse.make(["object": "list", "data": data])
    }

    func complete(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        let accepted = try await pipeline.accept(request, context: context)
        let chat = accepted.chat
        var answer = Answer(
            id: "", created: Date(), chat: chat, headers: accepted.fields, resumeHint: "", deadlineSeconds: jobs.configuration.queue.deadlineSeconds,
            outlet: StreamOutlet(context, server: jobs.configuration.server, metrics: jobs.metrics), ticket: accepted.ticket)
        switch accepted.outcome {
        case .hit(let entry, let layer):
            answer.id = "chatcmpl-" + entry.key.prefix(48)
            // The answer's own time: every hit on it is then the same bytes.
            answer.created = entry.createdAt
            // Everything a hit's bytes depend on: the answer, its layer, the model asked, its time, its form.
            let form = chat.stream != true ? "whole" : chat.wantsUsageChunk ? "events+usage" : "events"
            let memo = [entry.key, layer, chat.model, String(entry.createdAt.timeIntervalSince1970), form].joined(separator: "\u{1E}")
            if chat.stream == true {
                if let events = hitEvents.get(memo) { return answer.stream(bytes: events) }
                let events = answer.events(replay: JobService.replay(entry, cache: layer))
                hitEvents.set(memo, events)
                return answer.stream(bytes: events)
            }
            if let body = hitBodies.get(memo) { return JSONResponse.make(bytes: body, headers: answer.headers) }
            guard let body = answer.completion(replay: JobService.replay(entry, cache: layer)) else {
                return ErrorMiddleware<SluiceRequestContext>.response(SluiceError(.internalError), request: request)
            }
            hitBodies.set(memo, body)
            return JSONResponse.make(bytes: body, headers: answer.headers)
        case .job(let job), .follower(let job):
            answer.headers[.sluiceJobID] = job.id
            answer.id = "chatcmpl-" + job.id.dropFirst(4)
            answer.created = job.createdAt
            answer.resumeHint = "The answer restarted after a failure; resume it from /v1/jobs/\(job.id)/stream."
            return await answer.respond(try await jobs.hub.subscribe(job.id, after: 0), request: request)
        }
    }
}

/// One answer in OpenAI's formats, made from a job's stream: a `chat.completion` object, or
/// `chat.completion.chunk` events with `id:` lines and a final `[DONE]` only after a complete answer.
struct Answer: Sendable {
    var id: String
    var created: Date
    var chat: ChatRequest
    var headers: HTTPFields
    var resumeHint: String
    var deadlineSeconds: Double
    /// Where a streamed answer goes.
    var outlet: StreamOutlet
    /// The open-stream count this answer holds, released with the response.
    var ticket: AdmissionController.StreamTicket? = nil

    func respond(_ chunks: Subscription, request: Request) async -> Response {
        if chat.stream == true { return stream(chunks) }
        var answer = AnswerAssembly()
        for await chunk in chunks {
            if let response = add(chunk, to: &answer, request: request) { return response }
        }
        return ErrorMiddleware<SluiceRequestContext>.response(SluiceError(.shuttingDown, retryAfter: 5), request: request, headers: headers)
    }

    /// A cached answer's whole event stream, as the client reads it (made once per cached answer: a
    /// profile of the exam night found a streamed hit's events encoded one by one on every hit half
    /// the node's time).
    func events(replay chunks: [StreamChunk]) -> Data {
        var body = ByteBuffer()
        var started: Set<Int> = []
        for chunk in chunks {
            let (buffers, last) = events(for: chunk, started: &started)
            for var buffer in buffers { body.writeBuffer(&buffer) }
            if last { break }
        }
        return Data(body.readableBytesView)
    }

    /// A cached answer's events, made by `events(replay:)`, written as they are.
    func stream(bytes: Data) -> Response {
        var headers = headers
        headers.append(contentsOf: JSONResponse.sseHeaders)
        let (ticket, outlet) = (ticket, outlet)
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { withExtendedLifetime(ticket) {} }
            // In pieces, each of which may wait `maxStall` as one event's write may: a long answer read
            // slowly is not a client that stopped reading.
            var events = ByteBuffer(bytes: bytes)
            while events.readableBytes > 0, let piece = events.readSlice(length: min(events.readableBytes, ServerSentEvents.writeBatchBytes)) {
                try await outlet.withinStall { try await writer.write(piece) }
            }
            try await writer.finish(nil)
        })
    }

    /// A cached answer's whole `chat.completion` body, assembled without a stream between the cache and
    /// the response (a profile of cache hits found the stream's machinery a tenth of the node's time).
    func completion(replay chunks: [StreamChunk]) -> Data? {
        var answer = AnswerAssembly()
        for chunk in chunks {
            answer.add(chunk.event)
            if case .done(let reason, let usage, _, _, let fingerprint) = chunk.event {
                return try? JSONResponse.encoder.encode(whole(answer, finishReason: reason, usage: usage, fingerprint: fingerprint))
            }
        }
        return nil
    }

    /// The `chat.completion` object of an ended answer.
    private func whole(_ answer: AnswerAssembly, finishReason: String, usage: Usage, fingerprint: String?) -> ChatCompletion {
        ChatCompletion(id: id, created: created, model: chat.model, answer: answer, finishReason: finishReason, usage: usage, fingerprint: fingerprint)
    }

    /// Adds a chunk to a whole answer; the response once the answer has ended.
    private func add(_ chunk: StreamChunk, to answer: inout AnswerAssembly, request: Request) -> Response? {
        answer.add(chunk.event)
        switch chunk.event {
        case .delta, .choice, .reset:
            return nil
        case .done(let reason, let usage, _, _, let fingerprint):
            return (try? JSONResponse.make(encodable: whole(answer, finishReason: reason, usage: usage, fingerprint: fingerprint), headers: headers))
                ?? ErrorMiddleware<SluiceRequestContext>.response(SluiceError(.internalError), request: request)
        case .error(let code, let message):
            let known = SluiceError.Code(rawValue: code) ?? .providerError
            if known == .deadlineExceeded || known == .jobCancelled {
                return ErrorMiddleware<SluiceRequestContext>.response(
                    SluiceError(known, details: ["seconds": String(Int(deadlineSeconds))]), request: request, headers: headers)
            }
            return ErrorMiddleware<SluiceRequestContext>.response(code: known, message: message, headers: headers)
        }
    }

    func stream(_ chunks: Subscription) -> Response {
        var headers = headers
        headers.append(contentsOf: JSONResponse.sseHeaders)
        let (ticket, outlet) = (ticket, outlet)
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { withExtendedLifetime(ticket) {} }
            // Choices whose first chunk went out (it carries the role).
            var started: Set<Int> = []
            try await ServerSentEvents.pump(chunks, to: outlet, into: &writer) { chunk in events(for: chunk, started: &started) }
            try await writer.finish(nil)
        })
    }

    /// A chunk of the answer as the client's events; `last` once the answer has ended. `started` holds
    /// the choices whose first chunk went out (it carries the role).
    func events(for chunk: StreamChunk, started: inout Set<Int>) -> (buffers: [ByteBuffer], last: Bool) {
        func event(_ value: ChatCompletionChunk) -> ByteBuffer {
            ServerSentEvents.event(id: chunk.seq, name: nil, json: value.json)
        }
        func error(code: String, message: String) -> ByteBuffer {
            let type = SluiceError.Code(rawValue: code)?.type ?? "server_error"
            let object = ErrorMiddleware<SluiceRequestContext>.errorObject(code: code, message: message, type: type)
            return ServerSentEvents.event(id: chunk.seq, name: nil, json: ServerSentEvents.json(object))
        }
        switch chunk.event {
        case .delta(let text):
            let first = started.insert(0).inserted
            return ([event(ChatCompletionChunk(id: id, created: created, model: chat.model, role: first ? "assistant" : nil, content: text))], false)
        case .choice(let piece):
            let first = started.insert(piece.index).inserted
            return ([event(ChatCompletionChunk(id: id, created: created, model: chat.model, choices: [piece.chunkChoice(first: first)]))], false)
        case .done(let reason, let usage, let cache, let queueMs, let fingerprint):
            var last = ChatCompletionChunk(id: id, created: created, model: chat.model, finishReason: reason)
            last.systemFingerprint = fingerprint
            last.sluice = .init(cache: cache, queueMs: queueMs ?? 0)
            var buffers = [event(last)]
            if chat.wantsUsageChunk {
                buffers.append(event(ChatCompletionChunk(id: id, created: created, model: chat.model, choices: [], usage: usage)))
            }
            buffers.append(ByteBuffer(string: "data: [DONE]\n\n"))
            return (buffers, true)
        case .reset:
            return ([error(code: SluiceError.Code.streamInterrupted.rawValue, message: resumeHint)], true)
        case .error(let code, let message):
            return ([error(code: code, message: message)], true)
        }
    }
}

/// JSON responses.
enum JSONResponse {
    /// One pass into a `JSONWriter`, no tree first (a whole answer's body; slashes not escaped).
    static let encoder = StreamingJSONEncoder()

    static let sseHeaders: HTTPFields = [
        // With the charset said: clients built on Python's `requests` read text/event-stream without
        // one as Latin-1 and break Mongolian text.
        .contentType: "text/event-stream; charset=utf-8",
        .cacheControl: "no-cache",
        .accelBuffering: "no",
    ]

    static func make(_ object: Any, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: ServerSentEvents.json(object))))
    }

    static func make(encodable value: some Encodable, headers: HTTPFields = [:]) throws -> Response {
        make(bytes: try encoder.encode(value), headers: headers)
    }

    /// A 200 with a JSON body already encoded.
    static func make(bytes: Data, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
