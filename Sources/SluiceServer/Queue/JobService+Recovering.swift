import Foundation
import Logging
import Synchronization
import SluiceCache
import SluiceCore
import SluiceProviders
import SluiceStore

/// Taking up unfinished work: after a restart, or from another node (a claim or a rescue).
extension JobService {
    /// Re-queues the work a previous run left: queued jobs as they were, running ones with the attempt
    /// counted and a `reset` so that followers drop partial output. Sequence numbers skip past anything
    /// the previous run may have sent without storing.
    func recover() async throws -> Int {
        let jobs = try await store.unfinishedJobs().sorted { $0.createdAt < $1.createdAt }
        for job in jobs { try await adopt(job) }
        return jobs.count
    }

    /// Takes over an unfinished job that an earlier run, or another node, left: a running one has its
    /// attempt counted and a `reset` so that followers drop partial output; sequence numbers skip past
    /// anything the previous holder may have sent without storing. Then it joins this node's queue.
    func adopt(_ job: Job, now: Date = Date()) async throws {
        var job = job
        let stored = job.state == .queued && job.attempt == 0 ? [] : try await store.chunks(of: job.id, after: 0)
        let lastSeq = stored.last?.seq ?? 0
        let wasRunning = job.state == .running
        let partial = stored.reversed().prefix { $0.event != .reset }.contains {
            switch $0.event {
            case .delta, .choice: true
            default: false
            }
        }
        var nextSeq = lastSeq + 1 + (wasRunning ? Attempt.flushCount : 0)
        if wasRunning || partial {
            if wasRunning, job.attempt >= configuration.queue.maxAttempts {
                hub.open(job.id, nextSeq: nextSeq)
                let reason = "the node running it stopped, and its attempts are used up"
                await endLogged(&job, .failed, event: .error(code: SluiceError.Code.providerError.rawValue, message: reason))
                return
            }
            job.state = .queued
            job.deadline = max(job.deadline, now.addingTimeInterval(configuration.queue.deadlineSeconds))
            try await store.save(job, appending: [StreamChunk(seq: nextSeq, event: .reset)])
            nextSeq += 1
        }
        hub.open(job.id, nextSeq: nextSeq)
        scheduler.enqueue(job, now: now)
    }
}
