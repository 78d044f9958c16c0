import AsyncHTTPClient
import ServiceLifecycle
import SluiceProviders

/// The providers a node serves, built from its configuration: one pooled HTTP client per HTTP
/// deployment, the mock for `provider: mock`, and the router over the aliases.
struct ProviderCatalog: Sendable {
    let router: ProviderRouter
    let clients: [HTTPClient]

    init(configuration: SluiceConfiguration, mock: MockProvider) throws {
        guard !configuration.aliases.isEmpty else {
            router = .mock(mock)
            clients = []
            return
        }
        var providers: [String: (Deployment, any Provider)] = [:]
        var clients: [HTTPClient] = []
        for deployment in configuration.deployments {
            switch deployment.kind {
            case .mock:
                providers[deployment.name] = (deployment, mock)
            case .openai:
                let client = HTTPClient.forDeployment(deployment)
                clients.append(client)
                providers[deployment.name] = (deployment, OpenAICompatibleProvider(client: client, deployment: deployment))
            case .anthropic:
                let client = HTTPClient.forDeployment(deployment)
                clients.append(client)
                providers[deployment.name] = (deployment, AnthropicProvider(client: client, deployment: deployment))
            }
        }
        self.clients = clients
        do {
            router = try ProviderRouter(aliases: configuration.aliases, deployments: providers)
        } catch {
            for client in clients { try? client.syncShutdown() }
            throw error
        }
    }
}

/// Shuts the provider clients down after everything that uses them has stopped.
struct ProviderClientsService: Service {
    let clients: [HTTPClient]

    func run() async throws {
        try? await gracefulShutdown()
        for client in clients { try? await client.shutdown() }
    }
}

/// Runs `close` once the node shuts down, after everything started after it has stopped (the store's
/// connection pool).
struct ClosingService: Service {
    let close: @Sendable () async -> Void

    func run() async throws {
        try? await gracefulShutdown()
        await close()
    }
}

/// Runs a loop of the node's until the node shuts down (then the loop's task is cancelled).
struct BackgroundLoop: Service {
    let body: @Sendable () async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown { await body() }
    }
}
