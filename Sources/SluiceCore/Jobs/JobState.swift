/// The life of a job: `queued → running → succeeded | failed | cancelled | expired`; a retry goes back to `queued`.
public enum JobState: String, Codable, Sendable, CaseIterable {
    case queued, running, succeeded, failed, cancelled, expired

    /// Whether the job can change no more.
    public var isTerminal: Bool {
        switch self {
        case .queued, .running: false
        case .succeeded, .failed, .cancelled, .expired: true
        }
    }
}

/// Priority classes, served strictly in this order.
public enum PriorityClass: Int, Codable, Sendable, CaseIterable, Comparable {
    /// Teachers and admins: never wait behind others.
    case bypass = 0
    /// A person waiting for an answer.
    case interactive = 1
    /// Background work (warming, bulk).
    case batch = 2

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// The name used in the API.
    public var name: String {
        switch self {
        case .bypass: "bypass"
        case .interactive: "interactive"
        case .batch: "batch"
        }
    }
}
