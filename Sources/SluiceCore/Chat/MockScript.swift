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
    /// Answer with this text (a JSON answer, say), a word a token, instead of the deterministic words.
    public var text: String?
    /// Call these tools instead of answering with text (`finish_reason: tool_calls`).
    public var toolCalls: [ToolCall]?
    /// Send tool-call arguments in fragments of this many characters (default 8).
    public var argumentChunk: Int?
    /// Refuse, with this text as the refusal.
    public var refusal: String?

    /// One scripted tool call.
    public struct ToolCall: Codable, Sendable, Hashable {
        /// The function's name.
        public var name: String
        /// The arguments' text (JSON, as a model writes it).
        public var arguments: String
        /// - Parameters:
        ///   - name: the function.
        ///   - arguments: the arguments' text.
        public init(name: String, arguments: String) {
            self.name = name
            self.arguments = arguments
        }
    }

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
        case tokens, fail, text, refusal
        case ttftMs = "ttft_ms"
        case tokensPerSecond = "tokens_per_second"
        case toolCalls = "tool_calls"
        case argumentChunk = "argument_chunk"
    }
}
