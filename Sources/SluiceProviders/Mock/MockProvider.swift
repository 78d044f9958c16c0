public import SluiceCore
import Synchronization

/// A provider that needs no network: it streams a deterministic answer derived from the prompt, at a
/// configured pace. A request's `mock` object can script its own answer (length, pace, failures).
public final class MockProvider: Provider {
    /// The pace and length of answers when a request does not script them.
    public struct Configuration: Sendable, Hashable {
        /// Time to first token in milliseconds (default 0).
        public var ttftMs: Int
        /// Tokens per second; 0 means as fast as possible (default 0).
        public var tokensPerSecond: Double
        /// Tokens per answer (default 32).
        public var tokens: Int
        /// A failure for every request that scripts none (`status:500`, `after:12`); none by default.
        public var fail: String?

        /// - Parameters:
        ///   - ttftMs: time to first token.
        ///   - tokensPerSecond: token rate.
        ///   - tokens: answer length.
        ///   - fail: a failure for every request.
        public init(ttftMs: Int = 0, tokensPerSecond: Double = 0, tokens: Int = 32, fail: String? = nil) {
            self.ttftMs = ttftMs
            self.tokensPerSecond = tokensPerSecond
            self.tokens = tokens
            self.fail = fail
        }
    }

    let configuration: Configuration
    private let counters = Mutex((active: 0, calls: 0, tokens: 0))

    /// - Parameter configuration: default pace and length.
    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// Calls streaming right now.
    public var activeCalls: Int { counters.withLock { $0.active } }
    /// Calls started since creation.
    public var totalCalls: Int { counters.withLock { $0.calls } }
    /// Tokens sent since creation.
    public var totalTokens: Int { counters.withLock { $0.tokens } }

    public func stream(_ request: ChatRequest, upstreamModel: String) -> AsyncThrowingStream<ProviderEvent, any Error> {
        let script = request.mock ?? MockScript()
        let ttft = script.ttftMs ?? configuration.ttftMs
        let rate = script.tokensPerSecond ?? configuration.tokensPerSecond
        var length = script.tokens ?? configuration.tokens
        if let cap = request.tokenCap { length = min(length, cap) }
        let failure = MockFailure(script.fail ?? configuration.fail)
        let words = Self.answer(for: request, tokens: length)
        let output = MockOutput(request: request, script: script, words: words)
        let finishReason = script.toolCalls?.isEmpty == false ? "tool_calls"
            : (request.tokenCap.map { $0 < (script.tokens ?? configuration.tokens) } ?? false) ? "length" : "stop"
        let usage = Usage(promptTokens: request.estimatedPromptTokens, completionTokens: output.tokens)
        let run = MockRun(events: output.events, ttftMs: ttft, rate: rate, failure: failure,
                          finish: .finish(reason: finishReason, usage: usage, fingerprint: "fp_sluice_mock"), counters: self)
        return AsyncThrowingStream(unfolding: { try await run.next() })
    }

    func count(started: Bool = false, ended: Bool = false, token: Bool = false) {
        counters.withLock {
            if started { $0.active += 1; $0.calls += 1 }
            if ended { $0.active -= 1 }
            if token { $0.tokens += 1 }
        }
    }

    static let vocabulary = [
        "light", "bends", "when", "it", "passes", "from", "one", "medium", "into", "another", "because", "its",
        "speed", "changes", "the", "angle", "of", "refraction", "depends", "on", "index", "energy", "is",
        "conserved", "in", "a", "closed", "system", "so", "we", "can", "write", "equation", "for", "force",
        "mass", "and", "acceleration", "photosynthesis", "turns", "water", "carbon", "dioxide", "into",
        "sugar", "using", "sunlight", "гэрэл", "хугарна", "учир", "нь", "хурд", "өөрчлөгдөнө",
    ]

    /// The deterministic answer to a request: the same prompt always gives the same words.
    public static func answer(for request: ChatRequest, tokens: Int) -> [String] {
        var seed: UInt64 = 0xcbf2_9ce4_8422_2325
        for message in request.messages {
            for byte in message.role.utf8 { seed = (seed ^ UInt64(byte)) &* 0x100_0000_01b3 }
            for byte in message.content.utf8 { seed = (seed ^ UInt64(byte)) &* 0x100_0000_01b3 }
        }
        var state = seed
        return (0..<max(0, tokens)).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return vocabulary[Int((state >> 33) % UInt64(vocabulary.count))]
        }
    }
}

/// A scripted failure of the mock: `status:500` or `after:12`.
enum MockFailure: Equatable {
    case none
    case status(Int)
    case after(Int)

    init(_ text: String?) {
        guard let text else { self = .none; return }
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        if parts.count == 2, let n = Int(parts[1]) {
            switch parts[0] {
            case "status": self = .status(n); return
            case "after": self = .after(n); return
            default: break
            }
        }
        self = .none
    }
}

/// One mock answer in progress; runs in the consumer's task, so cancelling the consumer stops it.
actor MockRun {
    let events: [ProviderEvent]
    let ttftMs: Int
    let rate: Double
    let failure: MockFailure
    let finish: ProviderEvent
    let counters: MockProvider
    var index = -1
    var ended = false

    init(events: [ProviderEvent], ttftMs: Int, rate: Double, failure: MockFailure, finish: ProviderEvent, counters: MockProvider) {
        self.events = events
        self.ttftMs = ttftMs
        self.rate = rate
        self.failure = failure
        self.finish = finish
        self.counters = counters
    }

    deinit {
        if index >= 0 {
            if !ended { counters.count(ended: true) }
        }
    }

    func next() async throws -> ProviderEvent? {
        guard !ended else { return nil }
        do {
            return try await step()
        } catch {
            end()
            throw error
        }
    }

    private func end() {
        if !ended {
            ended = true
            counters.count(ended: true)
        }
    }

    private func step() async throws -> ProviderEvent? {
        if index == -1 {
            counters.count(started: true)
            index = 0
            if ttftMs > 0 { try await Task.sleep(for: .milliseconds(ttftMs)) }
            if case .status(let code) = failure {
                throw ProviderError(.status, status: code, reason: "mock upstream answered \(code)")
            }
        } else if rate > 0, index < events.count {
            try await Task.sleep(for: .seconds(1 / rate))
        }
        try Task.checkCancellation()
        if case .after(let n) = failure, index == n {
            throw ProviderError(.interrupted, reason: "mock stream cut after \(n) tokens")
        }
        guard index < events.count else {
            end()
            return finish
        }
        let event = events[index]
        index += 1
        counters.count(token: true)
        return event
    }
}
