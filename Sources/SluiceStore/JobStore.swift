public import Foundation
public import SluiceCore

/// A change to a user's counters of one day, applied by addition so that concurrent changes commute.
public struct DailyCounterDelta: Sendable, Hashable {
    /// The user's key.
    public var user: String
    /// The day, `yyyy-mm-dd`.
    public var day: String
    /// Messages to add (negative to refund).
    public var messages: Int
    /// Tokens to add (negative to release).
    public var tokens: Int

    /// - Parameters:
    ///   - user: the user's key.
    ///   - day: the day.
    ///   - messages: messages to add.
    ///   - tokens: tokens to add.
    public init(user: String, day: String, messages: Int, tokens: Int) {
        self.user = user
        self.day = day
        self.messages = messages
        self.tokens = tokens
    }
}

/// Durable storage of jobs. A write returns only once it is committed.
public protocol JobStore: Sendable {
    /// Stores a new job, and the counter changes its admission made, in one commit.
    func insert(_ job: Job, counters: [DailyCounterDelta]) async throws
    /// Stores a job's new state, appends stream chunks and applies counter changes in one commit.
    func save(_ job: Job, appending chunks: [StreamChunk], counters: [DailyCounterDelta]) async throws
    /// Applies counter changes on their own (a cache hit counts a message without a job).
    func addCounters(_ counters: [DailyCounterDelta]) async throws
    /// Lets another principal follow a job (single-flight): read it and its stream.
    func addFollower(jobID: String, tenant: String, user: String) async throws
    /// Whether a principal follows a job.
    func isFollower(jobID: String, tenant: String, user: String) async throws -> Bool
    /// The counters of a day: (user, messages, tokens).
    func dailyCounters(day: String) async throws -> [(user: String, messages: Int, tokens: Int)]
    /// Reads one job.
    func job(id: String) async throws -> Job?
    /// Every job that is queued or running: the work to resume after a restart.
    func unfinishedJobs() async throws -> [Job]
    /// Deletes jobs, and their streams, that ended before `date`; returns how many.
    func deleteFinished(before date: Date) async throws -> Int
}

/// Durable storage of the chunks of each job's stream.
public protocol StreamLog: Sendable {
    /// Appends chunks (a batch, never one commit per token).
    func append(_ chunks: [StreamChunk], to jobID: String) async throws
    /// The chunks of a job with a sequence number above `seq`, in order.
    func chunks(of jobID: String, after seq: Int) async throws -> [StreamChunk]
}

extension JobStore {
    /// Stores a new job.
    public func insert(_ job: Job) async throws { try await insert(job, counters: []) }
    /// Stores a job's new state and appends stream chunks in one commit.
    public func save(_ job: Job, appending chunks: [StreamChunk]) async throws { try await save(job, appending: chunks, counters: []) }
}
