import SluiceCache
import SluiceCore
import SluiceProviders
import SluiceStore

/// What the cluster's loops and routes need of this node: the one way they reach its queue. The calls go
/// one way only: the job service never calls the cluster (it reads this node's `Membership`), and the
/// node wires the rest (a cancel's search of the cluster, idle workers' wake-ups).
protocol ClusterWork: Sendable {
    var store: any JobStore & StreamLog & JobHistory & UsageRollup { get }
    var router: ProviderRouter { get }
    var admission: AdmissionController { get }
    var cache: ExactCache { get }
    /// Whether the store takes writes now.
    var health: StoreHealth { get }
    /// Workers free to take claimed jobs.
    var idleCapacity: Int { get }
    /// Takes up a job the store says this node now holds: finished if its answer is complete, else queued.
    func take(_ job: Job) async throws
    /// Cancels a job this node holds and returns once it has ended; false when it is not here.
    func cancelHere(_ id: String) async throws -> Bool
}

/// This node's queue as the cluster reaches it: jobs run and end in the job service, and are taken up by
/// `Recovery`.
struct NodeWork: ClusterWork {
    let jobs: JobService
    let recovery: Recovery

    var store: any JobStore & StreamLog & JobHistory & UsageRollup { jobs.store }
    var router: ProviderRouter { jobs.router }
    var admission: AdmissionController { jobs.admission }
    var cache: ExactCache { jobs.cache }
    var health: StoreHealth { jobs.health }
    var idleCapacity: Int { jobs.scheduler.idleCapacity }

    func take(_ job: Job) async throws { try await recovery.adopt(job) }

    func cancelHere(_ id: String) async throws -> Bool { try await jobs.cancelHere(id) }
}
