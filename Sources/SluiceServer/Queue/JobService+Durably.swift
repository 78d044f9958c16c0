import Foundation
import Logging
import SluiceCore
import SluiceStore
import Synchronization

/// Writes that must reach the store: a job's ending and its re-queue are never only logged.
extension JobService {
    /// Retries `write` until the store takes it, with backoff from 50 ms to 2 s, for as long as the store
    /// fails (a full disk, a database outage). The first failure tells the job's subscribers that the
    /// answer cannot be saved yet (`store_unavailable`, unnumbered: they resume in a few seconds and get
    /// it). A lost lease ends the retries at once (another node holds the job); so does this node's
    /// shutdown (its next start, or another node, recovers the job from what the store has).
    func durably(_ job: Job, doing what: String, _ write: () async throws -> Void) async throws {
        var delay = 0.05
        var told = false
        while true {
            do {
                try await write()
                health.succeeded()
                if told { logger.notice("the store took the write again", metadata: ["sluice.job": "\(job.id)"]) }
                return
            } catch let error as LeaseLost {
                throw error
            } catch {
                health.failed(error)
                metrics.storeWriteFailed()
                if !told {
                    told = true
                    logger.error("\(what); retrying until the store takes it", metadata: ["sluice.job": "\(job.id)", "error": "\(error)"])
                    let notice = SluiceError(.storeUnavailable)
                    hub.interrupt(job.id, notice: .error(code: notice.code.rawValue, message: notice.message(language: .en)))
                }
                if Task.isCancelled || scheduler.isStopped { throw error }
                try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                delay = min(2, delay * 2)
            }
        }
    }

    /// Finds jobs the store says are running here that no attempt runs (a write that failed between two
    /// states, a bug): each is taken up again as after a restart — finished if its answer is complete,
    /// else re-queued behind a `reset`. On a shared store, also the jobs this node claimed and never
    /// took up (a claim whose reply was lost, or whose taking up failed): this node's heartbeats renew
    /// their leases, so no other node would ever rescue them. A claim is taken up between the claim's
    /// reply and the scheduler's queue, so such a job is taken up only when two passes (5 s apart) find
    /// it so with the same fence.
    func reconcile() async {
        guard !scheduler.isStopped else { return }
        if !health.isUp {
            // A write nobody needs (a zero count): the store is up again when it takes one.
            do {
                try await store.addCounters([DailyCounterDelta(user: "sluice:probe", day: "probe", messages: 0, tokens: 0)])
                health.succeeded()
            } catch {
                health.failed(error)
                return
            }
        }
        let stuck: [JobMark]
        let unheld: [JobMark]
        do {
            let unfinished = try await store.watchedJobs(node: membership?.nodeID)
            stuck = unfinished.filter { job in
                job.state == .running && (job.node == nil || job.node == membership?.nodeID) && !scheduler.isRunning(job.id)
            }
            unheld = unfinished.filter { job in
                job.state == .queued && job.node != nil && job.node == membership?.nodeID && !scheduler.holds(job.id)
            }
        } catch {
            health.failed(error)
            return
        }
        let seen = Set(unheld.map { "\($0.id) \($0.fence ?? 0)" })
        let seenTwice = unheldClaims.withLock { last in
            defer { last = seen }
            return last.intersection(seen)
        }
        for job in unheld where seenTwice.contains("\(job.id) \(job.fence ?? 0)") {
            guard !scheduler.holds(job.id), let current = try? await store.job(id: job.id),
                  current.state == .queued, current.node == job.node, current.fence == job.fence
            else { continue }
            logger.warning("a job this node claimed was never taken up; taking it up", metadata: ["sluice.job": "\(job.id)"])
            do {
                try await adopt(current)
            } catch {
                lost(current, error: error, doing: "could not take up a claimed job")
            }
        }
        for job in stuck {
            // Looked at again, in case an attempt started or ended since.
            guard !scheduler.isRunning(job.id) else { continue }
            let current: Job?
            do {
                current = try await store.job(id: job.id)
            } catch {
                // Unreadable (damaged; a restart quarantines it) or the store failed: said, and looked at again next pass.
                logger.warning("a job running with no attempt could not be read", metadata: ["sluice.job": "\(job.id)", "error": "\(String(reflecting: type(of: error)))"])
                continue
            }
            guard let current, current.state == .running else { continue }
            logger.warning("a job was running with no attempt; taking it up again", metadata: ["sluice.job": "\(job.id)"])
            hub.abandon(job.id)
            do {
                try await adopt(current)
            } catch {
                lost(current, error: error, doing: "could not take up a stuck job")
            }
        }
    }
}
