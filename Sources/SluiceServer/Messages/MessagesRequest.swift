import Foundation
import SluiceCore

/// An Anthropic Messages request (`POST /v1/messages`), read and checked, as the chat request it runs
/// as: `system` becomes a system message, text and image blocks become parts, `stop_sequences` becomes
/// `stop`, `metadata.user_id` the end user. Fields it cannot honour (tools, thinking, `top_k`) are
/// refused by name, never dropped.
struct MessagesRequest: Sendable {
    var chat: ChatRequest
    var stream: Bool

    static let fields: Set<String> = [
        "model", "max_tokens", "messages", "system", "stop_sequences", "temperature", "top_p", "stream", "metadata", "mock",
    ]

    init(_ body: [String: JSONValue]) throws {
        for field in body.keys.sorted() where !Self.fields.contains(field) && body[field] != .null {
            throw BodyFields.textOnly(field, api: "Messages")
        }
        guard let model = body["model"] else { throw SluiceError(.missingField, details: ["field": "model"]) }
        guard let name = model.string else { throw BodyFields.wrongType("model", "must be a string") }
        guard let cap = body["max_tokens"], cap != .null else { throw SluiceError(.missingField, details: ["field": "max_tokens"]) }
        guard let tokens = cap.integer, tokens >= 1 else { throw BodyFields.wrongType("max_tokens", "must be a whole number of at least 1") }
        guard let turns = body["messages"]?.array else { throw SluiceError(.missingField, details: ["field": "messages"]) }
        var messages: [ChatMessage] = []
        if let system = body["system"], system != .null {
            messages.append(ChatMessage(role: "system", content: try Self.text(system, field: "system")))
        }
        for (index, turn) in turns.enumerated() {
            let field = "messages[\(index)]"
            guard let role = turn["role"]?.string, role == "user" || role == "assistant" else {
                throw BodyFields.wrongType(field + ".role", "must be user or assistant")
            }
            var message = ChatMessage(role: role, content: "")
            if let text = turn["content"]?.string {
                message.body = .text(text)
            } else if let blocks = turn["content"]?.array {
                message.body = .parts(try blocks.enumerated().map { try Self.part($1, field: "\(field).content[\($0)]") })
            } else {
                throw BodyFields.wrongType(field + ".content", "must be a string or a list of content blocks")
            }
            messages.append(message)
        }
        chat = ChatRequest(model: name, messages: messages, maxTokens: tokens)
        if let temperature = try BodyFields.number(body, "temperature") {
            guard (0...1).contains(temperature) else { throw BodyFields.wrongType("temperature", "must be between 0 and 1") }
            chat.temperature = temperature
        }
        chat.topP = try BodyFields.number(body, "top_p")
        if let stop = body["stop_sequences"], stop != .null {
            guard let list = stop.array, list.count <= 4, list.allSatisfy({ $0.string != nil }) else {
                throw BodyFields.wrongType("stop_sequences", "must be a list of at most 4 strings")
            }
            if !list.isEmpty { chat.extra["stop"] = stop }
        }
        if let metadata = body["metadata"], metadata != .null {
            guard let object = metadata.object else { throw BodyFields.wrongType("metadata", "must be an object") }
            if let user = object["user_id"], user != .null {
                guard let text = user.string else { throw BodyFields.wrongType("metadata.user_id", "must be a string") }
                chat.user = text
            }
        }
        chat.mock = try BodyFields.mock(body)
        stream = try BodyFields.bool(body, "stream") ?? false
    }

    /// `system`: a string, or text blocks joined by blank lines.
    static func text(_ value: JSONValue, field: String) throws -> String {
        if let text = value.string { return text }
        guard let blocks = value.array else { throw BodyFields.wrongType(field, "must be a string or a list of text blocks") }
        return try blocks.enumerated().map { index, block in
            guard block["type"]?.string == "text", let text = block["text"]?.string else {
                throw BodyFields.wrongType("\(field)[\(index)]", "must be a text block")
            }
            return text
        }.joined(separator: "\n\n")
    }

    /// A content block as a chat part: `text`, or `image` from base64 data or a URL.
    static func part(_ block: JSONValue, field: String) throws -> JSONValue {
        switch block["type"]?.string {
        case "text":
            guard let text = block["text"]?.string else { throw BodyFields.wrongType(field + ".text", "must be a string") }
            return ["type": "text", "text": .string(text)]
        case "image":
            let source = block["source"]
            if source?["type"]?.string == "base64", let media = source?["media_type"]?.string, let data = source?["data"]?.string {
                return ["type": "image_url", "image_url": ["url": .string("data:\(media);base64,\(data)")]]
            }
            if source?["type"]?.string == "url", let url = source?["url"]?.string {
                return ["type": "image_url", "image_url": ["url": .string(url)]]
            }
            throw BodyFields.wrongType(field + ".source", "must be base64 data with a media_type, or a url")
        default:
            throw BodyFields.wrongType(field + ".type", "must be text or image (tools are not supported here)")
        }
    }
}
