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
    /// One choice.
    public var choices: [Choice]
    /// Token counts.
    public var usage: Usage

    /// One choice of a completion.
    public struct Choice: Encodable, Sendable {
        /// Always 0.
        public var index = 0
        /// The assistant's message.
        public var message: ChatMessage
        /// `stop`, `length`, …
        public var finishReason: String
        enum CodingKeys: String, CodingKey { case index, message; case finishReason = "finish_reason" }
    }

    /// - Parameters:
    ///   - id: the completion id.
    ///   - created: creation time.
    ///   - model: the model alias.
    ///   - text: the answer.
    ///   - finishReason: why it ended.
    ///   - usage: token counts.
    public init(id: String, created: Date, model: String, text: String, finishReason: String, usage: Usage) {
        self.id = id
        self.created = Int(created.timeIntervalSince1970)
        self.model = model
        self.choices = [Choice(message: ChatMessage(role: "assistant", content: text), finishReason: finishReason)]
        self.usage = usage
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
    /// Zero or one choice (zero on the usage chunk).
    public var choices: [Choice]
    /// Present on the final usage chunk only; encoded as `null` elsewhere when asked for.
    public var usage: Usage?
    /// Sluice's own facts about the answer, on the chunk with the finish reason only (OpenAI clients
    /// ignore fields they do not know).
    public var sluice: Extension?

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

    /// One streamed choice.
    public struct Choice: Encodable, Sendable {
        /// Always 0.
        public var index = 0
        /// The new text.
        public var delta: Delta
        /// Set on the last content chunk.
        public var finishReason: String?
        enum CodingKeys: String, CodingKey { case index, delta; case finishReason = "finish_reason" }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(delta, forKey: .delta)
            try c.encode(finishReason, forKey: .finishReason)
        }
    }

    /// The change a chunk carries.
    public struct Delta: Encodable, Sendable {
        /// `assistant` on the first chunk.
        public var role: String?
        /// New text.
        public var content: String?
    }

    /// - Parameters:
    ///   - id: the completion id.
    ///   - created: creation time.
    ///   - model: the model alias.
    ///   - role: the role, on the first chunk.
    ///   - content: new text.
    ///   - finishReason: on the last content chunk.
    ///   - usage: on the usage chunk (then `choices` is empty).
    public init(id: String, created: Date, model: String, role: String? = nil, content: String? = nil, finishReason: String? = nil, usage: Usage? = nil) {
        self.id = id
        self.created = Int(created.timeIntervalSince1970)
        self.model = model
        if let usage {
            self.choices = []
            self.usage = usage
        } else {
            self.choices = [Choice(delta: Delta(role: role, content: content), finishReason: finishReason)]
        }
    }
}
