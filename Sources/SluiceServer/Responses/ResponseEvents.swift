import Foundation
import SluiceCore

/// Turns a job's stream into the Responses API's events, numbered by `sequence_number`.
///
/// The events are a function of the job's stored stream read from its start, and each one's number is
/// made from the number of the chunk it comes from (`8 × seq + i`): they are the same on every node and
/// on every replay, and since a re-run after a restart numbers its chunks past anything the dead run
/// may have sent, a number is never given to two events. Numbers increase but skip; resuming with
/// `starting_after=N` replays the stream and sends what is numbered above N. A restart after partial
/// output (the jobs stream's `reset`) closes the abandoned message with `response.output_item.done`
/// and status `incomplete`, and the new answer comes as the next output item; `response.completed`
/// holds only the final one. A notice that is not part of the stored stream (the store is unavailable,
/// the node is stopping) is an `error` event numbered just below the next chunk's events, so resuming
/// after it loses nothing.
struct ResponseEvents {
    /// One event: its number, its type and its JSON.
    struct Event {
        var sequenceNumber: Int
        var type: String
        var json: JSONValue
    }

    private(set) var job: Job
    /// The number of the next event: its chunk's base, then one more per event.
    private var next = 0
    /// The number of the last event made, -1 before the first.
    private(set) var last = -1
    /// Events one chunk can make, at most (7: `in_progress`, an item opened and closed, the end).
    static let perChunk = 8
    private var started = false
    private var open = false
    private var text = ""
    private var resets = 0
    /// The response object its last event carried, once the job has ended.
    private(set) var final: JSONValue?

    /// Whether the stream's reader owns the response (see `ResponseObject.forOwner`).
    let forOwner: Bool

    init(job: Job, forOwner: Bool = true) {
        self.job = job
        self.forOwner = forOwner
    }

    /// The events that open every stream: `response.created` (queued).
    mutating func opening() -> [Event] {
        var queued = job
        queued.state = .queued
        return [make("response.created", ["response": ResponseObject(job: queued, forOwner: forOwner).json(status: "queued")])]
    }

    /// The events for one chunk of the job's stream.
    mutating func events(for chunk: StreamChunk) -> [Event] {
        if chunk.seq == 0 {
            // A notice, not part of the stored stream: numbered in the last chunk's spare place.
            guard case .error(let code, let message) = chunk.event else { return [] }
            let number = max(0, last / Self.perChunk) * Self.perChunk + Self.perChunk - 1
            return [Event(sequenceNumber: number, type: "error", json: [
                "type": "error", "sequence_number": .int(Int64(number)), "code": .string(code), "message": .string(message), "param": .null,
            ])]
        }
        next = chunk.seq * Self.perChunk
        var events: [Event] = []
        if !started {
            started = true
            var running = job
            running.state = .running
            events.append(make("response.in_progress", ["response": ResponseObject(job: running, forOwner: forOwner).json(status: "in_progress")]))
        }
        switch chunk.event {
        case .delta(let piece):
            events += opened()
            text += piece
            events.append(make("response.output_text.delta", location(["delta": .string(piece), "logprobs": []])))
        case .choice:
            // Tool calls and other choices: a Responses request asks for text only.
            break
        case .reset:
            if open { events += closed(status: "incomplete") }
            resets += 1
            text = ""
        case .done(let reason, let usage, _, _, _):
            events += opened() + closed(status: ResponseObject.incompleteReason(reason) == nil ? "completed" : "incomplete")
            job.state = .succeeded
            job.result = JobResult(text: text, finishReason: reason, usage: usage)
            let object = ResponseObject(job: job, resets: resets, forOwner: forOwner)
            let type = object.status == "completed" ? "response.completed" : "response.incomplete"
            final = object.json()
            events.append(make(type, ["response": final!]))
        case .error(let code, let message):
            if open { events += closed(status: "incomplete") }
            job.state = code == SluiceError.Code.jobCancelled.rawValue ? .cancelled : .failed
            let failure = JobFailure(code: code, message: message)
            job.failure = failure
            final = ResponseObject(job: job, resets: resets, forOwner: forOwner).json(error: failure)
            events.append(make("response.failed", ["response": final!]))
        }
        return events
    }

    private mutating func opened() -> [Event] {
        guard !open else { return [] }
        open = true
        let object = ResponseObject(job: job, resets: resets, forOwner: forOwner)
        return [
            make("response.output_item.added", ["output_index": .int(Int64(resets)), "item": object.item(resets, text: nil, status: "in_progress")]),
            make("response.content_part.added", location(["part": ResponseObject.part("")])),
        ]
    }

    private mutating func closed(status: String) -> [Event] {
        open = false
        let object = ResponseObject(job: job, resets: resets, forOwner: forOwner)
        return [
            make("response.output_text.done", location(["text": .string(text), "logprobs": []])),
            make("response.content_part.done", location(["part": ResponseObject.part(text)])),
            make("response.output_item.done", ["output_index": .int(Int64(resets)), "item": object.item(resets, text: text, status: status)]),
        ]
    }

    /// Where a text event belongs: its item, output index and content index.
    private func location(_ fields: [String: JSONValue]) -> [String: JSONValue] {
        fields.merging([
            "item_id": .string(ResponseObject(job: job).itemID(resets)), "output_index": .int(Int64(resets)), "content_index": 0,
        ]) { a, _ in a }
    }

    private mutating func make(_ type: String, _ fields: [String: JSONValue]) -> Event {
        defer {
            last = next
            next += 1
        }
        var object = fields
        object["type"] = .string(type)
        object["sequence_number"] = .int(Int64(next))
        return Event(sequenceNumber: next, type: type, json: .object(object))
    }
}
