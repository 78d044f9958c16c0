public import Foundation
import Tracing
import AsyncHTTPClient
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import Logging
import NIOSSL
public import ServiceLifecycle
import SluiceCore
public import SluiceProviders
import SluiceCache
import SluiceStore
import Synchronization
import UnixSignals

/// One Sluice node: its store, queue, workers and HTTP server, run as a `ServiceGroup`.
public final class SluiceNode: Sendable {
    /// The configuration it runs with.
    public let configuration: SluiceConfiguration
    /// The built-in mock provider (aliases `default` and `mock`).
    public let mock: MockProvider
    let jobs: JobService
    /// This node's queue as the cluster reaches it; its `recovery` takes up what a restart or another
    /// node left, and runs the watchdog's passes.
    let work: NodeWork
    /// This node's part in a cluster sharing a PostgreSQL store; nil on the embedded store.
    let cluster: Cluster?
    /// Deletes what is past its retention.
    let sweeper: RetentionSweeper
    /// The request path every front door hands its requests to.
    let pipeline: RequestPipeline
    let catalog: ProviderCatalog
    let metrics = SluiceMetrics()
    /// Admin actions and refused credentials.
    let audit: AuditTrail
    /// Verifies end users' tokens (`auth.jwt`).
    let verifier: TokenVerifier?
    /// The caps on open connections.
    let connections: ConnectionLimiter
    let logger: Logger
    let closeStore: @Sendable () async -> Void
    /// `/v1/embeddings`, also run by batches.
    let embeddings: EmbeddingsRoutes
    /// Runs the Batch API's batches.
    let batches: BatchRunner
    /// Fires the configured schedules.
    let schedules: ScheduleRunner

    /// A reason the node refuses to start.
    public struct StartupError: Error, CustomStringConvertible {
        /// What is wrong and how to fix it.
        public var description: String
    }

    /// Opens the store and wires the node; nothing listens yet.
    /// - Parameters:
    ///   - configuration: the configuration.
    ///   - logger: the background logger.
    ///   - clock: the time, for tests of the calendar.
    public init(configuration: SluiceConfiguration, logger: Logger, clock: @escaping @Sendable () -> Date = { Date() }) async throws {
        connections = ConnectionLimiter(
            maxConnections: configuration.server.maxConnections, maxPerAddress: configuration.server.maxConnectionsPerAddress)
        guard configuration.hasCredentials || configuration.bindsLoopbackOnly else {
            throw StartupError(description: """
                refusing to listen on \(configuration.server.host) without API keys: anonymous use is allowed on loopback only. \
                Set auth.apiKeys (SLUICE_AUTH_API_KEYS), auth.adminKeys, tenants or auth.jwt, or bind 127.0.0.1.
                """)
        }
        self.configuration = configuration
        self.logger = logger
        let jwt = configuration.auth.jwt
        verifier = jwt.isConfigured
            ? TokenVerifier(
                settings: .init(
                    issuer: jwt.issuer, audience: jwt.audience, jwksFile: jwt.jwksFile, jwksURL: jwt.jwksURL, hmacSecret: jwt.secret,
                    leewaySeconds: jwt.leewaySeconds, tenant: jwt.tenant, tenantClaim: jwt.tenantClaim, userClaim: jwt.userClaim,
                    roleClaim: jwt.roleClaim, planClaim: jwt.planClaim),
                httpClient: .shared, logger: logger)
            : nil
        let store: any JobStore & StreamLog & CacheStore & AuditLog & JobHistory & UsageRollup & DeliveryLog & BatchStore & ScheduleLog
        // What the nodes share, when they share a store: the queue, the counters, the cache's feed.
        let shared: (any SharedJobQueue & SharedCounters & SharedCacheFeed)?
        let close: @Sendable () async -> Void
        if let url = configuration.databaseURL {
            let postgres = try await PostgresStore(configuration: .init(url: url, leaseSeconds: configuration.cluster.leaseSeconds), logger: logger)
            store = postgres
            shared = postgres
            close = { await postgres.shutdown() }
        } else {
            store = try EmbeddedStore(configuration: configuration.storage)
            shared = nil
            close = {}
        }
        closeStore = close
        // On a shared store: this node's standing, which the cluster's loops keep and the rest reads.
        var membership: Membership?
        if let shared {
            let standing = Membership()
            membership = standing
            cluster = Cluster(
                membership: standing, queue: shared, cacheFeed: shared, leaseSeconds: configuration.cluster.leaseSeconds,
                pollInterval: .milliseconds(Int(configuration.cluster.pollSeconds * 1000)), metrics: metrics,
                peerCAFile: configuration.cluster.tls?.caFile, logger: logger)
        } else {
            cluster = nil
        }
        mock = MockProvider(configuration: configuration.mock)
        do {
            catalog = try ProviderCatalog(configuration: configuration, mock: mock)
        } catch {
            // A node that does not start does not keep its store's connections.
            await close()
            throw error
        }
        jobs = Self.jobService(
            store: store, sharedCache: shared, membership: membership, cluster: cluster, router: catalog.router, configuration: configuration, metrics: metrics,
            clock: clock, logger: logger)
        let work = NodeWork(jobs: jobs, recovery: Recovery(jobs: jobs))
        self.work = work
        sweeper = RetentionSweeper(store: store, admission: jobs.admission, configuration: configuration, logger: logger)
        let gate = AdmissionGate(
            controller: jobs.admission, store: store, shared: shared, node: cluster.map { ($0.nodeID, $0.leaseSeconds) }, metrics: metrics)
        pipeline = RequestPipeline(
            lookup: CacheLookup(cache: jobs.cache, admission: jobs.admission, metrics: metrics),
            singleFlight: SingleFlight(flights: jobs.flights, store: store, scheduler: jobs.scheduler), gate: gate, jobs: jobs,
            cluster: cluster.map { ($0, work) })
        audit = AuditTrail(log: store, metrics: metrics, logger: logger)
        embeddings = EmbeddingsRoutes(jobs: jobs, gate: gate)
        batches = BatchRunner(store: store, pipeline: pipeline, embeddings: embeddings, logger: logger)
        schedules = ScheduleRunner(
            log: store, work: ScheduledWork(jobs: jobs, batches: batches, history: store, configuration: configuration), configuration: configuration,
            node: batches.node, clock: clock, logger: logger)
    }

