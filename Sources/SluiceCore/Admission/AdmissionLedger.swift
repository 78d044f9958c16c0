public import Foundation

/// The per-user counters behind admission: a sliding minute of requests and of tokens, and the day's
/// messages and tokens. Pure and exact: the caller holds it under one lock, so N concurrent requests
/// can never together pass a limit. Token use is reserved at admission (the worst case) and settled
/// to the real use when the job ends, or released when it fails.
public struct AdmissionLedger: Sendable {
    /// The limits that apply to one request.
    public struct Limits: Sendable, Hashable {
        /// Requests per sliding minute.
        public var requestsPerMinute: Int?
        /// Tokens per sliding minute.
        public var tokensPerMinute: Int?
        /// Messages per day.
        public var messagesPerDay: Int?
        /// Tokens per day.
        public var tokensPerDay: Int?

        /// - Parameters:
        ///   - requestsPerMinute: requests per minute.
        ///   - tokensPerMinute: tokens per minute.
        ///   - messagesPerDay: messages per day.
        ///   - tokensPerDay: tokens per day.
        public init(requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, messagesPerDay: Int? = nil, tokensPerDay: Int? = nil) {
            self.requestsPerMinute = requestsPerMinute
            self.tokensPerMinute = tokensPerMinute
            self.messagesPerDay = messagesPerDay
            self.tokensPerDay = tokensPerDay
        }
    }

    /// Why a request was refused, and when to retry.
    public enum Refusal: Error, Sendable, Hashable {
        /// The per-minute request or token limit: retry after that many seconds.
        case rateLimited(retryAfter: Int, limit: Int)
        /// The day's messages or tokens are used up: retry at `reset`.
        case quotaExceeded(reset: Date, limit: Int)
    }

    /// A request's place in the counters, kept with its job to settle later.
    public struct Reservation: Sendable, Hashable, Codable {
        /// The user's key.
        public var user: String
        /// The day it counts in (`yyyy-mm-dd` in the calendar's time zone).
        public var day: String
        /// Tokens reserved.
        public var tokens: Int
        /// When it was made.
        public var at: Date
        /// The job's id.
        public var id: String

        /// - Parameters:
        ///   - user: the user's key.
        ///   - day: the day.
        ///   - tokens: tokens reserved.
        ///   - at: when.
        ///   - id: the job's id.
        public init(user: String, day: String, tokens: Int, at: Date, id: String) {
            self.user = user
            self.day = day
            self.tokens = tokens
            self.at = at
            self.id = id
        }
    }

    /// What an admitted request leaves, for the rate-limit headers.
    public struct Headroom: Sendable, Hashable {
        /// The per-minute request limit.
        public var limit: Int?
        /// Requests left in the current minute.
        public var remaining: Int?
        /// Seconds until a request slot frees.
        public var reset: Int
    }

    struct User: Sendable {
        var requests: [Date] = []
        var tokens: [(at: Date, tokens: Int, id: String)] = []
        var day = ""
        var messages = 0
        var dayTokens = 0
    }

    var users: [String: User] = [:]

    /// Creates empty counters.
    public init() {}

    /// The day's counters of a user, as persisted (`messages`, `tokens`), to restore after a restart.
    public mutating func restore(user: String, day: String, messages: Int, tokens: Int) {
        users[user, default: User()].day = day
        users[user]!.messages = messages
        users[user]!.dayTokens = tokens
    }

    /// The day's counters of a user.
    public func dayCounters(user: String, day: String) -> (messages: Int, tokens: Int) {
        guard let state = users[user], state.day == day else { return (0, 0) }
        return (state.messages, state.dayTokens)
    }

