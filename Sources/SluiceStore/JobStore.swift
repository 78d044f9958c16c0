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
    /// Where the jobs stand that `node` must keep going (nil: a store of one node), without reading the
    /// jobs themselves: the running ones it or nobody holds, and the queued ones it holds. What the
    /// watchdog looks at every few seconds, however long the queue.
    func watchedJobs(node: String?) async throws -> [JobMark]
    /// Deletes jobs, and their streams, that ended before `date`; returns how many.
    func deleteFinished(before date: Date) async throws -> Int
    /// Deletes one job that has ended, with its stream and followers; false when there is no such ended job.
    func deleteEnded(jobID: String) async throws -> Bool
    /// A setting kept across restarts and shared by the nodes of a cluster (the modes set by hand);
    /// nil when never set.
    func setting(_ name: String) async throws -> String?
    /// Sets such a setting.
    func setSetting(_ name: String, to value: String) async throws
}

/// Durable storage of the chunks of each job's stream.
public protocol StreamLog: Sendable {
    /// Appends chunks (a batch, never one commit per token). With a fence, only while the job's lease
    /// carries it (else `LeaseLost`), so that a node that lost a job cannot write into its stream.
    func append(_ chunks: [StreamChunk], to jobID: String, fence: Int?) async throws
    /// The chunks of a job with a sequence number above `seq`, in order.
    func chunks(of jobID: String, after seq: Int) async throws -> [StreamChunk]
}

extension StreamLog {
    /// Appends chunks to a job's stream.
    public func append(_ chunks: [StreamChunk], to jobID: String) async throws { try await append(chunks, to: jobID, fence: nil) }
}

extension JobStore {
    /// Stores a new job.
    public func insert(_ job: Job) async throws { try await insert(job, counters: []) }
    /// Stores a job's new state and appends stream chunks in one commit.
    public func save(_ job: Job, appending chunks: [StreamChunk]) async throws { try await save(job, appending: chunks, counters: []) }
}

/// A write refused because the job's lease moved on (rescued and claimed by another node): the
/// writer must stop working on the job.
public struct LeaseLost: Error, CustomStringConvertible {
    /// The job.
    public var jobID: String
    public var description: String { "the lease on job \(jobID) was lost to another node" }
    /// - Parameter jobID: the job.
    public init(jobID: String) { self.jobID = jobID }
}

/// Where one unfinished job stands: its state, and on a shared store its holder and fencing token.
public struct JobMark: Sendable, Hashable {
    public var id: String
    public var state: JobState
    public var node: String?
    public var fence: Int?

    public init(id: String, state: JobState, node: String? = nil, fence: Int? = nil) {
        self.id = id
        self.state = state
        self.node = node
        self.fence = fence
    }
}

/// Who holds a job in a queue that many nodes share.
public enum JobHolder: Sendable, Equatable {
    /// A node runs it (or will): its id and the address it advertised.
    case node(id: String, address: String)
    /// It waits for a node to take it.
    case none
    /// It ended, or there is no such job.
    case ended
}

/// A queue that many nodes share (PostgreSQL). A job is held by one node under a lease that node
/// renews; a job whose lease lapsed is rescued back to the queue with a new fencing token, never
/// after it ended. Wake-ups come by notification, with polling as the fallback.
public protocol SharedJobQueue: Sendable {
    /// Takes up to `limit` jobs nobody holds, most urgent first, for `node`, under a fresh lease; the
    /// jobs carry their new `node` and `fence`.
    func claim(node: String, limit: Int, leaseSeconds: Double, now: Date) async throws -> [Job]
    /// Extends the leases of every unfinished job `node` holds and records that the node is alive at
    /// `address`; returns how many leases it extended.
    func renewLeases(node: String, address: String, leaseSeconds: Double) async throws -> Int
    /// Puts back in the queue every unfinished job whose lease lapsed (its node died or lost the
    /// database); returns their ids.
    func rescueExpired() async throws -> [String]
    /// The same, done by `node` only when it has heartbeated without a break for a whole lease (judged by
    /// the database as the statement runs), so that after a stall of every node the first one back does
    /// not rescue the jobs of nodes that are alive.
    func rescueExpired(by node: String, leaseSeconds: Double) async throws -> [String]
    /// Jobs queued or running on any node, or waiting for one: the cluster's load.
    func unfinishedCount() async throws -> Int
    /// The nodes heard from within a lease, by id.
    func liveNodes(leaseSeconds: Double) async throws -> [String]
    /// Gives jobs this node holds but has not started back to the queue (at shutdown).
    func release(_ jobs: [Job]) async throws
    /// The address a live node advertised.
    func address(of node: String) async throws -> String?
    /// Who holds each of these jobs now (a job not found has ended); one round trip for all of them.
    func holders(of jobIDs: [String]) async throws -> [String: JobHolder]
    /// Takes one particular job nobody holds for `node` (to cancel it); nil when it is held or ended.
    func claim(jobID: String, node: String, leaseSeconds: Double) async throws -> Job?
    /// The secret the nodes sharing this database show each other, made by the first node that asks.
    func clusterSecret() async throws -> String
    /// Calls `wake` on every notification that work is waiting, listening again after the connection
    /// drops, until the task is cancelled; `onListening` is called each time listening (re)starts.
    func listenForWork(onListening: @escaping @Sendable () -> Void, onLost: @escaping @Sendable () -> Void, wake: @escaping @Sendable () -> Void) async
    /// Records that a deployment (a provider account) is to be left alone until `until` — its
    /// `Retry-After`, or an open breaker — keeping the later time when one is already recorded.
    func coolDown(deployment: String, until: Date) async throws
    /// The deployments kept aside now, with the time each comes back.
    func coolDowns() async throws -> [String: Date]
}

extension SharedJobQueue {
    /// Who holds a job now.
    public func holder(of jobID: String) async throws -> JobHolder {
        try await holders(of: [jobID])[jobID] ?? .ended
    }
}

/// Counters that many nodes share, changed atomically, so that together they admit no more than a limit.
public protocol SharedCounters: Sendable {
    /// Adds `amount` (one request, or a request's tokens) to a key's window (minutes since 1970) unless
    /// that would take it past `limit`; returns whether it was added.
    func take(key: String, window: Int64, amount: Int, limit: Int) async throws -> Bool
    /// Counts a stream a user opens on `node` unless the user's streams open on live nodes (heard from
    /// within `liveSeconds`, and this one) already reach `limit`; returns whether it counted.
    func openStream(node: String, user: String, limit: Int, liveSeconds: Double) async throws -> Bool
    /// Counts a stream of a user on `node` as closed.
    func closeStream(node: String, user: String) async throws
    /// Adds a change to a user's day unless it would take messages or tokens past their limits
    /// (nil: none); returns whether it was added.
    func addDaily(_ delta: DailyCounterDelta, messageLimit: Int?, tokenLimit: Int?) async throws -> Bool
}
