import Foundation
import SluiceCore
import Synchronization

/// This node's standing in a cluster sharing a store, as the cluster's loops last found it: its id,
/// whether its heartbeats reach the store, and the cluster's load. The cluster writes it; the job
/// service, admission and the dashboard read it. Neither side calls the other through it.
final class Membership: Sendable {
    /// This node's id in the store (new at every start).
    let nodeID: String
    /// Whether this node's own heartbeats reach the store; when they fail it holds no new jobs.
    let healthy = Atomic<Bool>(true)
    /// The cluster's load as last counted (queued and running jobs on every node, and those no node holds
    /// yet), or -1 before the first count or after a count failed: the tiers switch on it.
    let load = Atomic<Int>(-1)

    init(nodeID: String = "node-" + UUID().uuidString.prefix(8).lowercased()) {
        self.nodeID = nodeID
    }

    /// Stamps a job accepted here: held by this node when a worker is free to run it at once,
    /// otherwise left in the shared queue for whichever node has room first (its insert tells them).
    func stamp(_ job: inout Job, freeWorkers: Int) {
        guard healthy.load(ordering: .relaxed), freeWorkers > 0 else {
            job.node = nil
            job.fence = 0
            return
        }
        job.node = nodeID
        job.fence = 1
    }
}
