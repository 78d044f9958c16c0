/// How a load test behaves: how many virtual students and teachers, how they pace and what they ask.
public struct LoadProfile: Sendable {
    /// The shapes of load the seeds ask to rehearse before every peak.
    public enum Kind: String, Sendable, CaseIterable {
        /// Users (or arrivals, with `arrivalRate`) at a constant level from the start.
        case steady
        /// Users join over the ramp (by default most of the run), as on the evening before an exam.
        case examNight = "exam-night"
        /// At `stormAt` every open stream drops at once, as when a gateway restarts, and every user
        /// reconnects with jittered backoff; users whose connection is refused keep retrying.
        case reconnectStorm = "reconnect-storm"
    }

    /// The gateway's base URL (loopback only).
    public var url: String
    /// The shape of the load.
    public var kind: Kind
    /// Virtual users at the end of the ramp; with `arrivalRate`, the population the senders are drawn from.
    public var users: Int
    /// Seconds over which users join (0: all at once; an exam-night profile defaults to 80 % of the run).
    public var rampSeconds: Double
    /// Seconds the test runs, ramp included; every user stops then.
    public var durationSeconds: Double
    /// Seconds a user thinks between messages (mean of an exponential).
    public var thinkSeconds: Double
    /// Share of users who are teachers (bypass class).
    public var teacherShare: Double
    /// Share of users whose tab sits in the background: their questions go to the batch class and
    /// their streams wait idle (heartbeats only) while interactive work goes first; they ask ten
    /// times less often.
    public var backgroundShare: Double
    /// Distinct questions in the bank; popularity follows Zipf's law (s = 1), so caches see repetition.
    /// 0: every question is new (no cache can help).
    public var questions: Int
    /// Share of streamed answers whose connection the user drops mid-answer and resumes with
    /// `Last-Event-ID`, after a jittered backoff.
    public var dropShare: Double
    /// Open loop: requests per second (Poisson arrivals), each from a user drawn from `users`,
    /// instead of users who wait for their answer before thinking again.
    public var arrivalRate: Double?
    /// Reconnect storm: the second of the run at which every open stream drops (default: a third).
    public var stormAt: Double?
    /// The most requests the run sends (nil: as many as the duration allows).
    public var maxRequests: Int?
    /// The model alias.
    public var model: String
    /// Tokens per mock answer (sent as the request's `mock` object; ignored by real providers).
    public var mockTokens: Int?
    /// With `mockTokens`, answers of one question are `mockTokens...mockTokensMax` tokens long, the
    /// same for every ask of that question (so that caches see the same request).
    public var mockTokensMax: Int?
    /// Mock tokens per second.
    public var mockTokensPerSecond: Double?

    /// - Parameters: see the properties.
    public init(
        url: String, kind: Kind = .steady, users: Int, rampSeconds: Double? = nil, durationSeconds: Double, thinkSeconds: Double = 1,
        teacherShare: Double = 0.02, backgroundShare: Double = 0, questions: Int = 500, dropShare: Double = 0.05, arrivalRate: Double? = nil,
        stormAt: Double? = nil, maxRequests: Int? = nil, model: String = "default", mockTokens: Int? = nil, mockTokensMax: Int? = nil, mockTokensPerSecond: Double? = nil
    ) {
        self.url = url
        self.kind = kind
        self.users = users
        self.rampSeconds = rampSeconds ?? (kind == .examNight ? durationSeconds * 0.8 : 0)
        self.durationSeconds = durationSeconds
        self.thinkSeconds = thinkSeconds
        self.teacherShare = teacherShare
        self.backgroundShare = backgroundShare
        self.questions = questions
        self.dropShare = dropShare
        self.arrivalRate = arrivalRate
        self.stormAt = kind == .reconnectStorm ? (stormAt ?? durationSeconds / 3) : nil
        self.maxRequests = maxRequests
        self.model = model
        self.mockTokens = mockTokens
        self.mockTokensMax = mockTokensMax
        self.mockTokensPerSecond = mockTokensPerSecond
    }

    /// The role of a virtual user, fixed by its number so that reruns are comparable (spread so that
    /// any run of consecutive users has about the profile's shares).
    func role(of user: Int) -> LoadReport.Role {
        let position = Double(user * 7919 % 1000) / 1000
        if position < teacherShare { return .teacher }
        if position < teacherShare + backgroundShare { return .background }
        return .student
    }

    /// The mock answer length for a question.
    func mockTokens(for question: Int) -> Int? {
        guard let low = mockTokens else { return nil }
        guard let high = mockTokensMax, high > low else { return low }
        return low + Int(UInt64(truncatingIfNeeded: question) &* 2_654_435_761 % UInt64(high - low + 1))
    }
}
