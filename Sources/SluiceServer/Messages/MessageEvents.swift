import Foundation
import SluiceCore

/// A job's stream as Anthropic's Messages events: `message_start`, `content_block_start`, `ping`,
/// `content_block_delta`s, `content_block_stop`, `message_delta` (the stop reason and usage) and
/// `message_stop`. A restart after partial output, or a job that fails, ends the stream with an `error`
/// event; the job goes on and is resumed from `/v1/jobs/{id}/stream` (`X-Sluice-Job-Id`).
struct MessageEvents {
    let id: String
    let model: String
    let promptTokens: Int
    private var open = false

    init(job: Job) {
        id = "msg_" + job.id.dropFirst(4)
        model = job.request.model
        promptTokens = job.request.estimatedPromptTokens
    }

    /// Anthropic's stop reason for a finish reason.
    static func stopReason(_ finishReason: String) -> String {
        switch finishReason {
        case "length": "max_tokens"
        case "content_filter": "refusal"
        default: "end_turn"
        }
    }

    /// A message object with `text` and the usage, as a finished answer or as `message_start` shows it.
    func message(text: String?, stopReason: String?, usage: Usage?) -> JSONValue {
        [
            "id": .string(id), "type": "message", "role": "assistant", "model": .string(model),
            "content": .array(text.map { [["type": "text", "text": .string($0)]] } ?? []),
            "stop_reason": stopReason.map(JSONValue.string) ?? .null, "stop_sequence": .null,
            "usage": [
                "input_tokens": .int(Int64(usage?.promptTokens ?? promptTokens)), "output_tokens": .int(Int64(usage?.completionTokens ?? 0)),
            ],
        ]
    }

    /// The events that open the stream.
    func opening() -> [(String, JSONValue)] {
        [("message_start", ["type": "message_start", "message": message(text: nil, stopReason: nil, usage: nil)]), ("ping", ["type": "ping"])]
    }

    /// The events for one chunk, and whether it ends the stream.
    mutating func events(for chunk: StreamChunk, resumeHint: String) -> (events: [(String, JSONValue)], last: Bool) {
        switch chunk.event {
        case .delta(let text):
            return (started() + [("content_block_delta", ["type": "content_block_delta", "index": 0, "delta": ["type": "text_delta", "text": .string(text)]])], false)
        case .choice:
            return ([], false)
        case .done(let reason, let usage, _, _, _):
            return (started() + [
                ("content_block_stop", ["type": "content_block_stop", "index": 0]),
                ("message_delta", [
                    "type": "message_delta", "delta": ["stop_reason": .string(Self.stopReason(reason)), "stop_sequence": .null],
                    "usage": ["output_tokens": .int(Int64(usage.completionTokens))],
                ]),
                ("message_stop", ["type": "message_stop"]),
            ], true)
        case .reset:
            return ([Self.error(.streamInterrupted, message: resumeHint)], true)
        case .error(let code, let message):
            return ([Self.error(SluiceError.Code(rawValue: code) ?? .providerError, message: message)], true)
        }
    }

    private mutating func started() -> [(String, JSONValue)] {
        guard !open else { return [] }
        open = true
        return [("content_block_start", ["type": "content_block_start", "index": 0, "content_block": ["type": "text", "text": ""]])]
    }

    static func error(_ code: SluiceError.Code, message: String) -> (String, JSONValue) {
        ("error", ErrorMiddleware<SluiceRequestContext>.anthropicErrorObject(code: code, message: message))
    }
}
