/// Traffic tiers, from the work queued and running on the node.
public enum Tier: Int, Sendable, Comparable, CaseIterable {
    case normal = 0, high, peak, overload

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// The name in configuration and metrics.
    public var name: String {
        switch self {
        case .normal: "normal"
        case .high: "high"
        case .peak: "peak"
        case .overload: "overload"
        }
    }
}

/// What a plan allows each of its users.
public struct Plan: Sendable, Hashable {
    /// The plan's name (`free`, `paid`, …).
    public var name: String
    /// Requests per sliding minute (default 10); nil for no limit.
    public var requestsPerMinute: Int? = 10
    /// Per-minute requests in a tier, when stricter there (defaults: high 5, peak 3).
    public var tierRequestsPerMinute: [Tier: Int] = [.high: 5, .peak: 3]
    /// Tokens per sliding minute, reserved at admission (prompt + max_tokens) and settled to real use.
    public var tokensPerMinute: Int?
    /// Messages per day.
    public var messagesPerDay: Int?
    /// Tokens per day, reserved and settled like `tokensPerMinute`.
    public var tokensPerDay: Int?
    /// The largest `max_tokens`; also the cap when a request names none (default 4096).
    public var maxTokens: Int = 4096
    /// The largest prompt, in bytes of message text (default 32 KiB).
    public var maxPromptBytes: Int = 32 * 1024
    /// Streams a user may hold open at once (default 5).
    public var maxStreams: Int = 5
    /// Jobs of one user that run at once on a node (nil: `queue.maxRunningPerUser`, 2 by default): more
    /// for a plan that asks many questions at once and may hold that many provider slots, such as the
    /// user `sluice warm` fills the cache as.
    public var maxRunning: Int?
    /// Stream reconnects (resumes) per minute (default 30).
    public var reconnectsPerMinute: Int = 30
    /// Days a job is kept after it ends, in its owner's history (nil: `retention.historyDays`).
    public var historyDays: Double?
    /// US dollars one user may spend in a calendar month (nil: no cap).
    public var spendPerMonthUSD: Double?

    /// - Parameter name: the plan's name.
    public init(name: String) {
        self.name = name
    }

    /// The per-minute request limit in a tier and mode.
    public func requestLimit(tier: Tier, mode: Mode?) -> Int? {
        var limits = [requestsPerMinute, tier == .normal ? nil : tierRequestsPerMinute.filter { $0.key <= tier }.values.min()].compactMap { $0 }
        if let mode, let limit = mode.requestsPerMinute { limits.append(limit) }
        return limits.min()
    }
}

/// A named mode switched on by the calendar or an admin: exam mode, evening peak, …
public struct Mode: Sendable, Hashable {
    /// The name.
    public var name: String
    /// A per-minute request limit for students while the mode holds (teachers and admins keep their plan's).
    public var requestsPerMinute: Int?
    /// Queued work at which the node is overloaded while the mode holds (a larger queue).
    public var overloadAt: Int?
    /// The semantic-cache threshold while the mode holds.
    public var semanticThreshold: Double?
    /// Whether simple mode (short answers) holds regardless of the tier.
    public var simpleMode: Bool = false

    /// - Parameter name: the mode's name.
    public init(name: String) {
        self.name = name
    }
}

/// How the tier follows the load, and what each tier does.
public struct TierPolicy: Sendable, Hashable {
    /// Queued and running jobs at which the tier is high (default 1,000).
    public var highAt = 1000
    /// … peak (default 5,000).
    public var peakAt = 5000
    /// … overload: new requests other than bypass get 503 (default 10,000).
    public var overloadAt = 10000
    /// Tiers in which simple mode holds: answers capped and a brevity instruction (default peak and above).
    public var simpleModeFrom: Tier = .peak
    /// `max_tokens` in simple mode (default 256).
    public var simpleMaxTokens = 256
    /// The brevity instruction added in simple mode.
    public var brevityInstruction = "Answer briefly, in at most a few sentences."
    /// Semantic-cache threshold per tier, when set.
    public var semanticThreshold: [Tier: Double] = [:]
    /// Seconds a client is told to wait when overloaded (default 30).
    public var overloadRetryAfter = 30

    /// Creates the defaults.
    public init() {}

    /// The tier for a load, in a mode.
    public func tier(load: Int, mode: Mode?) -> Tier {
        let overload = mode?.overloadAt ?? overloadAt
        if load >= overload { return .overload }
        if load >= peakAt { return .peak }
        if load >= highAt { return .high }
        return .normal
    }
}
