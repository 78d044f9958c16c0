public import SluiceCore

/// One place a model alias can be served: a provider endpoint, its model, and the limits of the account.
public struct Deployment: Sendable {
    /// Which protocol the endpoint speaks.
    public enum Kind: String, Sendable {
        /// OpenAI's chat completions (OpenAI, OpenRouter, Google's OpenAI-compatible endpoint, vLLM, Ollama, llama.cpp).
        case openai
        /// Anthropic's Messages API.
        case anthropic
        /// The built-in mock.
        case mock
    }

    /// How long a call may take.
    public struct Timeouts: Sendable, Hashable {
        /// Seconds to open a connection (default 5).
        public var connect: Double = 5
        /// Seconds from the request to the first token (default 30).
        public var firstToken: Double = 30
        /// Seconds between two tokens (default 30).
        public var idle: Double = 30
        /// Seconds for the whole answer (default 300).
        public var total: Double = 300
        /// The defaults.
        public init() {}
    }

    /// Prices in US dollars per million tokens.
    public struct Prices: Sendable, Hashable {
        /// Per million prompt tokens (default 0).
        public var inputPerMillion: Double = 0
        /// Per million completion tokens (default 0).
        public var outputPerMillion: Double = 0
        /// The defaults.
        public init() {}

        /// The cost of one call.
        public func cost(of usage: Usage) -> Double {
            (Double(usage.promptTokens) * inputPerMillion + Double(usage.completionTokens) * outputPerMillion) / 1_000_000
        }
    }

    /// The deployment's name (a label in metrics; never a secret).
    public var name: String
    /// The protocol.
    public var kind: Kind
    /// The API's base URL, e.g. `https://openrouter.ai/api/v1` (OpenAI) or `https://api.anthropic.com` (Anthropic).
    public var baseURL: String
    /// The provider's model name.
    public var model: String
    /// The API key; from the environment, never logged.
    public var apiKey: String?
    /// Share of traffic under the weighted strategy (default 1).
    public var weight: Double = 1
    /// Calls in flight at once: the bulkhead (default 24).
    public var maxInFlight: Int = 24
    /// Connections kept open and idle to the provider, ready for the next calls (default 2): while calls
    /// run, that many beyond those in use; never closed for being idle. A call after a quiet hour, or among
    /// the first of a surge, finds one instead of waiting for a TCP and TLS handshake. They are opened once
    /// the first call has connected. With any, the deployment speaks HTTP/1.1; with 0, HTTP/2 where the
    /// provider offers it.
    public var warmConnections: Int = 2
    /// The account's requests per minute, when capped.
    public var requestsPerMinute: Int?
    /// The account's tokens per minute, when capped.
    public var tokensPerMinute: Int?
    /// Whether to ask the provider for a stream (default true).
    public var streaming: Bool = true
    /// The most bytes one answer may take (default 16 MiB): a provider that never ends is cut off.
    public var maxAnswerBytes: Int = 16 << 20
    /// A PEM file of certificate authorities to trust for HTTPS instead of the system's (a private
    /// vLLM or Ollama behind an internal CA).
    public var caFile: String?
    /// Timeouts.
    public var timeouts = Timeouts()
    /// Prices.
    public var prices = Prices()
    /// When the breaker opens.
    public var breaker = CircuitBreaker.Policy()

    /// - Parameters:
    ///   - name: the name.
    ///   - kind: the protocol.
    ///   - baseURL: the base URL.
    ///   - model: the provider's model name.
    ///   - apiKey: the key.
    public init(name: String, kind: Kind, baseURL: String = "", model: String, apiKey: String? = nil) {
        self.name = name
        self.kind = kind
        self.baseURL = baseURL
        self.model = model
        self.apiKey = apiKey
    }
}

/// A model alias: the name clients use, and the deployments that serve it.
public struct ModelAlias: Sendable {
    /// How a deployment is chosen.
    public enum Strategy: String, Sendable {
        /// The first healthy deployment with capacity, in the listed order (failover chain).
        case ordered
        /// A random healthy deployment with capacity, by weight.
        case weighted
    }

    /// What to do when an answer breaks after output reached the client.
    public enum InterruptPolicy: String, Sendable {
        /// Run it again (another deployment first), announced by a `reset` event.
        case retry
        /// End with an `error` event saying the answer is incomplete.
        case error
    }

    /// The alias.
    public var name: String
    /// Deployment names, in order.
    public var deployments: [String]
    /// How one is chosen (default ordered).
    public var strategy: Strategy = .ordered
    /// Mid-stream failures (default retry).
    public var onInterrupt: InterruptPolicy = .retry
    /// The largest share of the alias's deployments whose breakers may be open at once (default 0.5).
    public var maxEjectedShare: Double = 0.5

    /// - Parameters:
    ///   - name: the alias.
    ///   - deployments: deployment names.
    public init(name: String, deployments: [String]) {
        self.name = name
        self.deployments = deployments
    }
}
