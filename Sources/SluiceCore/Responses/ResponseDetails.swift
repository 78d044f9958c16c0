/// What an OpenAI Responses request keeps beside the chat request it runs as: the conversation is
/// `instructions` (a system message, first when given), the history carried from `previousResponseID`,
/// then this request's `inputCount` input messages, last.
public struct ResponseDetails: Codable, Sendable, Hashable {
    /// The system instruction of this response only (not carried to the next one).
    public var instructions: String?
    /// The stored response this one continues.
    public var previousResponseID: String?
    /// The caller's key–value pairs, returned as given.
    public var metadata: [String: String]
    /// Whether the response may be read, and continued, after it ends.
    public var store: Bool
    /// Whether it was asked to run in the background.
    public var background: Bool
    /// How many of the request's messages are this request's input (the last ones).
    public var inputCount: Int

    /// - Parameters:
    ///   - instructions: the system instruction.
    ///   - previousResponseID: the response continued.
    ///   - metadata: key–value pairs.
    ///   - store: keep it readable after it ends.
    ///   - background: run in the background.
    ///   - inputCount: messages that are this request's input.
    public init(instructions: String?, previousResponseID: String?, metadata: [String: String], store: Bool, background: Bool, inputCount: Int) {
        self.instructions = instructions
        self.previousResponseID = previousResponseID
        self.metadata = metadata
        self.store = store
        self.background = background
        self.inputCount = inputCount
    }

    /// A response's id for its job's (`job_X` ↔ `resp_X`).
    public static func responseID(forJob id: String) -> String { "resp_" + id.dropFirst(4) }

    /// The job's id for a response's, nil when it is not one.
    public static func jobID(forResponse id: String) -> String? {
        guard id.hasPrefix("resp_"), id.count > 5 else { return nil }
        return "job_" + id.dropFirst(5)
    }
}
