import Foundation
import Logging
import SluiceCore
import SluiceStore

/// The single-flight stage: a request identical to one whose job is in flight follows that job's stream
/// instead of calling the provider again. A follower of a more urgent class raises the job it follows,
/// so a teacher who asks what a student asked does not inherit the student's place in the queue.
struct SingleFlight: Sendable {
    /// Exact key → the job answering it now; the queue marks a leader stored and releases it at its end.
    let flights: FlightBoard
    let store: any JobStore
    let scheduler: Scheduler

    /// Makes job `id` the one answering `key`, or returns the job already answering it.
    func claim(_ key: String, for id: String) -> String? { flights.claim(key, for: id) }

    /// Follows `leader`'s job once its insert is durable. When that job has ended or was never stored,
    /// job `id` answers `key` instead and nil is returned. The job comes from the board, as stored: a
    /// profile of the exam night's first minute found followers decoding it from the store.
    func join(_ leader: String, key: String, as id: String, owner: Principal, priority: PriorityClass, logger: Logger) async throws -> Job? {
        if var job = await flights.waitUntilStored(key, leader: leader) {
            try await store.addFollower(jobID: leader, tenant: owner.tenant, user: owner.user)
            if priority < job.priority, scheduler.raise(job.id, to: priority) {
                job.priority = priority
                logger.debug("job raised by a follower", metadata: ["sluice.job": "\(job.id)", "sluice.class": "\(priority.name)"])
            }
            return job
        }
        flights.release(key, leader: leader)
        _ = flights.claim(key, for: id)
        return nil
    }

    /// Forgets job `id` as the one answering `key` (it was not accepted).
    func release(_ key: String, leader id: String) { flights.release(key, leader: id) }
}