    /// The job service and the parts it runs on: the scheduler, admission (whose tier follows the whole
    /// cluster's load on a shared store), the cache with its embedder, the streams and the callbacks.
    private static func jobService(
        store: any JobStore & StreamLog & CacheStore & JobHistory & UsageRollup & DeliveryLog, sharedCache: (any SharedCacheFeed)?,
        membership: Membership?, cluster: Cluster?,
        router: ProviderRouter, configuration: SluiceConfiguration, metrics: SluiceMetrics, clock: @escaping @Sendable () -> Date, logger: Logger
    ) -> JobService {
        let workers = max(1, configuration.queue.workers)
        let reserved = configuration.admission.reservedBypassWorkers ?? max(1, workers / 10)
        let scheduler = Scheduler(
            maxRunningPerUser: configuration.queue.maxRunningPerUser, maxRunningByPlan: configuration.admission.plans.compactMapValues(\.maxRunning),
            workers: workers, reservedForBypass: min(reserved, workers - 1), router: router)
        // Idle workers look for work the cluster's other nodes left in the shared queue.
        if let cluster { scheduler.onIdle.withLock { $0 = { cluster.wake() } } }
        let admission = AdmissionController(
            policy: configuration.admission, calendars: configuration.tenantCalendars,
            ceilings: configuration.tenantDirectory.policies.mapValues(\.ceilings), metrics: metrics, clock: clock
        ) {
            let (queued, running) = scheduler.counts
            return max(queued + running, membership?.load.load(ordering: .relaxed) ?? 0)
        }
        let cache = ExactCache(configuration: configuration.cache, store: store, shared: sharedCache, semantic: SemanticCache(configuredBy: configuration))
        let callbacks = CallbackOutbox(log: store, jobs: store, configuration: configuration, metrics: metrics, logger: logger) { job in
            if job.origin?.response != nil, let object = ServerSentEvents.foundation(ResponseObject(job: job).json()) as? [String: Any] {
                return object
            }
            return JobRoutes.object(job, queuePosition: nil)
        }
        return JobService(
            store: store, hub: StreamHub(log: store, remote: cluster), scheduler: scheduler, admission: admission, cache: cache, callbacks: callbacks,
            membership: membership, router: router, configuration: configuration, metrics: metrics, logger: logger)
    }

    /// Re-queues the work a previous run left, then returns the services in start order: the HTTP server,
    /// then the workers (shut down first, so streams are checkpointed while the server still stands).
    /// - Parameter onListening: called with the bound port once the server listens.
    /// - Parameter exitWhenServerFails: when the HTTP server cannot serve (its port is taken, say), end the
    ///   process if the group's shutdown has not within a few seconds (for `sluice serve`, not in tests).
    public func services(
        exitWhenServerFails: Bool = false, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        do {
            return try await makeServices(exitWhenServerFails: exitWhenServerFails, onListening: onListening)
        } catch {
            // A node that does not start does not keep its store's connections.
            await closeStore()
            throw error
        }
    }

