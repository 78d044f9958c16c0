import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import SluiceCache
import SluiceCore
import SluiceProviders
import SluiceStore
import Synchronization

/// This node's part in a cluster of nodes sharing a PostgreSQL store. It renews the leases on the
/// jobs this node holds (and stops claiming when it cannot), rescues jobs whose node stopped renewing,
/// claims waiting jobs when workers are idle — woken by notifications, with polling as the fallback
/// that bounds the wait — and brings in cache entries other nodes stored.
final class Cluster: Sendable {
    /// This node's id, whether its heartbeats reach the store, and the cluster's load, as these loops find them.
    let membership: Membership
    var nodeID: String { membership.nodeID }
    let queue: any SharedJobQueue
    let cacheFeed: (any SharedCacheFeed)?
    let leaseSeconds: Double
    let pollInterval: Duration
    let logger: Logger
    let metrics: SluiceMetrics
    /// Where other nodes reach this one (set once the server listens).
    let address = Mutex("")
    let wakeups: AsyncStream<Void>
    let wakeup: AsyncStream<Void>.Continuation
    /// Times the work notifications were (re)subscribed.
    let listens = Atomic<Int>(0)
    /// Calls to other nodes (relays of streams, cancels).
    let peers: HTTPClient
    /// The secret nodes show each other on their internal routes (from the store, at start).
    let secret = Mutex<String?>(nil)
    /// The first cache invalidation this node has to apply (taken before it loads the cache).
    let invalidationCursor = Atomic<Int64>(0)
    /// The jobs this node's streams follow that no node holds yet.
    let holderWatch: HolderWatch

    /// - Parameter peerCAFile: the authority other nodes' certificates are checked against when they
    ///   speak HTTPS (`cluster.tls.caFile`); nil: the system's.
    init(
        membership: Membership, queue: any SharedJobQueue, cacheFeed: (any SharedCacheFeed)?, leaseSeconds: Double, pollInterval: Duration, metrics: SluiceMetrics,
        peerCAFile: String? = nil, logger: Logger
    ) {
        self.membership = membership
        self.queue = queue
        self.cacheFeed = cacheFeed
        self.leaseSeconds = leaseSeconds
        self.pollInterval = pollInterval
        self.logger = logger
        self.metrics = metrics
        holderWatch = HolderWatch(queue: queue, interval: StreamHub.followInterval, logger: logger)
        (wakeups, wakeup) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        // A relay hears from its node at least every lease/3 (heartbeats): silence past a lease means
        // the node or the network is gone, and the relay looks for the job's new holder.
        var settings = HTTPClient.Configuration()
        settings.timeout = .init(connect: .seconds(1), read: .milliseconds(Int64(leaseSeconds * 1000)))
        settings.connectionPool.retryConnectionEstablishment = false
        // Each followed job holds a connection for its whole stream: AHC's default of 8 per host would
        // make the ninth remote stream wait for one of the first eight to end.
        settings.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 100_000
        settings.trust(caFile: peerCAFile)
        peers = HTTPClient(eventLoopGroupProvider: .singleton, configuration: settings)
    }

    /// Before the node loads its cache and serves: reads the cluster's secret, and marks where the cache
    /// invalidations it must apply begin.
    func prepare() async throws {
        try await loadSecret()
        if let cacheFeed { invalidationCursor.store(try await cacheFeed.cacheInvalidations(after: nil).cursor, ordering: .relaxed) }
    }

    /// Records where other nodes reach this one.
    func advertise(_ url: String) { address.withLock { $0 = url } }

    /// Asks the claimer to look for work now.
    func wake() { wakeup.yield() }

