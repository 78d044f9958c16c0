public import SluiceCache
public import SluiceProviders
public import SluiceStore

/// Everything `sluice serve` can be told; every property has a default, so no configuration at all runs.
public struct SluiceConfiguration: Sendable {
    /// The HTTP server.
    public struct Server: Sendable {
        /// Address to bind (default `127.0.0.1`).
        public var host = "127.0.0.1"
        /// Port to bind (default 8080; 0 picks a free one).
        public var port = 8080
        /// Largest accepted request body in bytes (default 1 MiB).
        public var maxBodyBytes = 1 << 20
        /// Seconds between SSE heartbeat comments (default 15).
        public var heartbeatSeconds = 15.0
        /// Seconds running jobs get to finish on shutdown before they are checkpointed and re-queued (default 10).
        public var shutdownGraceSeconds = 10.0
        /// Seconds a connection may sit without a whole request (idle between requests, or half a request
        /// sent and stalled) before it is closed (default 30). A response being written is never cut.
        public var idleTimeoutSeconds = 30.0
        /// Connections open at once; more are closed as they arrive (default 10,000).
        public var maxConnections = 10_000
        /// Connections open at once from one address (default 1,000).
        public var maxConnectionsPerAddress = 1_000
        /// Connections the kernel holds for the node before it accepts them (the listen backlog; default
        /// 4,096, capped by the kernel's `net.core.somaxconn`). A burst of reconnects past it waits in
        /// the clients' SYN retries, seconds each.
        public var backlog = 4_096
        /// Seconds a stream client may leave a write unaccepted — the connection's bounded write buffer
        /// full, the client not reading — before it is dropped (it resumes with `Last-Event-ID`; default 20).
        public var writeStallSeconds = 20.0
        /// Proxies whose forwarded client addresses (`Forwarded`, `X-Forwarded-For`, `X-Real-IP`) are
        /// believed, for logs and per-address limits, when keys are configured: CIDRs (`10.0.0.0/8`,
        /// `fd00::/8`) or single addresses, IPv4 or IPv6 (default none: the peer is the caller).
        public var trustedProxies: [String] = []
        /// Creates the defaults.
        public init() {}
    }

    /// Who may call. With no app key, admin key or JWT key source: anonymous use, on loopback only.
    public struct Auth: Sendable {
        /// App keys as `tenant:key` (a bare key belongs to tenant `default`): the short form of a tenant's
        /// `apiKeysEnv`. Secrets.
        public var apiKeys: [String] = []
        /// Admin keys: `tenant:key` is that tenant's admin (its mode, usage and cache), a bare key the
        /// operator (every tenant, the node). Secrets.
        public var adminKeys: [String] = []
        /// End users' own tokens.
        public var jwt = JWTSettings()
        /// Creates the defaults.
        public init() {}
    }

    /// The queue and its workers.
    public struct Queue: Sendable {
        /// Jobs running at once on this node (default 64).
        public var workers = 64
        /// Jobs of one user running at once (default 2).
        public var maxRunningPerUser = 2
        /// Seconds a job may wait before it expires (default 120).
        public var deadlineSeconds = 120.0
        /// Attempts per job, the first included (default 3).
        public var maxAttempts = 3
        /// First retry's backoff ceiling in milliseconds (default 500).
        public var backoffBaseMs = 500.0
        /// Largest backoff ceiling in milliseconds (default 8000).
        public var backoffMaxMs = 8000.0
        /// Creates the defaults.
        public init() {}
    }

    /// Bounds on requests.
    public struct Limits: Sendable {
        /// Most messages in one request (default 256).
        public var maxMessages = 256
        /// Largest `max_tokens` (default 32768).
        public var maxTokens = 32768
        /// Creates the defaults.
        public init() {}
    }

    /// How long finished jobs and their streams are kept.
    public struct Retention: Sendable {
        /// Seconds a job's stream is kept after it ends: its events can be replayed and resumed (default 3600).
        public var streamSeconds = 3600.0
        /// Days a job (its question, answer, usage) is kept after it ends, in its owner's history
        /// (default 30; a plan's `historyDays` wins for its users).
        public var historyDays = 30.0
        /// Seconds between sweeps (default 60).
        public var sweepSeconds = 60.0
        /// Creates the defaults.
        public init() {}
    }

