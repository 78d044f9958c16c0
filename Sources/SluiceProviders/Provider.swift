public import SluiceCore

/// What a provider streams back for one request.
public enum ProviderEvent: Sendable, Hashable {
    /// New text.
    case delta(String)
    /// The end, with the reason and the usage.
    case finish(reason: String, usage: Usage)
}

/// An LLM provider: turns a chat request into a stream of text. Cancelling the consuming task stops the call.
public protocol Provider: Sendable {
    /// Streams the answer to `request`.
    /// - Parameters:
    ///   - request: the validated chat request.
    ///   - upstreamModel: the provider's own model name.
    func stream(_ request: ChatRequest, upstreamModel: String) -> AsyncThrowingStream<ProviderEvent, any Error>
}

/// A provider failure, without the request's content.
public struct ProviderError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public var code: Code
    /// An HTTP status, when the provider answered with one.
    public var status: Int?
    /// A short reason, safe to show (never a key or prompt).
    public var reason: String

    /// Kinds of provider failure.
    public enum Code: String, Sendable {
        /// The provider answered with an error status before any output.
        case status
        /// The stream broke after output had started.
        case interrupted
        /// The provider could not be reached.
        case connect
    }

    /// - Parameters:
    ///   - code: the kind.
    ///   - status: an HTTP status.
    ///   - reason: a short reason.
    public init(_ code: Code, status: Int? = nil, reason: String) {
        self.code = code
        self.status = status
        self.reason = reason
    }

    public var description: String { "ProviderError(\(code.rawValue), \(reason))" }
}
