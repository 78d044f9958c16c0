import Foundation
import Logging
import SluiceCore
import SluiceStore

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
}
