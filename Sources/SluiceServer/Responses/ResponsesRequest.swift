import Foundation
import SluiceCore

/// An OpenAI Responses request (`POST /v1/responses`), read and checked, and the chat request it runs
/// as: `instructions` becomes a system message, then the history of `previous_response_id`, then the
/// input items as messages. Fields it cannot honour are refused by name, never dropped.
struct ResponsesRequest: Sendable {
    /// The chat request without the history (added once the previous response is read).
    var chat: ChatRequest
    /// The input as messages.
    var input: [ChatMessage]
    /// What the response keeps.
    var details: ResponseDetails
    /// Stream the events.
    var stream: Bool
    /// Where a background response's final object is POSTed (Sluice's `callback_url`).
    var callback: String?

    /// Fields read here; `text`, `tool_choice`, `tools`, `parallel_tool_calls`, `truncation`, `include`,
    /// `stream_options`, `prompt_cache_key`, `safety_identifier` and `service_tier` are accepted only
    /// with values that change nothing (plain text, no tools), and anything else is refused.
    static let fields: Set<String> = [
        "model", "input", "instructions", "max_output_tokens", "temperature", "top_p", "stream", "background", "store",
        "previous_response_id", "metadata", "user", "mock", "callback_url",
    ]

    init(_ body: [String: JSONValue]) throws {
        for (field, value) in body.sorted(by: { $0.key < $1.key }) where !Self.fields.contains(field) {
            guard Self.harmless(field, value) else { throw BodyFields.textOnly(field, api: "Responses") }
        }
        guard let model = body["model"] else { throw SluiceError(.missingField, details: ["field": "model"]) }
        guard let name = model.string else { throw BodyFields.wrongType("model", "must be a string") }
        guard let rawInput = body["input"], rawInput != .null else { throw SluiceError(.missingField, details: ["field": "input"]) }
        input = try Self.messages(rawInput)
        let instructions = try BodyFields.string(body, "instructions")
        var messages: [ChatMessage] = []
        if let instructions { messages.append(ChatMessage(role: "system", content: instructions)) }
        chat = ChatRequest(model: name, messages: messages + input)
        if let cap = body["max_output_tokens"], cap != .null {
            guard let value = cap.integer else { throw BodyFields.wrongType("max_output_tokens", "must be a whole number") }
            guard value >= 1 else { throw BodyFields.wrongType("max_output_tokens", "must be at least 1") }
            chat.maxCompletionTokens = value
        }
        chat.temperature = try BodyFields.number(body, "temperature")
        chat.topP = try BodyFields.number(body, "top_p")
        chat.user = try BodyFields.string(body, "user")
        chat.mock = try BodyFields.mock(body)
        stream = try BodyFields.bool(body, "stream") ?? false
        let background = try BodyFields.bool(body, "background") ?? false
        let store = try BodyFields.bool(body, "store") ?? true
        if background, !store { throw BodyFields.wrongType("background", "needs store to be true: a background response is read later") }
        callback = try BodyFields.string(body, "callback_url")
        if callback != nil, !background { throw BodyFields.wrongType("callback_url", "needs background to be true: a callback tells a response nobody waits for") }
        let previous = try BodyFields.string(body, "previous_response_id")
        if let previous, ResponseDetails.jobID(forResponse: previous) == nil || previous.count > 64 {
            throw BodyFields.wrongType("previous_response_id", "is not a response id")
        }
        details = ResponseDetails(
            instructions: instructions, previousResponseID: previous, metadata: try Self.metadata(body["metadata"]),
            store: store, background: background, inputCount: input.count)
    }

    /// Adds the conversation so far (the previous response's, without its instructions) before the input.
    mutating func continuing(_ previous: Job) {
        guard let result = previous.result, let before = previous.origin?.response else { return }
        let history = Array(previous.request.messages.dropFirst(before.instructions == nil ? 0 : 1))
            + [ChatMessage(role: "assistant", content: result.text)]
        let system = details.instructions == nil ? [] : [chat.messages[0]]
        chat.messages = system + history + input
    }

    /// Options that only say what Sluice does anyway.
    static func harmless(_ field: String, _ value: JSONValue) -> Bool {
        if value == .null { return true }
        switch field {
        case "text": return value["format"] == nil || value["format"]?["type"]?.string == "text"
        case "tool_choice": return value.string == "auto" || value.string == "none"
        case "tools", "include": return value.array?.isEmpty ?? false
        case "parallel_tool_calls": if case .bool = value { return true } else { return false }
        case "truncation": return value.string == "disabled"
        case "stream_options", "prompt_cache_key", "safety_identifier", "service_tier": return true
        default: return false
        }
    }

    /// Input items as chat messages: a string is one user message; a list holds messages (`role` and
    /// `content`: a string, or parts `input_text`, `output_text` and `input_image`).
    static func messages(_ input: JSONValue) throws -> [ChatMessage] {
        if let text = input.string { return [ChatMessage(role: "user", content: text)] }
        guard let items = input.array, !items.isEmpty else { throw BodyFields.wrongType("input", "must be a string or a non-empty list of messages") }
        return try items.enumerated().map { index, item in
            let field = "input[\(index)]"
            guard let role = item["role"]?.string, ["user", "assistant", "system", "developer"].contains(role) else {
                throw BodyFields.wrongType(field, "must be a message with the role user, assistant, system or developer")
            }
            if let type = item["type"]?.string, type != "message" {
                throw BodyFields.wrongType(field + ".type", "only message items are supported")
            }
            var message = ChatMessage(role: role, content: "")
            if let text = item["content"]?.string {
                message.body = .text(text)
            } else if let parts = item["content"]?.array {
                message.body = .parts(try parts.enumerated().map { try part($1, field: "\(field).content[\($0)]") })
            } else {
                throw BodyFields.wrongType(field + ".content", "must be a string or a list of parts")
            }
            return message
        }
    }

    /// One content part as a chat part.
    static func part(_ part: JSONValue, field: String) throws -> JSONValue {
        switch part["type"]?.string {
        case "input_text", "output_text":
            guard let text = part["text"]?.string else { throw BodyFields.wrongType(field + ".text", "must be a string") }
            return ["type": "text", "text": .string(text)]
        case "input_image":
            guard let url = part["image_url"]?.string else { throw BodyFields.wrongType(field + ".image_url", "must be a URL (file ids are not supported)") }
            var image: [String: JSONValue] = ["url": .string(url)]
            if let detail = part["detail"]?.string { image["detail"] = .string(detail) }
            return ["type": "image_url", "image_url": .object(image)]
        default:
            throw BodyFields.wrongType(field + ".type", "must be input_text, output_text or input_image")
        }
    }

    /// `metadata`: at most 16 pairs of strings, keys up to 64 characters and values up to 512, as OpenAI allows.
    static func metadata(_ value: JSONValue?) throws -> [String: String] {
        guard let value, value != .null else { return [:] }
        guard let object = value.object, object.count <= 16 else { throw BodyFields.wrongType("metadata", "must be an object of at most 16 pairs") }
        var metadata: [String: String] = [:]
        for (key, item) in object {
            guard let text = item.string, key.count <= 64, text.count <= 512 else {
                throw BodyFields.wrongType("metadata", "keys must be strings of at most 64 characters and values strings of at most 512")
            }
            metadata[key] = text
        }
        return metadata
    }
}
