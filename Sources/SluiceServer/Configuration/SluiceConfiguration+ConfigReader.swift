public import Configuration
import SluiceProviders
import SluiceStore

extension SluiceConfiguration {
    /// Reads the configuration; keys are those of `sluice.example.yaml` (environment: `SLUICE_` plus the key
    /// in upper case with `_`, e.g. `SLUICE_SERVER_PORT`, `SLUICE_QUEUE_WORKERS`).
    /// - Parameter config: the reader.
    public init(config: ConfigReader) {
        self.init()
        server.host = config.string(forKey: "server.host", default: server.host)
        server.port = config.int(forKey: "server.port", default: server.port)
        server.maxBodyBytes = config.int(forKey: "server.maxBodyBytes", default: server.maxBodyBytes)
        server.heartbeatSeconds = config.double(forKey: "server.heartbeatSeconds", default: server.heartbeatSeconds)
        server.shutdownGraceSeconds = config.double(forKey: "server.shutdownGraceSeconds", default: server.shutdownGraceSeconds)
        auth.apiKeys = config.stringArray(forKey: "auth.apiKeys", isSecret: true, default: auth.apiKeys)
        storage.directory = config.string(forKey: "storage.dataDir", default: storage.directory)
        storage.synchronous = config.string(forKey: "storage.synchronous", default: storage.synchronous)
        queue.workers = config.int(forKey: "queue.workers", default: queue.workers)
        queue.maxRunningPerUser = config.int(forKey: "queue.maxRunningPerUser", default: queue.maxRunningPerUser)
        queue.deadlineSeconds = config.double(forKey: "queue.deadlineSeconds", default: queue.deadlineSeconds)
        queue.maxAttempts = config.int(forKey: "queue.maxAttempts", default: queue.maxAttempts)
        queue.backoffBaseMs = config.double(forKey: "queue.backoffBaseMs", default: queue.backoffBaseMs)
        queue.backoffMaxMs = config.double(forKey: "queue.backoffMaxMs", default: queue.backoffMaxMs)
        limits.maxMessages = config.int(forKey: "limits.maxMessages", default: limits.maxMessages)
        limits.maxTokens = config.int(forKey: "limits.maxTokens", default: limits.maxTokens)
        retention.streamSeconds = config.double(forKey: "retention.streamSeconds", default: retention.streamSeconds)
        retention.sweepSeconds = config.double(forKey: "retention.sweepSeconds", default: retention.sweepSeconds)
        mock.ttftMs = config.int(forKey: "mock.ttftMs", default: mock.ttftMs)
        mock.tokensPerSecond = config.double(forKey: "mock.tokensPerSecond", default: mock.tokensPerSecond)
        mock.tokens = config.int(forKey: "mock.tokens", default: mock.tokens)
    }
}
