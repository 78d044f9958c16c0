public import Foundation

/// A chat request read from parsed JSON (`JSONValue.parse`, one pass over the bytes) instead of through
/// `Decodable`, whose keyed containers cost a request's read several times over. It takes only what
/// `JSONDecoder` takes the same way: anything else — a wrong type, a value it would convert — gives
/// nil, and the caller decodes the bytes with `JSONDecoder`, whose error says what is wrong. One
/// difference, the parser's: −2^63 in a field Sluice passes through stays an integer.
extension ChatRequest {
    /// Reads a request body: parsed in one pass when it has the expected shape, else through `Decodable`.
    public static func read(_ data: Data) throws -> ChatRequest {
        if let json = try? JSONValue.parse(data), let request = ChatRequest(json: json) { return request }
        return try JSONDecoder().decode(ChatRequest.self, from: data)
    }

    /// The request `JSONDecoder` would give for this JSON, or nil when this reading is not sure to agree.
    public init?(json: JSONValue) {
        guard case .object(let object) = json, let model = object["model"]?.plainString,
              case .array(let list)? = object["messages"]
        else { return nil }
        var messages: [ChatMessage] = []
        messages.reserveCapacity(list.count)
        for item in list {
            guard let message = ChatMessage(json: item) else { return nil }
            messages.append(message)
        }
        self.init(model: model, messages: messages)
        for (key, value) in object {
            switch CodingKeys(rawValue: key) {
            case .model, .messages: continue
            case .stream: guard value.readOptional(\.plainBool, into: &stream) else { return nil }
            case .temperature: guard value.readOptional(\.plainDouble, into: &temperature) else { return nil }
            case .topP: guard value.readOptional(\.plainDouble, into: &topP) else { return nil }
            case .n: guard value.readOptional(\.plainInt, into: &n) else { return nil }
            case .user: guard value.readOptional(\.plainString, into: &user) else { return nil }
            case .maxTokens: guard value.readOptional(\.plainInt, into: &maxTokens) else { return nil }
            case .maxCompletionTokens: guard value.readOptional(\.plainInt, into: &maxCompletionTokens) else { return nil }
            case .streamOptions:
                if value == .null { continue }
                guard case .object(let options) = value else { return nil }
                var includeUsage: Bool?
                if let flag = options["include_usage"], !flag.readOptional(\.plainBool, into: &includeUsage) { return nil }
                streamOptions = StreamOptions(includeUsage: includeUsage)
            case .mock:
                if value == .null { continue }
                guard let script = MockScript(json: value) else { return nil }
                mock = script
            case nil:
                extra[key] = value
            }
        }
    }
}

extension ChatMessage {
    /// The message `JSONDecoder` would give for this JSON, or nil when this reading is not sure to agree.
    init?(json: JSONValue) {
        guard case .object(let object) = json, let role = object["role"]?.plainString else { return nil }
        self.init(role: role, content: "")
        switch object["content"] {
        case nil, .null?: body = .none
        case .string(let text)?: body = .text(text)
        case .array(let parts)?:
            guard parts.allSatisfy({ $0["type"]?.string != nil && ($0["type"]?.string != "text" || $0["text"]?.string != nil) }) else { return nil }
            body = .parts(parts)
        default: return nil
        }
        for (key, value) in object {
            switch CodingKeys(rawValue: key) {
            case .role, .content: continue
            case .name: guard value.readOptional(\.plainString, into: &name) else { return nil }
            case nil: extra[key] = value
            }
        }
    }
}

extension MockScript {
    /// The script `JSONDecoder` would give for this JSON, or nil when this reading is not sure to agree.
    init?(json: JSONValue) {
        guard case .object(let object) = json else { return nil }
        self.init()
        for (key, value) in object {
            switch CodingKeys(rawValue: key) {
            case .ttftMs: guard value.readOptional(\.plainInt, into: &ttftMs) else { return nil }
            case .tokens: guard value.readOptional(\.plainInt, into: &tokens) else { return nil }
            case .tokensPerSecond: guard value.readOptional(\.plainDouble, into: &tokensPerSecond) else { return nil }
            case .fail: guard value.readOptional(\.plainString, into: &fail) else { return nil }
            case .text: guard value.readOptional(\.plainString, into: &text) else { return nil }
            case .refusal: guard value.readOptional(\.plainString, into: &refusal) else { return nil }
            case .argumentChunk: guard value.readOptional(\.plainInt, into: &argumentChunk) else { return nil }
            case .toolCalls:
                if value == .null { continue }
                guard case .array(let calls) = value else { return nil }
                var read: [ToolCall] = []
                for call in calls {
                    guard case .object(let fields) = call, let name = fields["name"]?.plainString,
                          let arguments = fields["arguments"]?.plainString
                    else { return nil }
                    read.append(ToolCall(name: name, arguments: arguments))
                }
                toolCalls = read
            case nil: continue
            }
        }
    }
}

extension JSONValue {
    /// Reads an optional field: `null` leaves it nil; a value of the right kind sets it; any other value
    /// is false (the caller leaves the reading to `JSONDecoder`).
    fileprivate func readOptional<Value>(_ kind: (JSONValue) -> Value?, into field: inout Value?) -> Bool {
        if self == .null { return true }
        guard let value = kind(self) else { return false }
        field = value
        return true
    }

    fileprivate var plainString: String? {
        if case .string(let value) = self { value } else { nil }
    }

    fileprivate var plainBool: Bool? {
        if case .bool(let value) = self { value } else { nil }
    }

    /// Integers only. −2^63 is left to `JSONDecoder`, whose integer reader overflows on it.
    fileprivate var plainInt: Int? {
        if case .int(let value) = self, value != .min { Int(exactly: value) } else { nil }
    }

    fileprivate var plainDouble: Double? {
        switch self {
        case .double(let value): value
        case .int(let value): Double(value)
        default: nil
        }
    }
}
