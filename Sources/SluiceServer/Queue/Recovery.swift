import Foundation
import Logging
import Synchronization
import SluiceCore
import SluiceStore

/// Taking up unfinished work: after a restart, from another node (a claim or a rescue), and the
/// watchdog's passes over jobs the store says run here that nothing runs. It hands what it takes up to
/// the job service's queue, or ends it through the job service; the job service never calls it.
final class Recovery: Sendable {
    let jobs: JobService
    /// Jobs (id and fence) the shared store says this node claimed that it neither queues nor runs, as
    /// the watchdog's last pass found them: taken up when the next pass finds them so again.
    let unheldClaims = Mutex<Set<String>>([])

    init(jobs: JobService) {
        self.jobs = jobs
    }

    /// Re-queues the work a previous run left: queued jobs as they were, running ones with the attempt
    /// counted and a `reset` so that followers drop partial output. Sequence numbers skip past anything
    /// the previous run may have sent without storing.
    func recover() async throws -> Int {
        let unfinished = try await jobs.store.unfinishedJobs().sorted { $0.createdAt < $1.createdAt }
        for job in unfinished { try await adopt(job) }
        return unfinished.count
    }

    /// Takes over an unfinished job that an earlier run, or another node, left: a running one has its
    /// attempt counted and a `reset` so that followers drop partial output; sequence numbers skip past
    /// anything the previous holder may have sent without storing. Then it joins this node's queue.
    func adopt(_ job: Job, now: Date = Date()) async throws {
        var job = job
        let stored = job.state == .queued && job.attempt == 0 ? [] : try await jobs.store.chunks(of: job.id, after: 0)
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
            if wasRunning, job.attempt >= jobs.configuration.queue.maxAttempts {
                jobs.hub.open(job.id, nextSeq: nextSeq)
                let reason = "the node running it stopped, and its attempts are used up"
                await jobs.endLogged(&job, .failed, event: .error(code: SluiceError.Code.providerError.rawValue, message: reason))
                return
            }
            job.state = .queued
            job.deadline = max(job.deadline, now.addingTimeInterval(jobs.configuration.queue.deadlineSeconds))
            try await jobs.store.save(job, appending: [StreamChunk(seq: nextSeq, event: .reset)])
            nextSeq += 1
        }
        jobs.hub.open(job.id, nextSeq: nextSeq)
        jobs.scheduler.enqueue(job, now: now)
    }

    /// Finds jobs the store says are running here that no attempt runs (a write that failed between two
    /// states, a bug): each is taken up again as after a restart — finished if its answer is complete,
    /// else re-queued behind a `reset`. On a shared store, also the jobs this node claimed and never
    /// took up (a claim whose reply was lost, or whose taking up failed): this node's heartbeats renew
    /// their leases, so no other node would ever rescue them. A claim is taken up between the claim's
    /// reply and the scheduler's queue, so such a job is taken up only when two passes (5 s apart) find
    /// it so with the same fence.
    func reconcile() async {
        guard !jobs.scheduler.isStopped else { return }
        if !jobs.health.isUp {
            // A write nobody needs (a zero count): the store is up again when it takes one.
            do {
                try await jobs.store.addCounters([DailyCounterDelta(user: "sluice:probe", day: "probe", messages: 0, tokens: 0)])
                jobs.health.succeeded()
            } catch {
                jobs.health.failed(error)
                return
            }
        }
        let stuck: [JobMark]
        let unheld: [JobMark]
        do {
            let watched = try await jobs.store.watchedJobs(node: jobs.membership?.nodeID)
            stuck = watched.filter { job in
                job.state == .running && (job.node == nil || job.node == jobs.membership?.nodeID) && !jobs.scheduler.isRunning(job.id)
            }
            unheld = watched.filter { job in
                job.state == .queued && job.node != nil && job.node == jobs.membership?.nodeID && !jobs.scheduler.holds(job.id)
            }
        } catch {
            jobs.health.failed(error)
            return
        }
        let seen = Set(unheld.map { "\($0.id) \($0.fence ?? 0)" })
        let seenTwice = unheldClaims.withLock { last in
            defer { last = seen }
            return last.intersection(seen)
        }
        for job in unheld where seenTwice.contains("\(job.id) \(job.fence ?? 0)") {
            guard !jobs.scheduler.holds(job.id), let current = try? await jobs.store.job(id: job.id),
                  current.state == .queued, current.node == job.node, current.fence == job.fence
            else { continue }
            jobs.logger.warning("a job this node claimed was never taken up; taking it up", metadata: ["sluice.job": "\(job.id)"])
            do {
                try await adopt(current)
            } catch {
                jobs.lost(current, error: error, doing: "could not take up a claimed job")
            }
        }
        for job in stuck {
            // Looked at again, in case an attempt started or ended since.
            guard !jobs.scheduler.isRunning(job.id) else { continue }
            let current: Job?
            do {
                current = try await jobs.store.job(id: job.id)
            } catch {
                // Unreadable (damaged; a restart quarantines it) or the store failed: said, and looked at again next pass.
                jobs.logger.warning("a job running with no attempt could not be read", metadata: ["sluice.job": "\(job.id)", "error": "\(String(reflecting: type(of: error)))"])
                continue
            }
            guard let current, current.state == .running else { continue }
            jobs.logger.warning("a job was running with no attempt; taking it up again", metadata: ["sluice.job": "\(job.id)"])
            jobs.hub.abandon(job.id)
            do {
                try await adopt(current)
            } catch {
                jobs.lost(current, error: error, doing: "could not take up a stuck job")
            }
        }
    }
}
