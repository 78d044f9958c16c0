/// Token counts of one answer, in OpenAI's shape.
public struct Usage: Codable, Sendable, Hashable {
    /// Tokens in the prompt.
    public var promptTokens: Int
    /// Tokens generated.
    public var completionTokens: Int
    /// The sum.
    public var totalTokens: Int { promptTokens + completionTokens }
    /// The provider's other counts, as it sent them (`prompt_tokens_details` with `cached_tokens`,
    /// `completion_tokens_details` with `reasoning_tokens`, …).
    public var details: [String: JSONValue] = [:]

    /// - Parameters:
    ///   - promptTokens: tokens in the prompt.
    ///   - completionTokens: tokens generated.
    public init(promptTokens: Int, completionTokens: Int) {
        self.promptTokens = Self.count(promptTokens)
        self.completionTokens = Self.count(completionTokens)
    }

    /// The most tokens one count may hold: far beyond any answer, and small enough that sums and
    /// prices of counts can never overflow (a provider's absurd number must not trap the process).
    public static let maxCount = 1 << 40

    /// A count from outside, bounded to 0…`maxCount`.
    public static func count(_ value: Int?) -> Int { min(max(0, value ?? 0), maxCount) }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        promptTokens = Self.count(try c.decodeIfPresent(Int.self, forKey: .promptTokens))
        completionTokens = Self.count(try c.decodeIfPresent(Int.self, forKey: .completionTokens))
        let all = try decoder.container(keyedBy: AnyKey.self)
        for key in all.allKeys where CodingKeys(rawValue: key.stringValue) == nil {
            details[key.stringValue] = try all.decode(JSONValue.self, forKey: key)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        try json.encode(to: encoder)
    }

    /// Usage in OpenAI's shape, with the provider's details.
    public var json: JSONValue {
        var object = details
        object["prompt_tokens"] = .int(Int64(promptTokens))
        object["completion_tokens"] = .int(Int64(completionTokens))
        object["total_tokens"] = .int(Int64(totalTokens))
        return .object(object)
    }

    /// Usage read from a provider's JSON object (`prompt_tokens`, `completion_tokens` and the details).
    public init(json: JSONValue) {
        promptTokens = Self.count(json["prompt_tokens"]?.integer)
        completionTokens = Self.count(json["completion_tokens"]?.integer)
        for (key, value) in json.object ?? [:] where CodingKeys(rawValue: key) == nil { details[key] = value }
    }

    /// A rough token estimate for text when a provider reports none: one token per four bytes, at least one per word.
    public static func estimateTokens(_ text: String) -> Int {
        let words = text.split(whereSeparator: \.isWhitespace).count
        return max(words, (text.utf8.count + 3) / 4)
    }
}
