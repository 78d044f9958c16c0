/// An answer put together from its stream, as OpenAI's SDKs do: choice 0's text, and for every choice
/// its other fields merged piece by piece — strings (`content`, `refusal`, argument text) joined, tool
/// calls gathered by their `index`, log-probability lists joined. It gives the whole message of each
/// choice (a non-streamed completion, a job's result) and the pieces to store and replay.
public struct AnswerAssembly: Sendable, Hashable {
    /// Choice 0's text.
    public private(set) var text = ""
    /// Per choice: the merged delta, its merged log probabilities, and its finish reason.
    private var choices: [Int: ChoiceDelta] = [:]

    /// An empty answer.
    public init() {}

    /// An answer stored as its text and its other pieces.
    /// - Parameters:
    ///   - text: choice 0's text.
    ///   - pieces: everything else, as `pieces` gave it.
    public init(text: String, pieces: [ChoiceDelta]) {
        self.text = text
        for piece in pieces { add(piece) }
    }

    /// Takes in one event of the stream: text, a piece, or a `reset` (everything so far is void).
    public mutating func add(_ event: StreamEvent) {
        switch event {
        case .delta(let piece): text += piece
        case .choice(let piece): add(piece)
        case .reset: self = AnswerAssembly()
        case .done, .error: break
        }
    }

    /// Takes in one piece.
    public mutating func add(_ piece: ChoiceDelta) {
        var delta = piece.delta
        if piece.index == 0, let content = delta.removeValue(forKey: "content") {
            text += content.string ?? ""
        }
        var merged = choices[piece.index] ?? ChoiceDelta(index: piece.index, delta: [:])
        merged.delta = Self.merge(merged.delta, delta)
        if let logprobs = piece.logprobs, logprobs != .null {
            merged.logprobs = .object(Self.merge(merged.logprobs?.object ?? [:], logprobs.object ?? [:]))
        }
        if let reason = piece.finishReason { merged.finishReason = reason }
        choices[piece.index] = merged
    }

    /// Everything beyond choice 0's text, one whole piece per choice, in order of choice (empty for a plain answer).
    public var pieces: [ChoiceDelta] { choices.keys.sorted().compactMap { choices[$0] } }

    /// Whether the answer is more than one choice of text (tool calls, a refusal, log probabilities, …).
    public var isPlainText: Bool { choices.isEmpty }

    /// The choices of a `chat.completion`: each with its whole message, log probabilities and finish reason.
    /// - Parameter finishReason: choice 0's.
    public func completionChoices(finishReason: String) -> [JSONValue] {
        let indexes = Set(choices.keys).union([0]).sorted()
        return indexes.map { index in
            let piece = choices[index] ?? ChoiceDelta(index: index, delta: [:])
            var message = piece.delta
            message["role"] = .string("assistant")
            if let calls = message["tool_calls"]?.array {
                message["tool_calls"] = .array(calls.map { call in
                    guard var object = call.object else { return call }
                    object["index"] = nil
                    return .object(object)
                })
            }
            if index == 0 {
                // As OpenAI answers: no content (null) when the message only calls tools or refuses.
                message["content"] = text.isEmpty && (message["tool_calls"] != nil || message["refusal"] != nil) ? .null : .string(text)
            } else if message["content"] == nil {
                message["content"] = .null
            }
            return .object([
                "index": .int(Int64(index)), "message": .object(message), "logprobs": piece.logprobs ?? .null,
                "finish_reason": .string(index == 0 ? finishReason : piece.finishReason ?? finishReason),
            ])
        }
    }

    /// Merges a delta into what came before: strings are joined, lists of objects with an `index` are
    /// merged by it (tool calls), other lists are joined (log probabilities), objects are merged, and any
    /// other value replaces the old one.
    static func merge(_ old: [String: JSONValue], _ new: [String: JSONValue]) -> [String: JSONValue] {
        var result = old
        for (key, value) in new {
            guard let previous = result[key], previous != .null else {
                result[key] = value
                continue
            }
            result[key] = merge(previous, value, key: key)
        }
        return result
    }

    static func merge(_ old: JSONValue, _ new: JSONValue, key: String) -> JSONValue {
        switch (old, new) {
        case (_, .null):
            return old
        case (.string(let a), .string(let b)) where key != "id" && key != "type":
            return .string(a + b)
        case (.object(let a), .object(let b)):
            return .object(merge(a, b))
        case (.array(let a), .array(let b)):
            let indexed = (a + b).allSatisfy { $0["index"]?.integer != nil }
            guard indexed else { return .array(a + b) }
            var merged = a
            for element in b {
                if let at = merged.firstIndex(where: { $0["index"] == element["index"] }),
                   let previous = merged[at].object, let next = element.object
                {
                    merged[at] = .object(merge(previous, next))
                } else {
                    merged.append(element)
                }
            }
            return .array(merged)
        default:
            return new
        }
    }
}