    private func makeServices(
        exitWhenServerFails: Bool, onListening: @escaping @Sendable (Int) async -> Void
    ) async throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        try await jobs.admission.restore(from: jobs.store)
        try await cluster?.prepare()
        try await jobs.cache.load()
        if let cluster {
            // Another node's unfinished work is not this node's to recover: jobs whose node died are
            // rescued when their leases lapse, then claimed by whichever node has room.
            logger.notice("sharing the PostgreSQL store with other nodes", metadata: ["sluice.node": "\(cluster.nodeID)"])
        } else {
            let recovered = try await work.recovery.recover()
            if recovered > 0 { logger.notice("re-queued unfinished jobs", metadata: ["sluice.count": "\(recovered)"]) }
        }
        if !configuration.hasCredentials {
            logger.notice("no API keys configured: serving anonymous users on loopback only, told apart by X-Sluice-User")
        }
        let router = Router(context: SluiceRequestContext.self)
        let directory = configuration.tenantDirectory
        router.add(middleware: CORSPreflight(origins: Set(directory.policies.values.flatMap { $0.corsOrigins.map { $0.lowercased() } })))
        // A span per request, continuing the caller's W3C `traceparent`, when a tracer is installed. Without
        // one every span is a no-op, yet the middleware would still wrap each response's body in a closure
        // (to end the span once written), and a whole answer would reach its socket in two writes, not one.
        if !(InstrumentationSystem.tracer is NoOpTracer) { router.add(middleware: TracingMiddleware()) }
        router.add(middleware: ErrorMiddleware())
        let sessions = AdminSessionSigner()
        let identity = IdentityMiddleware(
            directory: directory, verifier: verifier, tokenTenant: configuration.auth.jwt.fixedTenant, anonymous: !configuration.hasCredentials,
            defaultPlan: configuration.admission.defaultPlan, trustedProxies: configuration.server.trustedProxies.compactMap { AddressRange(cidr: $0) },
            audit: audit, sessions: sessions)
        HealthRoutes(jobs: jobs).register(on: router)
        MetricsRoutes(jobs: jobs).register(on: router.group("metrics").add(middleware: identity))
        WebRoutes().register(on: router)
        SessionRoutes(directory: directory, anonymous: !configuration.hasCredentials, sessions: sessions, audit: audit).register(on: router)
        // The routes nodes call on each other: on a listener of their own when cluster.internalPort is set.
        let internalRouter = configuration.cluster.internalPort == nil ? router : Router(context: SluiceRequestContext.self)
        if internalRouter !== router { internalRouter.add(middleware: ErrorMiddleware()) }
        if let cluster { ClusterRoutes(jobs: jobs, cluster: cluster).register(on: internalRouter) }
        let v1 = router.group("v1").add(middleware: identity)
        ChatRoutes(pipeline: pipeline).register(on: v1)
        ResponsesRoutes(pipeline: pipeline).register(on: v1)
        MessagesRoutes(pipeline: pipeline).register(on: v1)
        embeddings.register(on: v1)
        FileRoutes(store: batches.store, settings: configuration.batches).register(on: v1)
        BatchRoutes(runner: batches).register(on: v1)
        JobRoutes(pipeline: pipeline).register(on: v1)
        let admin = router.group("admin/api").add(middleware: identity)
        AdminRoutes(jobs: jobs, audit: audit).register(on: admin)
        DeliveryRoutes(callbacks: jobs.callbacks, audit: audit).register(on: admin)
        ScheduleRoutes(runner: schedules).register(on: admin)
        let batches = batches
        DashboardRoutes(jobs: jobs, gate: pipeline.gate, feed: DashboardFeed(jobs: jobs) { batches.running }).register(on: admin)
        HistoryRoutes(jobs: jobs).register(v1: v1, admin: admin)
        UsageRoutes(jobs: jobs).register(v1: v1, admin: admin)
        let logger = logger
        let cluster = cluster
        let host = configuration.server.host
        let advertised = configuration.cluster.advertiseURL
        let limiter = connections
        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [limiter.handler(), StreamDeparture()],
            idleTimeout: .milliseconds(Int64(configuration.server.idleTimeoutSeconds * 1000)))
        // Without a listener of their own, the nodes reach each other on the public port.
        let advertisesPublicPort = configuration.cluster.internalPort == nil
        let app = Application(
            router: ChildTaskResponder(inner: router.buildResponder()),
            server: .http1(configuration: http1),
            configuration: .init(
                address: .hostname(configuration.server.host, port: configuration.server.port), serverName: "sluice",
                backlog: configuration.server.backlog),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                if advertisesPublicPort { cluster?.advertise(advertised ?? SluiceNode.url(scheme: "http", host: host, port: port)) }
                logger.notice("sluice is listening", metadata: ["sluice.address": "http://\(channel.localAddress?.ipAddress ?? "?"):\(port)"])
                await onListening(port)
            },
            logger: logger)
        let internalServer: Application<ChildTaskResponder<RouterResponder<SluiceRequestContext>>>?
        if let cluster, let port = configuration.cluster.internalPort {
            let server: HTTPServerBuilder
            let scheme: String
            if let tls = configuration.cluster.tls {
                let tlsConfiguration = try Self.serverTLS(tls)
                server = try .tls(.http1(configuration: http1), tlsConfiguration: tlsConfiguration)
                scheme = "https"
            } else {
                server = .http1(configuration: http1)
                scheme = "http"
            }
            internalServer = Application(
                router: ChildTaskResponder(inner: internalRouter.buildResponder()),
                server: server,
                configuration: .init(address: .hostname(host, port: port), serverName: "sluice", backlog: configuration.server.backlog),
                onServerRunning: { channel in
                    let port = channel.localAddress?.port ?? 0
                    cluster.advertise(advertised ?? SluiceNode.url(scheme: scheme, host: host, port: port))
                    // Not "sluice is listening": that line names the public port, and tests read it.
                    logger.notice(
                        "the cluster's internal routes are listening",
                        metadata: ["sluice.internalAddress": "\(scheme)://\(channel.localAddress?.ipAddress ?? "?"):\(port)"])
                },
                logger: logger)
        } else {
            internalServer = nil
        }
        let workers = WorkerPool(jobs: jobs, recovery: work.recovery, workers: configuration.queue.workers, grace: configuration.server.shutdownGraceSeconds)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: ClosingService(close: closeStore)),
            .init(service: ProviderClientsService(clients: catalog.clients + [cluster?.peers].compactMap { $0 })),
        ]
        // Stopped after the server and the workers, so that the jobs they leave go back to the cluster.
        if let cluster { services.append(.init(service: ClusterService(cluster: cluster, work: work))) }
        // The internal listener stops after the public one, so that other nodes relaying this node's
        // streams hear them to the end.
        if let internalServer {
            services.append(.init(service: ServerService(server: internalServer, exitAfter: exitWhenServerFails ? 5 : nil, logger: logger)))
        }
        // Callbacks, batches, schedules and the retention sweep; a loop with nothing to do (no schedules)
        // returns without ending the node.
        for loop in [jobs.callbacks.run, batches.run, schedules.run, sweeper.run] as [@Sendable () async -> Void] {
            services.append(.init(service: BackgroundLoop(body: loop), successTerminationBehavior: .ignore))
        }
        services += [
            .init(service: ServerService(server: app, exitAfter: exitWhenServerFails ? 5 : nil, logger: logger)),
            .init(service: workers, successTerminationBehavior: .gracefullyShutdownGroup),
        ]
        return services
    }

    /// Where other nodes reach a listener on `host` (this machine's name when it binds every interface).
    static func url(scheme: String, host: String, port: Int) -> String {
        let reachable = ["0.0.0.0", "::", ""].contains(host) ? ProcessInfo.processInfo.hostName : host
        // An IPv6 address is written in brackets in a URL.
        return "\(scheme)://\(reachable.contains(":") ? "[\(reachable)]" : reachable):\(port)"
    }

    /// The internal listener's TLS: the certificate chain and key of `cluster.tls`.
    static func serverTLS(_ tls: SluiceConfiguration.Cluster.TLS) throws -> TLSConfiguration {
        guard let certFile = tls.certFile, let keyFile = tls.keyFile else {
            throw StartupError(description: "cluster.tls needs both certFile and keyFile: the internal listener's certificate and its key")
        }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certFile)
        } catch {
            throw StartupError(description: "cluster.tls.certFile: \(certFile) could not be read as a PEM certificate (\(error))")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw StartupError(description: "cluster.tls.keyFile: \(keyFile) could not be read as a PEM private key (\(error))")
        }
        return TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully; `observability` (the trace exporter)
    /// starts first and stops last, so that the last requests' spans leave.
    public func run(observability: (any Service)? = nil) async throws {
        let first: [ServiceGroupConfiguration.ServiceConfiguration] = observability.map { [.init(service: $0)] } ?? []
        let group = ServiceGroup(configuration: .init(
            services: first + (try await services(exitWhenServerFails: true)), gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The HTTP server. A node that cannot serve must not linger half-started: its error cancels the group,
/// and when `exitAfter` is set, the process exits if that shutdown has not ended it by then (a cancelled
/// database pool that is still connecting was seen to hold it up for good).
struct ServerService<Server: Service>: Service {
    let server: Server
    let exitAfter: Double?
    let logger: Logger

    func run() async throws {
        do {
            try await server.run()
        } catch {
            if let exitAfter, !Task.isCancelled {
                logger.critical("the HTTP server cannot serve; stopping", metadata: ["error": "\(error)"])
                Thread.detachNewThread {
                    Thread.sleep(forTimeInterval: exitAfter)
                    exit(1)
                }
            }
            throw error
        }
    }
}
