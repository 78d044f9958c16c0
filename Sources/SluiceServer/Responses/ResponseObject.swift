import Foundation
import SluiceCore

/// A job shown as an OpenAI `response` object: its status, its output message and its usage.
struct ResponseObject {
    let job: Job
    /// Restarts after partial output so far: the final output item is the one after the last.
    var resets = 0
    /// Whether its owner reads it. A follower (single-flight: another user asked the same) sees the
    /// answer, not the owner's `user`, `metadata` or `previous_response_id`.
    var forOwner = true

    var id: String { ResponseDetails.responseID(forJob: job.id) }
    var details: ResponseDetails {
        job.origin?.response
            ?? ResponseDetails(instructions: nil, previousResponseID: nil, metadata: [:], store: true, background: false, inputCount: job.request.messages.count)
    }

    /// `queued`, `in_progress`, `completed`, `incomplete`, `failed` or `cancelled`.
    var status: String {
        switch job.state {
        case .queued: "queued"
        case .running: "in_progress"
        case .succeeded: Self.incompleteReason(job.result?.finishReason) == nil ? "completed" : "incomplete"
        case .cancelled: "cancelled"
        case .failed, .expired: "failed"
        }
    }

    /// Why an answer that ended with `finishReason` is incomplete, nil when it is complete.
    static func incompleteReason(_ finishReason: String?) -> String? {
        switch finishReason {
        case "length": "max_output_tokens"
        case "content_filter": "content_filter"
        default: nil
        }
    }

    /// The output message item's id; the `n`th restart's answer is another item.
    func itemID(_ n: Int) -> String { "msg_" + job.id.dropFirst(4) + (n == 0 ? "" : "_\(n)") }

    /// An output message holding `text`.
    func item(_ n: Int, text: String?, status: String) -> JSONValue {
        [
            "id": .string(itemID(n)), "type": "message", "role": "assistant", "status": .string(status),
            "content": .array(text.map { [Self.part($0)] } ?? []),
        ]
    }

    static func part(_ text: String) -> JSONValue { ["type": "output_text", "text": .string(text), "annotations": []] }

    /// Usage in the Responses API's names.
    static func usage(_ usage: Usage) -> JSONValue {
        [
            "input_tokens": .int(Int64(usage.promptTokens)), "output_tokens": .int(Int64(usage.completionTokens)),
            "total_tokens": .int(Int64(usage.totalTokens)),
            "input_tokens_details": ["cached_tokens": .int(Int64(usage.details["prompt_tokens_details"]?["cached_tokens"]?.integer ?? 0))],
            "output_tokens_details": ["reasoning_tokens": .int(Int64(usage.details["completion_tokens_details"]?["reasoning_tokens"]?.integer ?? 0))],
        ]
    }

    /// The object with `status` and, once it has ended, its output, usage and error.
    func json(status: String? = nil, error: JobFailure? = nil) -> JSONValue {
        let details = details
        let status = status ?? self.status
        var object: [String: JSONValue] = [
            "id": .string(id), "object": "response", "created_at": .int(Int64(job.createdAt.timeIntervalSince1970)),
            "status": .string(status), "model": .string(job.request.model), "background": .bool(details.background),
            "store": .bool(details.store), "instructions": details.instructions.map(JSONValue.string) ?? .null,
            "previous_response_id": forOwner ? details.previousResponseID.map(JSONValue.string) ?? .null : .null,
            "max_output_tokens": job.request.tokenCap.map { .int(Int64($0)) } ?? .null,
            "temperature": job.request.temperature.map(JSONValue.double) ?? .null, "top_p": job.request.topP.map(JSONValue.double) ?? .null,
            "user": forOwner ? job.request.user.map(JSONValue.string) ?? .null : .null,
            "metadata": forOwner ? .object(details.metadata.mapValues(JSONValue.string)) : [:],
            "output": [], "usage": .null, "error": .null, "incomplete_details": .null,
            "parallel_tool_calls": true, "tool_choice": "auto", "tools": [], "truncation": "disabled",
            "text": ["format": ["type": "text"]],
        ]
        if let result = job.result, job.state == .succeeded {
            object["output"] = [item(resets, text: result.text, status: status == "completed" ? "completed" : "incomplete")]
            object["usage"] = Self.usage(result.usage)
            if let reason = Self.incompleteReason(result.finishReason) { object["incomplete_details"] = ["reason": .string(reason)] }
        }
        if let failure = error ?? job.failure, status == "failed" || status == "cancelled" {
            object["error"] = ["code": .string(failure.code), "message": .string(failure.message)]
        }
        return .object(object)
    }

    /// This request's input items, as `GET /v1/responses/{id}/input_items` lists them (oldest first).
    var inputItems: [JSONValue] {
        job.request.messages.suffix(details.inputCount).enumerated().map { index, message in
            let type = message.role == "assistant" ? "output_text" : "input_text"
            var content: [JSONValue] = []
            switch message.body {
            case .text(let text): content = [["type": .string(type), "text": .string(text)]]
            case .parts(let parts):
                content = parts.map { part in
                    part["type"]?.string == "text"
                        ? ["type": .string(type), "text": part["text"] ?? ""]
                        : ["type": "input_image", "image_url": part["image_url"]?["url"] ?? .null, "detail": part["image_url"]?["detail"] ?? "auto"]
                }
            case .none: break
            }
            return [
                "id": .string("msg_" + job.id.dropFirst(4) + "_in\(index)"), "type": "message", "role": .string(message.role),
                "status": "completed", "content": .array(content),
            ]
        }
    }
}
