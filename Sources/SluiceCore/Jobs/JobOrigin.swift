/// The API a job came through, and what that API keeps beside the chat request underneath. Every
/// front door (chat completions, the jobs API, OpenAI's Responses, Anthropic's Messages) makes the same
/// kind of job: it is queued, limited, cached and resumed the same way; only how it is shown differs.
public enum JobOrigin: Codable, Sendable, Hashable {
    /// `POST /v1/chat/completions` or `POST /v1/jobs`.
    case chat
    /// `POST /v1/responses`.
    case response(ResponseDetails)
    /// `POST /v1/messages`.
    case message

    /// The API's name, as history lists it.
    public var kind: String {
        switch self {
        case .chat: "chat"
        case .response: "response"
        case .message: "message"
        }
    }

    /// What a response keeps, when the job is one.
    public var response: ResponseDetails? {
        if case .response(let details) = self { return details }
        return nil
    }
}
