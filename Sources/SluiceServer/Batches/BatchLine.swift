import Crypto
import Foundation
import HTTPTypes
import Logging
import SluiceCore
import SluiceStore

/// One line of a batch, run as its API would run it for the batch's owner, in the batch class: a
/// result for the output file (2xx) or the error file. A refusal that says when to come back (a rate
/// limit, an overload) is waited out while the batch's window lasts; nil when the node let go of the
/// batch first (the line runs again where the batch resumes).
struct BatchLine {
    let runner: BatchRunner
    let batch: BatchRecord
    let control: BatchControl

    var jobs: JobService { runner.jobs }

    func run(_ line: BatchInput.Line) async throws -> BatchLineResult? {
        let jobID = "job_" + Self.hex(batch.id + ":" + String(line.index), length: 48)
        while true {
            if control.leaseLost || Task.isCancelled { return nil }
            if control.cancelled, try await jobs.store.job(id: jobID) == nil { return nil }
            let result: BatchLineResult
            do {
                result = try await answer(line, jobID: jobID)
            } catch let error as SluiceError where error.retryAfter != nil && error.code.status >= 429 {
                let wait = Double(max(1, error.retryAfter ?? 1))
                if Date().addingTimeInterval(wait) > batch.expiresAt { return try await keep(Self.failure(line, error)) }
                try? await Task.sleep(for: .seconds(wait))
                continue
            } catch let error as SluiceError {
                return try await keep(Self.failure(line, error))
            } catch is CancellationError {
                return nil
            } catch {
                // The store failed: the line is tried again (never answered twice: its job id is fixed), while
                // the batch's window lasts.
                if Date() > batch.expiresAt { return try await keep(Self.failure(line, SluiceError(.internalError))) }
                runner.logger.warning("a batch line failed; trying again", metadata: ["sluice.batch": "\(batch.id)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            return try await keep(result)
        }
    }

    /// Stores a line's result as soon as it is known.
    func keep(_ result: BatchLineResult) async throws -> BatchLineResult {
        try await runner.store.addBatchResults(batchID: batch.id, [result])
        return result
    }

    func answer(_ line: BatchInput.Line, jobID: String) async throws -> BatchLineResult {
        switch batch.endpoint {
        case "/v1/embeddings":
            let (object, _, _) = try await runner.embeddings.answer(try EmbeddingsRequest(line.body), owner: batch.owner)
            return Self.result(line, status: 200, requestID: nil, body: object, error: nil)
        case "/v1/responses":
            var asked = try ResponsesRequest(line.body)
            guard !asked.stream else { throw BodyFields.wrongType("stream", "a batch's requests cannot stream") }
            if let previousID = asked.details.previousResponseID {
                let previous = try await jobs.job(ResponseDetails.jobID(forResponse: previousID) ?? "", for: batch.owner)
                guard previous.state == .succeeded else { throw BodyFields.wrongType("previous_response_id", "must name a completed response") }
                asked.continuing(previous)
            }
            try asked.chat.validate(configuration: jobs.configuration, router: jobs.router, anyModel: false)
            let job = try await runJob(asked.chat, origin: .response(asked.details), jobID: jobID, namespace: line.namespace)
            return Self.result(line, job: job) { ServerSentEvents.foundation(ResponseObject(job: $0).json()) }
        default:
            let data = try JSONEncoder().encode(JSONValue.object(line.body))
            let chat = try ChatRequest.decode(data: data, configuration: jobs.configuration, router: jobs.router)
            guard chat.stream != true else { throw BodyFields.wrongType("stream", "a batch's requests cannot stream") }
            let job = try await runJob(chat, origin: nil, jobID: jobID, namespace: line.namespace)
            return Self.result(line, job: job) { job in
                guard let result = job.result else { return NSNull() }
                let completion = ChatCompletion(
                    id: "chatcmpl-" + job.id.dropFirst(4), created: job.createdAt, model: job.request.model, answer: result.assembly,
                    finishReason: result.finishReason, usage: result.usage, fingerprint: result.fingerprint)
                return (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(completion))) ?? NSNull()
            }
        }
    }

    /// Runs a chat request as the line's job (or waits for the one a previous run submitted), to its end.
    func runJob(_ chat: ChatRequest, origin: JobOrigin?, jobID: String, namespace: String) async throws -> Job {
        if let existing = try await jobs.store.job(id: jobID) { return try await ended(existing) }
        var options = RequestOptions()
        options.batch = true
        options.namespace = namespace
        options.noCache = batch.refresh ?? false
        // A line waits in the queue while interactive work runs, for as long as its batch's window lasts.
        let accepted = try await runner.pipeline.accept(
            chat, owner: batch.owner, options: options, origin: origin, background: Background(deadline: batch.expiresAt), id: jobID,
            logger: runner.logger)
        let job = try await runner.pipeline.job(of: accepted, origin: origin)
        // A hit is stored already finished.
        if case .hit = accepted.outcome { return job }
        return try await ended(job)
    }

    /// Waits for a job to end and reads it; cancelled with the batch.
    func ended(_ job: Job) async throws -> Job {
        // A line that follows another's identical job (single-flight) waits for it, and never cancels it.
        guard job.owner == batch.owner else { return try await ended(job, watching: false) }
        guard control.started(job.id, owner: job.owner) else {
            _ = try? await runner.pipeline.cancel(job.id, for: job.owner)
            return try await ended(job, watching: false)
        }
        defer { control.ended(job.id) }
        return try await ended(job, watching: true)
    }

    private func ended(_ job: Job, watching: Bool) async throws -> Job {
        while true {
            if control.leaseLost { throw CancellationError() }
            for await _ in try await jobs.hub.subscribe(job.id, after: Int.max - 1) {}
            if let current = try await jobs.store.job(id: job.id), current.state.isTerminal { return current }
            try Task.checkCancellation()
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// A job's outcome as a line: its object when it succeeded, else the error its API would answer.
    static func result(_ line: BatchInput.Line, job: Job, body: (Job) -> Any) -> BatchLineResult {
        guard job.state == .succeeded else {
            let code = SluiceError.Code(rawValue: job.failure?.code ?? "") ?? .providerError
            return result(
                line, status: code.status, requestID: job.id,
                body: ServerSentEvents.foundation(
                    ErrorMiddleware<SluiceRequestContext>.errorObject(code: code.rawValue, message: job.failure?.message ?? "", type: code.type)),
                error: nil)
        }
        return result(line, status: 200, requestID: job.id, body: body(job), error: nil)
    }

    static func failure(_ line: BatchInput.Line, _ error: SluiceError) -> BatchLineResult {
        result(
            line, status: error.code.status, requestID: nil,
            body: ServerSentEvents.foundation(
                ErrorMiddleware<SluiceRequestContext>.errorObject(code: error.code.rawValue, message: error.message(language: .en), type: error.code.type)),
            error: nil)
    }

    /// A line of an output or error file, as OpenAI writes them.
    static func result(_ line: BatchInput.Line, status: Int?, requestID: String?, body: Any?, error: [String: String]?) -> BatchLineResult {
        var response: Any = NSNull()
        if let status { response = ["status_code": status, "request_id": requestID ?? NSNull(), "body": body ?? NSNull()] as [String: Any] }
        let object: [String: Any] = [
            "id": "batch_req_" + hex(line.customID + String(line.index), length: 32), "custom_id": line.customID, "response": response,
            "error": error ?? NSNull(),
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data("{}".utf8)
        return BatchLineResult(line: line.index, ok: status.map { (200..<300).contains($0) } ?? false, data: data)
    }

    /// The first `length` hex digits of a text's SHA-256.
    static func hex(_ text: String, length: Int) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined().prefix(length).description
    }
}