    /// Checks every limit and, when all pass, counts the request and reserves its tokens.
    /// - Parameters:
    ///   - reservation: who, which day, how many tokens, when.
    ///   - limits: the limits in force.
    ///   - nextDay: the start of the next day in the calendar's time zone (for a quota's reset).
    public mutating func admit(_ reservation: Reservation, limits: Limits, nextDay: Date) -> Result<Headroom, Refusal> {
        let now = reservation.at
        var state = users[reservation.user] ?? User()
        Self.prune(&state, now: now)
        if state.day != reservation.day {
            state.day = reservation.day
            state.messages = 0
            state.dayTokens = 0
        }
        if let limit = limits.requestsPerMinute, state.requests.count >= limit {
            // A limit of 0 admits nothing (a mode closed to students): there is no request whose expiry frees a slot.
            let freed = limit > 0 ? state.requests[state.requests.count - limit].addingTimeInterval(60) : now.addingTimeInterval(60)
            return .failure(.rateLimited(retryAfter: Self.seconds(until: freed, from: now), limit: max(0, limit)))
        }
        if let limit = limits.tokensPerMinute {
            let used = state.tokens.reduce(0) { $0 + $1.tokens }
            if used + reservation.tokens > limit {
                var freed = used
                var at = now
                for entry in state.tokens where freed + reservation.tokens > limit {
                    freed -= entry.tokens
                    at = entry.at.addingTimeInterval(60)
                }
                return .failure(.rateLimited(retryAfter: Self.seconds(until: at, from: now), limit: limit))
            }
        }
        if let limit = limits.messagesPerDay, state.messages >= limit {
            return .failure(.quotaExceeded(reset: nextDay, limit: limit))
        }
        if let limit = limits.tokensPerDay, state.dayTokens + reservation.tokens > limit {
            return .failure(.quotaExceeded(reset: nextDay, limit: limit))
        }
        state.requests.append(now)
        state.tokens.append((now, reservation.tokens, reservation.id))
        state.messages += 1
        state.dayTokens += reservation.tokens
        users[reservation.user] = state
        let remaining = limits.requestsPerMinute.map { max(0, $0 - state.requests.count) }
        let reset = state.requests.first.map { Self.seconds(until: $0.addingTimeInterval(60), from: now) } ?? 60
        return .success(Headroom(limit: limits.requestsPerMinute, remaining: remaining, reset: reset))
    }

    /// Counts a message that costs no provider work (a cache hit, a single-flight follower) against the
    /// day's message quota only.
    public mutating func countMessage(user: String, day: String, limit: Int?, nextDay: Date) -> Result<Void, Refusal> {
        var state = users[user] ?? User()
        if state.day != day {
            state.day = day
            state.messages = 0
            state.dayTokens = 0
        }
        if let limit, state.messages >= limit { return .failure(.quotaExceeded(reset: nextDay, limit: limit)) }
        state.messages += 1
        users[user] = state
        return .success(())
    }

    /// Undoes an admission entirely — its request in the minute's window, its tokens, its message — for
    /// a request refused after it was counted (a ceiling further on, a job that could not be stored).
    public mutating func withdraw(_ reservation: Reservation) {
        settle(reservation, usedTokens: nil, refundMessage: true)
        if let index = users[reservation.user]?.requests.lastIndex(of: reservation.at) {
            users[reservation.user]?.requests.remove(at: index)
        }
    }

    /// Settles a reservation: to the tokens really used, or releases it (tokens nil) and, when
    /// `refundMessage`, gives the message back too.
    public mutating func settle(_ reservation: Reservation, usedTokens: Int?, refundMessage: Bool) {
        guard var state = users[reservation.user] else { return }
        let used = usedTokens ?? 0
        if let index = state.tokens.firstIndex(where: { $0.id == reservation.id }) {
            if used == 0 { state.tokens.remove(at: index) } else { state.tokens[index].tokens = used }
        }
        if state.day == reservation.day {
            state.dayTokens = max(0, state.dayTokens - reservation.tokens + used)
            if refundMessage { state.messages = max(0, state.messages - 1) }
        }
        users[reservation.user] = state
    }

    /// The per-minute headroom of a user without counting a request (for responses that are not admissions).
    public mutating func headroom(user: String, limit: Int?, now: Date) -> Headroom {
        var state = users[user] ?? User()
        Self.prune(&state, now: now)
        users[user] = state
        let reset = state.requests.first.map { Self.seconds(until: $0.addingTimeInterval(60), from: now) } ?? 60
        return Headroom(limit: limit, remaining: limit.map { max(0, $0 - state.requests.count) }, reset: reset)
    }

    /// Forgets users with nothing left to count: no request or reservation in the last minute and no
    /// counters for `day` (today). Counters of users who never come back do not pile up.
    public mutating func forgetIdle(day: String, now: Date) {
        for (user, var state) in users {
            Self.prune(&state, now: now)
            if state.requests.isEmpty, state.tokens.isEmpty, state.day != day {
                users[user] = nil
            } else {
                users[user] = state
            }
        }
    }

    /// Users with counters in memory.
    public var trackedUsers: Int { users.count }

    static func prune(_ state: inout User, now: Date) {
        let cutoff = now.addingTimeInterval(-60)
        if let keep = state.requests.firstIndex(where: { $0 > cutoff }) { state.requests.removeFirst(keep) } else { state.requests.removeAll() }
        if let keep = state.tokens.firstIndex(where: { $0.at > cutoff }) { state.tokens.removeFirst(keep) } else { state.tokens.removeAll() }
    }

    static func seconds(until date: Date, from now: Date) -> Int {
        max(1, Int(date.timeIntervalSince(now).rounded(.up)))
    }
}
