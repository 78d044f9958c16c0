import Foundation

/// An OpenAI chat-completions request: the fields Sluice reads; unknown fields are ignored, as OpenAI does.
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
    /// The end user, as OpenAI's `user` field.
    public var user: String?
    /// A script for the mock provider (tests and load scenarios).
    public var mock: MockScript?

    /// Streaming options of a chat request.
    public struct StreamOptions: Codable, Sendable, Hashable {
        /// Send a final chunk with the usage.
        public var includeUsage: Bool?
        /// - Parameter includeUsage: send a final chunk with the usage.
        public init(includeUsage: Bool? = nil) { self.includeUsage = includeUsage }
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    enum CodingKeys: String, CodingKey {
        case model, messages, stream, temperature, user, mock
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

    /// The effective cap on generated tokens.
    public var tokenCap: Int? { maxCompletionTokens ?? maxTokens }

    /// Whether the final usage chunk was asked for.
    public var wantsUsageChunk: Bool { streamOptions?.includeUsage ?? false }
}

/// One message of a conversation.
public struct ChatMessage: Codable, Sendable, Hashable {
    /// `system`, `user`, `assistant`, `tool` or `developer`.
    public var role: String
    /// The text; content parts of type `text` are joined.
    public var content: String
    /// An optional participant name.
    public var name: String?

    /// - Parameters:
    ///   - role: the author's role.
    ///   - content: the text.
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    enum CodingKeys: String, CodingKey { case role, content, name }

    struct Part: Codable { var type: String; var text: String? }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        role = try c.decode(String.self, forKey: .role)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        if let text = try? c.decodeIfPresent(String.self, forKey: .content) {
            content = text
        } else if let parts = try? c.decodeIfPresent([Part].self, forKey: .content) {
            content = parts.compactMap(\.text).joined(separator: "\n")
        } else if try c.decodeNil(forKey: .content) {
            content = ""
        } else {
            throw DecodingError.dataCorruptedError(forKey: .content, in: c, debugDescription: "content must be a string or a list of parts")
        }
    }
}

/// How the mock provider should answer one request.
public struct MockScript: Codable, Sendable, Hashable {
    /// Time to first token in milliseconds.
    public var ttftMs: Int?
    /// Number of tokens to answer with.
    public var tokens: Int?
    /// Token rate; 0 or absent means as fast as possible unless configured.
    public var tokensPerSecond: Double?
    /// A failure: `status:500` fails before the first token, `after:12` cuts the stream after 12 tokens.
    public var fail: String?

    /// - Parameters:
    ///   - ttftMs: time to first token.
    ///   - tokens: answer length.
    ///   - tokensPerSecond: token rate.
    ///   - fail: failure script.
    public init(ttftMs: Int? = nil, tokens: Int? = nil, tokensPerSecond: Double? = nil, fail: String? = nil) {
        self.ttftMs = ttftMs
        self.tokens = tokens
        self.tokensPerSecond = tokensPerSecond
        self.fail = fail
    }

    enum CodingKeys: String, CodingKey {
        case tokens, fail
        case ttftMs = "ttft_ms"
        case tokensPerSecond = "tokens_per_second"
    }
}
