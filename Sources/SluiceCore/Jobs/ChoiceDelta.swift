/// A piece of an answer beyond choice 0's plain text, as the provider sent it: tool-call fragments
/// (ids, names, argument text, indexes), a refusal, log probabilities, or any piece of another choice
/// when `n` > 1. It is stored and replayed like text, so a stream resumed in the middle of a tool
/// call's arguments continues exactly.
public struct ChoiceDelta: Codable, Hashable, Sendable {
    /// The choice it belongs to.
    public var index: Int
    /// The delta's members except `role`: `content`, `refusal`, `tool_calls` (each with its `index`), ….
    public var delta: [String: JSONValue]
    /// Log probabilities of its tokens (`{"content": [...]}`), when asked for.
    public var logprobs: JSONValue?
    /// Why this choice ended, on its last piece (choices other than 0; choice 0's comes with `done`).
    public var finishReason: String?

    /// - Parameters:
    ///   - index: the choice.
    ///   - delta: the delta's members.
    ///   - logprobs: log probabilities.
    ///   - finishReason: why the choice ended.
    public init(index: Int, delta: [String: JSONValue], logprobs: JSONValue? = nil, finishReason: String? = nil) {
        self.index = index
        self.delta = delta
        self.logprobs = logprobs
        self.finishReason = finishReason
    }

    enum CodingKeys: String, CodingKey {
        case index, delta, logprobs
        case finishReason = "finish_reason"
    }

    /// The choice in a streamed chunk (`{"index", "delta", "logprobs", "finish_reason"}`), with `role` when it
    /// is the choice's first piece.
    public func chunkChoice(first: Bool) -> JSONValue {
        var delta = delta
        if first { delta["role"] = .string("assistant") }
        return .object([
            "index": .int(Int64(index)), "delta": .object(delta), "logprobs": logprobs ?? .null,
            "finish_reason": finishReason.map(JSONValue.string) ?? .null,
        ])
    }
}
