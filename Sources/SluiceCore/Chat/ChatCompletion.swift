public import Foundation

/// A non-streamed chat completion in OpenAI's shape.
public struct ChatCompletion: Encodable, Sendable {
    /// The completion id (`chatcmpl-…`).
    public var id: String
    /// Always `chat.completion`.
    public var object = "chat.completion"
    /// Creation time in seconds since 1970.
    public var created: Int
    /// The model alias.
    public var model: String
    /// The choices, each with its whole message (text, tool calls, refusal), log probabilities and finish reason.
    public var choices: [JSONValue]
    /// Token counts, with the provider's details.
    public var usage: Usage
    /// The provider's `system_fingerprint`.
    public var systemFingerprint: String?

    enum CodingKeys: String, CodingKey {
        case id, object, created, model, choices, usage
        case systemFingerprint = "system_fingerprint"
    }

    /// - Parameters:
    ///   - id: the completion id.
    ///   - created: creation time.
    ///   - model: the model alias.
    ///   - answer: the answer.
    ///   - finishReason: why choice 0 ended.
    ///   - usage: token counts.
    ///   - fingerprint: the provider's fingerprint.
    public init(id: String, created: Date, model: String, answer: AnswerAssembly, finishReason: String, usage: Usage, fingerprint: String? = nil) {
        self.id = id
        self.created = Int(created.timeIntervalSince1970)
        self.model = model
        self.choices = answer.completionChoices(finishReason: finishReason)
        self.usage = usage
        self.systemFingerprint = fingerprint
    }
}

/// One streamed chunk in OpenAI's `chat.completion.chunk` shape.
public struct ChatCompletionChunk: Encodable, Sendable {
    /// The completion id, the same for every chunk of one answer.
    public var id: String
    /// Always `chat.completion.chunk`.
    public var object = "chat.completion.chunk"
    /// Creation time in seconds since 1970.
    public var created: Int
    /// The model alias.
    public var model: String
    /// The choices this chunk carries (none on the usage chunk).
    public var choices: [JSONValue]
    /// Present on the final usage chunk only.
    public var usage: Usage?
    /// The provider's `system_fingerprint`, on the chunk with the finish reason.
    public var systemFingerprint: String?
    /// Sluice's own facts about the answer, on the chunk with the finish reason only (OpenAI clients
    /// ignore fields they do not know).
    public var sluice: Extension?

    enum CodingKeys: String, CodingKey {
        case id, object, created, model, choices, usage, sluice
        case systemFingerprint = "system_fingerprint"
    }

    /// What Sluice adds to the last content chunk.
    public struct Extension: Encodable, Sendable {
        /// `miss`, `exact` or `semantic`.
        public var cache: String
        /// Milliseconds the job waited in the queue before a worker took it.
        public var queueMs: Int
        enum CodingKeys: String, CodingKey { case cache; case queueMs = "queue_ms" }

        /// - Parameters:
        ///   - cache: the cache layer.
        ///   - queueMs: the queue wait.
        public init(cache: String, queueMs: Int) {
            self.cache = cache
            self.queueMs = queueMs
        }
    }

    /// - Parameters:
    ///   - id: the completion id.
    ///   - created: creation time.
    ///   - model: the model alias.
    ///   - choices: the choices.
    ///   - usage: on the usage chunk (then `choices` is empty).
    public init(id: String, created: Date, model: String, choices: [JSONValue], usage: Usage? = nil) {
        self.id = id
        self.created = Int(created.timeIntervalSince1970)
        self.model = model
        self.choices = choices
        self.usage = usage
    }

    /// The chunk as JSON, written without `JSONEncoder` (a stream writes one per token): what `Encodable`
    /// writes, member for member.
    public var json: [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("id")
        writer.string(id)
        writer.key("object")
        writer.string(object)
        writer.key("created")
        writer.int(Int64(created))
        writer.key("model")
        writer.string(model)
        writer.key("choices")
        writer.write(.array(choices))
        if let usage {
            writer.key("usage")
            writer.write(usage.json)
        }
        if let systemFingerprint {
            writer.key("system_fingerprint")
            writer.string(systemFingerprint)
        }
        if let sluice {
            writer.key("sluice")
            writer.beginObject()
            writer.key("cache")
            writer.string(sluice.cache)
            writer.key("queue_ms")
            writer.int(Int64(sluice.queueMs))
            writer.endObject()
        }
        writer.endObject()
        return writer.bytes
    }

    /// A chunk of choice 0: its role on the first chunk, new text, or its finish reason.
    /// - Parameters:
    ///   - id: the completion id.
    ///   - created: creation time.
    ///   - model: the model alias.
    ///   - role: the role, on the first chunk.
    ///   - content: new text.
    ///   - finishReason: on the last content chunk.
    public init(id: String, created: Date, model: String, role: String? = nil, content: String? = nil, finishReason: String? = nil) {
        var delta: [String: JSONValue] = [:]
        if let role { delta["role"] = .string(role) }
        if let content { delta["content"] = .string(content) }
        let choice: JSONValue = ["index": 0, "delta": .object(delta), "finish_reason": finishReason.map(JSONValue.string) ?? .null]
        self.init(id: id, created: created, model: model, choices: [choice])
    }
}
