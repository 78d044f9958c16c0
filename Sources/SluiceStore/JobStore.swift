public import Foundation
public import SluiceCore

/// Durable storage of jobs. A write returns only once it is committed.
public protocol JobStore: Sendable {
    /// Stores a new job; returns once it is durable.
    func insert(_ job: Job) async throws
    /// Stores a job's new state and appends stream chunks in the same commit.
    func save(_ job: Job, appending chunks: [StreamChunk]) async throws
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
