/// How a load test behaves: how many virtual students and teachers, how they pace and what they ask.
public struct LoadProfile: Sendable {
    /// The gateway's base URL (loopback only).
    public var url: String
    /// Virtual users at the end of the ramp.
    public var users: Int
    /// Seconds over which users join (0: all at once).
    public var rampSeconds: Double
    /// Seconds the test runs, ramp included; every user stops then.
    public var durationSeconds: Double
    /// Seconds a user thinks between messages (mean of an exponential).
    public var thinkSeconds: Double
    /// Share of users who are teachers (bypass class).
    public var teacherShare: Double
    /// Distinct questions in the bank; popularity follows Zipf's law (s = 1), so caches see repetition.
    public var questions: Int
    /// Share of streamed answers whose connection the user drops mid-answer and resumes with
    /// `Last-Event-ID`, after a jittered backoff.
    public var dropShare: Double
    /// The model alias.
    public var model: String
    /// Tokens per mock answer (sent as the request's `mock` object; ignored by real providers).
    public var mockTokens: Int?
    /// Mock tokens per second.
    public var mockTokensPerSecond: Double?

    /// - Parameters: see the properties.
    public init(
        url: String, users: Int, rampSeconds: Double = 0, durationSeconds: Double, thinkSeconds: Double = 1, teacherShare: Double = 0.02,
        questions: Int = 500, dropShare: Double = 0.05, model: String = "default", mockTokens: Int? = nil, mockTokensPerSecond: Double? = nil
    ) {
        self.url = url
        self.users = users
        self.rampSeconds = rampSeconds
        self.durationSeconds = durationSeconds
        self.thinkSeconds = thinkSeconds
        self.teacherShare = teacherShare
        self.questions = questions
        self.dropShare = dropShare
        self.model = model
        self.mockTokens = mockTokens
        self.mockTokensPerSecond = mockTokensPerSecond
    }
}
