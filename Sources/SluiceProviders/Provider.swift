public import Foundation
public import SluiceCore

/// What a provider streams back for one request.
public enum ProviderEvent: Sendable, Hashable {
    /// New text of choice 0.
    case delta(String)
    /// Anything else: tool-call fragments, a refusal, log probabilities, other choices.
    case choice(ChoiceDelta)
    /// The end of choice 0, with the usage when the provider reported it and its `system_fingerprint`.
    case finish(reason: String, usage: Usage?, fingerprint: String? = nil)
}

/// An LLM provider: turns a chat request into a stream of text. Cancelling the consuming task stops the call.
public protocol Provider: Sendable {
    /// Streams the answer to `request`.
    /// - Parameters:
    ///   - request: the validated chat request.
    ///   - upstreamModel: the provider's own model name.
    func stream(_ request: ChatRequest, upstreamModel: String) -> AsyncThrowingStream<ProviderEvent, any Error>
    /// The first field of `request` this provider cannot express, with why; nil when it can send all of
    /// it. A request is refused at acceptance (400 `unsupported_parameter`) rather than silently changed.
    func unsupported(_ request: ChatRequest) -> (field: String, reason: String)?
}

extension Provider {
    public func unsupported(_ request: ChatRequest) -> (field: String, reason: String)? { nil }
}

/// A provider failure. Its text never holds a key or a prompt.
public struct ProviderError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public var code: Code
    /// The HTTP status, when the provider answered with one.
    public var status: Int?
    /// Seconds the provider asked to wait (`Retry-After`).
    public var retryAfter: Double?
    /// A short reason, safe to show.
    public var reason: String

    /// Kinds of provider failure.
    public enum Code: String, Sendable {
        /// The provider answered with an error status.
        case status
        /// The stream broke, or ended without finishing.
        case interrupted
        /// The provider could not be reached.
        case connect
        /// The provider was too slow: connect, first token, gap between tokens, or total.
        case timeout
        /// The provider sent something that is not its protocol.
        case malformed
    }

    /// - Parameters:
    ///   - code: the kind.
    ///   - status: an HTTP status.
    ///   - retryAfter: seconds to wait.
    ///   - reason: a short reason.
    public init(_ code: Code, status: Int? = nil, retryAfter: Double? = nil, reason: String) {
        self.code = code
        self.status = status
        self.retryAfter = retryAfter
        self.reason = reason
    }

    /// A failure caused by the request itself (400, 413, 422: malformed, too long for the context):
    /// retrying elsewhere will not help, and it does not count against the provider's health. A 401,
    /// 403 or 404 is the deployment's fault (a wrong key or model name), and fails over.
    public var isRequestFault: Bool {
        guard code == .status, let status else { return false }
        return [400, 413, 422].contains(status)
    }

    public var description: String { "ProviderError(\(code.rawValue)\(status.map { ", \($0)" } ?? ""), \(reason))" }

    /// The longest wait a `Retry-After` is read as (a day); the gateway caps it further
    /// (`providers.maxRetryAfterSeconds`).
    public static let longestRetryAfter = 86_400.0

    /// Reads a `Retry-After` header: seconds, or an HTTP date; always a finite wait of at most a day
    /// (`1e300`, `inf` or `nan` from a provider never reaches arithmetic).
    public static func retryAfter(header: String?, now: Date = Date()) -> Double? {
        guard let header = header?.trimmingCharacters(in: .whitespaces), !header.isEmpty, header.utf8.count <= 64 else { return nil }
        if let seconds = Double(header) {
            guard !seconds.isNaN else { return nil }
            return min(longestRetryAfter, max(0, seconds))
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: header).map { min(longestRetryAfter, max(0, $0.timeIntervalSince(now))) }
    }
}
