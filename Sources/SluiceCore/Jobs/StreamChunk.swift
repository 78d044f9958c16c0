/// One event of a job's stream, numbered by `seq` (increasing across attempts).
public struct StreamChunk: Sendable, Hashable, Codable {
    /// The sequence number within the job, from 1.
    public var seq: Int
    /// What happened.
    public var event: StreamEvent

    /// - Parameters:
    ///   - seq: the sequence number.
    ///   - event: the event.
    public init(seq: Int, event: StreamEvent) {
        self.seq = seq
        self.event = event
    }
}

/// The events of the jobs stream contract.
public enum StreamEvent: Sendable, Hashable, Codable {
    /// New text of choice 0.
    case delta(String)
    /// Anything else an answer carries: tool calls, a refusal, log probabilities, other choices.
    case choice(ChoiceDelta)
    /// An attempt restarted after partial output: drop what was shown.
    case reset
    /// The answer is complete; `queueMs` is how long the job waited for a worker (absent for cache hits);
    /// `fingerprint` is the provider's `system_fingerprint`.
    case done(finishReason: String, usage: Usage, cache: String, queueMs: Int? = nil, fingerprint: String? = nil)
    /// The job ended without a complete answer.
    case error(code: String, message: String)

    /// Whether nothing follows this event.
    public var isTerminal: Bool {
        switch self {
        case .delta, .choice, .reset: false
        case .done, .error: true
        }
    }

    /// The SSE event name.
    public var name: String {
        switch self {
        case .delta: "delta"
        case .choice: "choice"
        case .reset: "reset"
        case .done: "done"
        case .error: "error"
        }
    }
}