    /// The HTTP server.
    public var server = Server()
    /// Who may call.
    public var auth = Auth()
    /// The tenants of `tenants.names`, each with its section (a tenant named only by a key is not here:
    /// it has the defaults; `effectiveTenants` lists both).
    public var tenants: [Tenant] = []
    /// The embedded store.
    public var storage = EmbeddedStore.Configuration()
    /// Nodes sharing a PostgreSQL store.
    public struct Cluster: Sendable {
        /// Seconds a node holds a job without renewing its lease; a dead node's jobs are rescued after it.
        public var leaseSeconds = 15.0
        /// Seconds between looks for waiting work when no notification came (the bound on a missed one).
        public var pollSeconds = 1.0
        /// The URL other nodes reach this one at (relays of streams, cancels); from the bound address
        /// when nil (the internal listener's, when `internalPort` is set), with this machine's host name
        /// when it binds every interface.
        public var advertiseURL: String?
        /// The port of a listener of its own for the routes nodes call on each other (`/internal/v1/*`),
        /// on `server.host`; 0 picks a free one. Nil: they are served on `server.port` with the rest.
        public var internalPort: Int?
        /// TLS for the internal listener, and the authority nodes trust when they call each other; nil:
        /// plain HTTP.
        public var tls: TLS?
        public init() {}

        /// The internal listener's certificate and key, and the authority its peers are checked against
        /// (`cluster.tls`). Paths of PEM files.
        public struct TLS: Sendable {
            /// The certificate (chain) the internal listener presents.
            public var certFile: String?
            /// Its private key.
            public var keyFile: String?
            /// The certificate authority a node trusts when it calls another (nil: the system's).
            public var caFile: String?
            /// - Parameters:
            ///   - certFile: the certificate.
            ///   - keyFile: its key.
            ///   - caFile: the authority peers are checked against.
            public init(certFile: String? = nil, keyFile: String? = nil, caFile: String? = nil) {
                self.certFile = certFile
                self.keyFile = keyFile
                self.caFile = caFile
            }
        }
    }

    /// The cluster settings.
    public var cluster = Cluster()

    /// The PostgreSQL database many nodes share (`storage.postgres.url` or `SLUICE_DATABASE_URL`);
    /// nil: the embedded store. A secret: it may hold a password.
    public var databaseURL: String?
    /// The queue.
    public var queue = Queue()

    /// Settings that hold for every provider.
    public struct Providers: Sendable {
        /// The longest a provider's `Retry-After` keeps a deployment aside and a job waiting (default 300 s).
        public var maxRetryAfterSeconds = 300.0
    }

    /// Settings that hold for every provider.
    public var providers = Providers()
    /// Request bounds.
    public var limits = Limits()
    /// Retention.
    public var retention = Retention()
    /// Callbacks: how they are signed, where they may go, how long they are retried.
    public var webhooks = WebhookSettings()
    /// The Batch API: file sizes and retention, and how much of the node a batch uses.
    public var batches = BatchSettings()
    /// The built-in mock provider's default pace (aliases `default` and `mock` when no aliases are configured).
    public var mock = MockProvider.Configuration(ttftMs: 150, tokensPerSecond: 40, tokens: 48)
    /// The response cache.
    public var cache = ExactCache.Configuration()
    /// The semantic layer of the cache.
    public var semantic = SemanticCache.Configuration()
    /// The embedder: `hashing` (built in, default), `openai` (an OpenAI-compatible `/v1/embeddings`) or
    /// `static` (a Model2Vec-format model from `cache.semantic.path`).
    public var embedder = EmbedderConfiguration()

    /// Which embedder the semantic cache uses.
    public struct EmbedderConfiguration: Sendable {
        /// `hashing`, `openai` or `static`.
        public var kind = "hashing"
        /// The Model2Vec model directory (for `static`).
        public var path = ""
        /// The embeddings API's base URL (for `openai`).
        public var baseURL = ""
        /// The embedding model (for `openai`).
        public var model = "text-embedding-3-small"
        /// The key, from the environment.
        public var apiKey: String?
        /// The defaults.
        public init() {}
    }
    /// Plans, tiers, modes and the calendar.
    public var admission = AdmissionPolicy()
    /// Provider deployments (`deployments.names` and one section each).
    public var deployments: [Deployment] = []
    /// Model aliases (`models.aliases` and one section each). Empty: the mock under `default` and `mock`.
    public var aliases: [ModelAlias] = []

    /// Creates the defaults.
    public init() {}

    /// Whether `host` is a loopback address.
    public var bindsLoopbackOnly: Bool {
        let host = server.host.lowercased()
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