    /// The loops, until the node shuts down.
    func run(work jobs: any ClusterWork) async {
        shareCoolDowns(of: jobs.router)
        await withDiscardingTaskGroup { group in
            group.addTask { await self.heartbeats() }
            group.addTask { await self.rescues() }
            group.addTask {
                // The listening connection is the first to know the database is gone, and back.
                await self.queue.listenForWork(
                    onListening: {
                        self.listens.add(1, ordering: .relaxed)
                        jobs.health.reachable(true)
                    },
                    onLost: { jobs.health.reachable(false) },
                    wake: { self.wake() })
            }
            group.addTask { await self.claims(work: jobs) }
            group.addTask { await self.countLoad(router: jobs.router, admission: jobs.admission, store: jobs.store) }
            if let feed = cacheFeed { group.addTask { await self.cacheSync(feed, cache: jobs.cache) } }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        // The workers have stopped (checkpointing what ran): what this node holds goes back to the queue now,
        // rather than when its leases lapse.
        do {
            let held = try await jobs.store.unfinishedJobs().filter { $0.node == nodeID && $0.state == .queued }
            try await queue.release(held)
            if !held.isEmpty { logger.notice("gave unfinished jobs back to the cluster", metadata: ["sluice.count": "\(held.count)"]) }
        } catch {
            logger.warning("could not give jobs back; they return when their leases lapse", metadata: ["error": "\(String(reflecting: type(of: error)))"])
        }
    }

    /// Records every deployment this node sets aside in the store, where the other nodes read it (a write
    /// that fails is retried, and counted as a failed store write).
    private func shareCoolDowns(of router: ProviderRouter) {
        let (queue, metrics, logger) = (queue, metrics, logger)
        router.whenCoolingDown { deployment, until in
            Task {
                for attempt in 0..<5 {
                    do {
                        try await queue.coolDown(deployment: deployment, until: until)
                        return
                    } catch {
                        metrics.storeWriteFailed()
                        try? await Task.sleep(for: .milliseconds(100 << attempt))
                    }
                }
                logger.warning("other nodes were not told a deployment cools down", metadata: ["sluice.deployment": "\(deployment)"])
            }
        }
    }

    private func heartbeats() async {
        var lastSuccess = ContinuousClock.now
        while !Task.isCancelled {
            // After a failure, the next try comes sooner: a node back from a stall renews its leases
            // before another node may count them lapsed.
            var pause = Duration.seconds(leaseSeconds / 3)
            do {
                _ = try await queue.renewLeases(node: nodeID, address: address.withLock { $0 }, leaseSeconds: leaseSeconds)
                lastSuccess = .now
                if !membership.healthy.exchange(true, ordering: .relaxed) { logger.notice("heartbeats reach the store again; claiming work") }
            } catch {
                // Past the lease, other nodes may rescue this node's jobs: claiming more would only race them.
                if ContinuousClock.now - lastSuccess > .seconds(leaseSeconds), membership.healthy.exchange(false, ordering: .relaxed) {
                    logger.error("heartbeats fail; this node stops claiming work", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                }
                pause = min(pause, .milliseconds(500))
            }
            try? await Task.sleep(for: pause)
        }
    }

    /// Every poll interval: counts the cluster's unfinished jobs, so that every node's tier (simple mode,
    /// overload) follows the whole cluster's work, the shared queue included; the live nodes, so that
    /// this node takes its share of every deployment's caps (the account sees no more than its caps); and
    /// the deployments other nodes keep aside (a provider's `Retry-After`, an open breaker), so that an
    /// account told to wait is left alone by every node. Admission catches up with what other nodes
    /// changed (modes set by hand, jobs they ended).
    private func countLoad(router: ProviderRouter, admission: AdmissionController, store: any JobStore) async {
        while !Task.isCancelled {
            membership.load.store((try? await queue.unfinishedCount()) ?? -1, ordering: .relaxed)
            if let live = try? await queue.liveNodes(leaseSeconds: leaseSeconds), let rank = live.firstIndex(of: nodeID) {
                router.share(nodes: live.count, rank: rank)
            }
            for (deployment, until) in (try? await queue.coolDowns()) ?? [:] { router.coolDown(deployment, until: until) }
            await admission.catchUp(with: store)
            try? await Task.sleep(for: pollInterval)
        }
    }

    private func rescues() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(leaseSeconds / 2))
            guard membership.healthy.load(ordering: .relaxed) else { continue }
            if let rescued = try? await queue.rescueExpired(by: nodeID, leaseSeconds: leaseSeconds), !rescued.isEmpty {
                logger.notice("rescued jobs whose node stopped renewing their leases", metadata: ["sluice.count": "\(rescued.count)"])
            }
        }
    }

    private func claims(work jobs: any ClusterWork) async {
        // Wake-ups and a poll both end a wait: a notification missed while reconnecting costs at most one interval.
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: pollInterval)
                wake()
            }
        }
        defer { ticker.cancel() }
        for await _ in wakeups {
            guard membership.healthy.load(ordering: .relaxed) else { continue }
            var free = jobs.idleCapacity
            while free > 0, !Task.isCancelled {
                let limit = min(free, 16)
                do {
                    let claimed = try await queue.claim(node: nodeID, limit: limit, leaseSeconds: leaseSeconds, now: Date())
                    for job in claimed {
                        // One that cannot be taken up now does not keep the others: the watchdog takes it up.
                        do {
                            try await jobs.take(job)
                        } catch {
                            logger.warning("a claimed job could not be taken up yet", metadata: ["sluice.job": "\(job.id)", "error": "\(String(reflecting: type(of: error)))"])
                        }
                    }
                    guard claimed.count == limit else { break }
                } catch {
                    logger.warning("claiming work failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                    break
                }
                free = jobs.idleCapacity
            }
        }
    }

    private func cacheSync(_ feed: any SharedCacheFeed, cache: ExactCache) async {
        // From the start: remembering an entry this node has already replaces it with itself. Invalidations
        // since the cache was loaded, applied before new entries.
        var cursor: Int64 = 0
        var invalidations = invalidationCursor.load(ordering: .relaxed)
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            do {
                let (keys, nextInvalidation) = try await feed.cacheInvalidations(after: invalidations)
                if !keys.isEmpty { cache.forget(keys: keys) }
                invalidations = nextInvalidation
                let (entries, next) = try await feed.cacheEntries(writtenAfter: cursor, now: Date())
                cursor = next
                if !entries.isEmpty { cache.remember(entries) }
            } catch {
                logger.debug("reading the shared cache failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            }
        }
    }
}

/// Runs a node's cluster loops (only on a shared store).
struct ClusterService: Service {
    let cluster: Cluster
    let work: any ClusterWork

    func run() async throws {
        await cluster.run(work: work)
    }
}
