import Foundation
import Hummingbird
public import Logging
public import ServiceLifecycle
import SluiceCore
public import SluiceProviders

/// The mock provider as a standalone OpenAI-compatible server (`sluice mock-upstream`), so that any
/// gateway, Sluice included, can be measured against the same upstream. No queue: each request streams
/// at once. A request's `mock` object scripts its answer; `fail: "status:N"` answers with status N.
public struct MockUpstream: Sendable {
    let host: String
    let port: Int
    let mock: MockProvider
    let logger: Logger

    /// - Parameters:
    ///   - host: address to bind.
    ///   - port: port to bind (0 picks one).
    ///   - configuration: default pace and length.
    ///   - logger: the logger.
    public init(host: String, port: Int, configuration: MockProvider.Configuration, logger: Logger) {
        self.host = host
        self.port = port
        self.mock = MockProvider(configuration: configuration)
        self.logger = logger
    }

    /// The HTTP server as a service.
    /// - Parameter onListening: called with the bound port.
    public func service(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> any Service {
        let router = Router(context: SluiceRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        let catalogue = ProviderRouter.mock(mock)
        var configuration = SluiceConfiguration()
        configuration.limits.maxTokens = 1 << 20
        router.get("v1/models") { _, _ in
            JSONResponse.make(["object": "list", "data": catalogue.aliases.map { ["id": $0, "object": "model", "created": 0, "owned_by": "sluice"] }])
        }
        router.post("v1/chat/completions") { [mock, configuration] request, context in
            let chat = try await ChatRequest.decode(from: request, configuration: configuration, router: catalogue, anyModel: true)
            var events = mock.stream(chat, upstreamModel: "mock").makeAsyncIterator()
            let first: ProviderEvent?
            do {
                first = try await events.next()
            } catch let error as ProviderError {
                let status = error.status ?? 502
                let code: SluiceError.Code = status == 429 ? .providerError : (status >= 500 ? .providerError : .invalidParameter)
                var response = ErrorMiddleware<SluiceRequestContext>.response(code: code, message: error.reason)
                response.status = .init(code: status)
                return response
            }
            let source = ChunkSource(first: first, rest: events)
            let chunks = Subscription.relaying(AsyncStream<StreamChunk>(unfolding: { await source.next() }))
            let answer = Answer(
                id: "chatcmpl-" + Job.newID().dropFirst(4), created: Date(), chat: chat, headers: [:],
                resumeHint: "", deadlineSeconds: 0,
                outlet: StreamOutlet(connection: context.connection, heartbeat: .seconds(15), maxStall: .seconds(60), metrics: nil))
            return await answer.respond(chunks, request: request)
        }
        let logger = logger
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "sluice-mock-upstream"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.notice("mock upstream is listening", metadata: ["sluice.address": "http://\(host):\(port)/v1"])
                await onListening(port)
            },
            logger: logger)
    }

}

/// Turns a provider's events into numbered chunks as the consumer asks for them.
actor ChunkSource {
    var pending: ProviderEvent?
    var rest: AsyncThrowingStream<ProviderEvent, any Error>.Iterator
    var seq = 0
    var ended = false

    init(first: ProviderEvent?, rest: sending AsyncThrowingStream<ProviderEvent, any Error>.Iterator) {
        self.pending = first
        self.rest = rest
    }

    func next() async -> StreamChunk? {
        guard !ended else { return nil }
        seq += 1
        let event: ProviderEvent?
        if let pending {
            event = pending
            self.pending = nil
        } else {
            do {
                var iterator = rest
                event = try await iterator.next(isolation: self)
                rest = iterator
            } catch {
                ended = true
                let reason = (error as? ProviderError)?.reason ?? "upstream failure"
                return StreamChunk(seq: seq, event: .error(code: SluiceError.Code.streamInterrupted.rawValue, message: reason))
            }
        }
        switch event {
        case .delta(let text):
            return StreamChunk(seq: seq, event: .delta(text))
        case .choice(let piece):
            return StreamChunk(seq: seq, event: .choice(piece))
        case .finish(let reason, let usage, let fingerprint):
            ended = true
            let usage = usage ?? Usage(promptTokens: 0, completionTokens: 0)
            return StreamChunk(seq: seq, event: .done(finishReason: reason, usage: usage, cache: "miss", fingerprint: fingerprint))
        case nil:
            ended = true
            return nil
        }
    }
}
