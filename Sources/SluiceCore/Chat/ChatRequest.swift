/// An OpenAI chat-completions request. The fields Sluice reads are typed; every other field the caller
/// sent is kept verbatim in `extra`, so a provider receives the request as the app wrote it.
public struct ChatRequest: Codable, Sendable, Hashable {
    /// The model alias the caller asked for.
    public var model: String
    /// The conversation, oldest first.
    public var messages: [ChatMessage]
    /// Whether the caller wants server-sent events.
    public var stream: Bool?
    /// Streaming options (`include_usage`).
    public var streamOptions: StreamOptions?
    /// The legacy cap on generated tokens.
    public var maxTokens: Int?
    /// The newer cap on generated tokens; wins over `maxTokens` when both are given.
    public var maxCompletionTokens: Int?
    /// Sampling temperature.
    public var temperature: Double?
    /// Nucleus sampling.
    public var topP: Double?
    /// How many choices to generate.
    public var n: Int?
    /// The end user, as OpenAI's `user` field.
    public var user: String?
    /// A script for the mock provider (tests and load scenarios); Sluice's own, never sent upstream.
    public var mock: MockScript?
    /// Every other field, as the caller sent it (`tools`, `response_format`, `stop`, `seed`, …).
    public var extra: [String: JSONValue] = [:]

    /// Streaming options of a chat request.
    public struct StreamOptions: Codable, Sendable, Hashable {
        /// Send a final chunk with the usage.
        public var includeUsage: Bool?
        /// - Parameter includeUsage: send a final chunk with the usage.
        public init(includeUsage: Bool? = nil) { self.includeUsage = includeUsage }
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, messages, stream, temperature, n, user, mock
        case streamOptions = "stream_options"
        case maxTokens = "max_tokens"
        case maxCompletionTokens = "max_completion_tokens"
        case topP = "top_p"
    }

    /// Creates a request.
    /// - Parameters:
    ///   - model: the model alias.
    ///   - messages: the conversation.
    ///   - stream: stream the answer.
    ///   - maxTokens: cap on generated tokens.
    ///   - mock: a mock script.
    public init(model: String, messages: [ChatMessage], stream: Bool? = nil, maxTokens: Int? = nil, mock: MockScript? = nil) {
        self.model = model
        self.messages = messages
        self.stream = stream
        self.maxTokens = maxTokens
        self.mock = mock
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(String.self, forKey: .model)
        messages = try c.decode([ChatMessage].self, forKey: .messages)
        stream = try c.decodeIfPresent(Bool.self, forKey: .stream)
        streamOptions = try c.decodeIfPresent(StreamOptions.self, forKey: .streamOptions)
        maxTokens = try c.decodeIfPresent(Int.self, forKey: .maxTokens)
        maxCompletionTokens = try c.decodeIfPresent(Int.self, forKey: .maxCompletionTokens)
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature)
        topP = try c.decodeIfPresent(Double.self, forKey: .topP)
        n = try c.decodeIfPresent(Int.self, forKey: .n)
        user = try c.decodeIfPresent(String.self, forKey: .user)
        mock = try c.decodeIfPresent(MockScript.self, forKey: .mock)
        let typed = Set(CodingKeys.allCases.map(\.rawValue))
        let all = try decoder.container(keyedBy: AnyKey.self)
        for key in all.allKeys where !typed.contains(key.stringValue) {
            extra[key.stringValue] = try all.decode(JSONValue.self, forKey: key)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: AnyKey.self)
        for (key, value) in fields { try c.encode(value, forKey: AnyKey(key)) }
        try c.encodeIfPresent(mock, forKey: AnyKey(CodingKeys.mock.rawValue))
    }

    /// The request as JSON members: every field the caller sent, except Sluice's own `mock`.
    public var fields: [String: JSONValue] {
        var fields = extra
        fields["model"] = .string(model)
        fields["messages"] = .array(messages.map(\.json))
        if let stream { fields["stream"] = .bool(stream) }
        if let streamOptions { fields["stream_options"] = .object(streamOptions.includeUsage.map { ["include_usage": .bool($0)] } ?? [:]) }
        if let maxTokens { fields["max_tokens"] = .int(Int64(maxTokens)) }
        if let maxCompletionTokens { fields["max_completion_tokens"] = .int(Int64(maxCompletionTokens)) }
        if let temperature { fields["temperature"] = .double(temperature) }
        if let topP { fields["top_p"] = .double(topP) }
        if let n { fields["n"] = .int(Int64(n)) }
        if let user { fields["user"] = .string(user) }
        return fields
    }

    /// The effective cap on generated tokens.
    public var tokenCap: Int? { maxCompletionTokens ?? maxTokens }

    /// Sets the cap on generated tokens under the name the caller used (`max_completion_tokens` when
    /// it sent that, else `max_tokens`).
    public mutating func setTokenCap(_ cap: Int) {
        if maxCompletionTokens != nil {
            maxCompletionTokens = cap
            maxTokens = nil
        } else {
            maxTokens = cap
        }
    }

    /// Whether the final usage chunk was asked for.
    public var wantsUsageChunk: Bool { streamOptions?.includeUsage ?? false }

    /// Request fields that make an answer more than one choice of plain text: tools, structured output,
    /// log probabilities, audio.
    static let richFields: Set<String> = ["tools", "functions", "tool_choice", "function_call", "logprobs", "top_logprobs", "modalities", "audio", "prediction"]

    /// Whether this is a plain text question: text messages only, one choice, and no tools, response
    /// format, log probabilities or audio. Only these are served by the semantic cache.
    public var isPlainText: Bool {
        if (n ?? 1) > 1 { return false }
        if let format = extra["response_format"], format["type"]?.string != "text" { return false }
        for field in Self.richFields where extra[field] != nil {
            if field == "logprobs", extra[field] == .bool(false) { continue }
            return false
        }
        return messages.allSatisfy(\.isPlainText)
    }

    /// Bytes of the prompt as sent: every message with its parts (images included) and the tool definitions.
    public var promptBytes: Int {
        messages.reduce(0) { $0 + $1.byteSize } + ["tools", "functions"].reduce(0) { $0 + (extra[$1]?.byteSize ?? 0) }
    }

    /// Tokens the prompt is likely to cost: its text, each image at a high-detail tile's price, and the
    /// tool definitions and calls at four bytes a token.
    public var estimatedPromptTokens: Int {
        let text = messages.reduce(0) { $0 + Usage.estimateTokens($1.content) }
        let images = messages.reduce(0) { $0 + $1.imageCount } * ChatMessage.tokensPerImage
        let tools = (["tools", "functions"].reduce(0) { $0 + (extra[$1]?.byteSize ?? 0) } + messages.reduce(0) { $0 + $1.structuredBytes }) / 4
        return text + images + tools
    }
}
