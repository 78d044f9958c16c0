/// One message of a conversation, kept whole: its content as sent (text, or a list of parts — text,
/// `image_url`, `input_audio`, `file`) and every other field (`tool_calls`, `tool_call_id`, `refusal`, …).
public struct ChatMessage: Codable, Sendable, Hashable {
    /// `system`, `user`, `assistant`, `tool` or `developer`.
    public var role: String
    /// The content as sent.
    public var body: Content
    /// An optional participant name.
    public var name: String?
    /// Every other field, verbatim.
    public var extra: [String: JSONValue] = [:]

    /// A message's content.
    public enum Content: Sendable, Hashable {
        /// A string.
        case text(String)
        /// A list of parts, each an object with a `type`.
        case parts([JSONValue])
        /// `null` or absent (an assistant message that only calls tools).
        case none
    }

    /// Tokens an image is estimated at (a high-detail 512-pixel tile grid of 1024², OpenAI's pricing).
    public static let tokensPerImage = 765

    /// - Parameters:
    ///   - role: the author's role.
    ///   - content: the text.
    public init(role: String, content: String) {
        self.role = role
        self.body = .text(content)
    }

    /// The text: the string, or the text parts joined by newlines.
    public var content: String {
        switch body {
        case .text(let text): text
        case .parts(let parts): parts.compactMap { $0["type"]?.string == "text" ? $0["text"]?.string : nil }.joined(separator: "\n")
        case .none: ""
        }
    }

    /// The parts that are not text, in order.
    public var mediaParts: [JSONValue] {
        guard case .parts(let parts) = body else { return [] }
        return parts.filter { $0["type"]?.string != "text" }
    }

    /// Images among its parts.
    public var imageCount: Int { mediaParts.count { $0["type"]?.string == "image_url" } }

    /// Whether it is text only, with no tool calls or tool results (fields sent as `null` or `[]` do not count).
    public var isPlainText: Bool {
        mediaParts.isEmpty && role != "tool" && extra.values.allSatisfy { $0 == .null || $0 == .array([]) }
    }

    /// Bytes of what is not text: media parts and structured fields (tool calls).
    var structuredBytes: Int { mediaParts.reduce(0) { $0 + $1.byteSize } + extra.reduce(0) { $0 + $1.value.byteSize } }

    /// Bytes of the message as sent, roughly.
    var byteSize: Int { content.utf8.count + structuredBytes }

    /// The message as a JSON object.
    public var json: JSONValue {
        var object = extra
        object["role"] = .string(role)
        if let name { object["name"] = .string(name) }
        switch body {
        case .text(let text): object["content"] = .string(text)
        case .parts(let parts): object["content"] = .array(parts)
        case .none: object["content"] = .null
        }
        return .object(object)
    }

    enum CodingKeys: String, CodingKey { case role, content, name }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        role = try c.decode(String.self, forKey: .role)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        if try !c.contains(.content) || c.decodeNil(forKey: .content) {
            body = .none
        } else if let text = try? c.decode(String.self, forKey: .content) {
            body = .text(text)
        } else if let parts = try? c.decode([JSONValue].self, forKey: .content),
                  parts.allSatisfy({ $0["type"]?.string != nil && ($0["type"]?.string != "text" || $0["text"]?.string != nil) })
        {
            body = .parts(parts)
        } else {
            throw DecodingError.dataCorruptedError(
                forKey: .content, in: c, debugDescription: "content must be a string or a list of parts, each with a type")
        }
        let all = try decoder.container(keyedBy: AnyKey.self)
        for key in all.allKeys where CodingKeys(rawValue: key.stringValue) == nil {
            extra[key.stringValue] = try all.decode(JSONValue.self, forKey: key)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        try json.encode(to: encoder)
    }
}
