public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import SluiceCore

/// One HTTP call to a provider, read as the consumer asks: it sends the request on the first `next()`,
/// maps an error status to a `ProviderError` (with `Retry-After`), then decodes the body — a stream of
/// server-sent events parsed incrementally, or one JSON document. Runs in the consumer's task, so
/// cancelling the consumer cancels the request.
actor HTTPCall {
    /// Turns the wire format into provider events.
    protocol Decoder: Sendable {
        /// Events for one server-sent event; `true` in `finished` once the answer is complete.
        mutating func decode(_ event: SSEEvent) throws -> [ProviderEvent]
        /// Events for a whole non-streamed body.
        func decode(body: Data) throws -> [ProviderEvent]
        /// Whether the stream completed (`[DONE]` or the protocol's end event).
        var finished: Bool { get }
        /// The final event when the stream ended without one the decoder already emitted.
        mutating func finalEvent() -> ProviderEvent?
    }

    let client: HTTPClient
    let request: HTTPClientRequest
    let streaming: Bool
    let deadline: NIODeadline
    var decoder: any Decoder
    var body: HTTPClientResponse.Body.AsyncIterator?
    var parser = SSEParser()
    var pending: [ProviderEvent] = []
    var done = false
    /// Bytes of the answer so far.
    var received = 0
    /// The most bytes the answer may take, streamed or not: a provider that never ends is cut off.
    let maxAnswerBytes: Int

    init(client: HTTPClient, request: HTTPClientRequest, deployment: Deployment, decoder: any Decoder) {
        self.client = client
        self.maxAnswerBytes = deployment.maxAnswerBytes
        parser.maxEventBytes = min(parser.maxEventBytes, deployment.maxAnswerBytes)
        self.request = request
        self.streaming = deployment.streaming
        self.deadline = .now() + .milliseconds(Int64(max(1, deployment.timeouts.total) * 1000))
        self.decoder = decoder
    }

    func next() async throws -> ProviderEvent? {
        while pending.isEmpty {
            guard !done else { return nil }
            try await fill()
        }
        return pending.removeFirst()
    }

    private func fill() async throws {
        guard var iterator = body else {
            try await start()
            return
        }
        let buffer: ByteBuffer?
        do {
            buffer = try await iterator.next(isolation: self)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ProviderError(.interrupted, reason: "the connection broke mid-answer")
        }
        body = iterator
        guard let buffer else {
            done = true
            if decoder.finished {
                if let last = decoder.finalEvent() { pending.append(last) }
                return
            }
            throw ProviderError(.interrupted, reason: "the stream ended before the answer was complete")
        }
        received += buffer.readableBytes
        guard received <= maxAnswerBytes else {
            throw ProviderError(.malformed, reason: "the answer grew past \(maxAnswerBytes) bytes")
        }
        for item in parser.feed(buffer.readableBytesView) {
            if case .oversized = item { throw ProviderError(.malformed, reason: "the provider sent an event larger than \(parser.maxEventBytes >> 20) MiB") }
            guard case .event(let event) = item else { continue }
            pending += try decoder.decode(event)
            if decoder.finished {
                done = true
                if let last = decoder.finalEvent() { pending.append(last) }
                return
            }
        }
    }

    private func start() async throws {
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, deadline: deadline)
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw ProviderError(.timeout, reason: "the provider did not answer in time")
        } catch {
            throw ProviderError(.connect, reason: "the provider could not be reached")
        }
        guard (200..<300).contains(response.status.code) else {
            let status = Int(response.status.code)
            let retryAfter = ProviderError.retryAfter(header: response.headers.first(name: "retry-after"))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            throw ProviderError(.status, status: status, retryAfter: retryAfter, reason: "the provider answered \(status)")
        }
        if streaming {
            body = response.body.makeAsyncIterator()
        } else {
            let bytes: ByteBuffer
            do {
                bytes = try await response.body.collect(upTo: maxAnswerBytes)
            } catch {
                throw ProviderError(.interrupted, reason: "the connection broke mid-answer")
            }
            pending = try decoder.decode(body: Data(bytes.readableBytesView))
            done = true
        }
    }

    /// A JSON request, written in one pass by `JSONWriter`.
    static func post(url: String, headers: [(String, String)], json: JSONValue) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        // The provider sees the request's trace (`traceparent`), when there is one.
        TraceHeaders.inject(into: &request.headers)
        request.body = .bytes(ByteBuffer(bytes: JSONWriter.bytes(of: json)))
        return request
    }

    /// An event's or a body's JSON object.
    static func object(_ data: Data) throws -> JSONValue {
        guard let value = try? JSONValue.parse(data), value.object != nil else {
            throw ProviderError(.malformed, reason: "the provider sent something that is not a JSON object")
        }
        return value
    }

    static func object(_ text: String) throws -> JSONValue { try object(Data(text.utf8)) }
}

extension HTTPClient {
    /// A client for one deployment: pooled connections, `warmConnections` of them kept open and idle, and
    /// its own connect timeout.
    public static func forDeployment(_ deployment: Deployment) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(
            connect: .milliseconds(Int64(deployment.timeouts.connect * 1000)),
            read: .milliseconds(Int64(max(deployment.timeouts.idle, deployment.timeouts.firstToken) * 1000)))
        let connections = max(8, deployment.maxInFlight)
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        // A refused connection fails the call at once, so that the router fails over instead of waiting.
        configuration.connectionPool.retryConnectionEstablishment = false
        if deployment.warmConnections > 0 {
            configuration.connectionPool.preWarmedHTTP1ConnectionCount = min(deployment.warmConnections, connections)
            // AsyncHTTPClient (1.37) pre-warms only a pool that starts as HTTP/1: one that starts ready for
            // HTTP/2 (`.automatic`) and finds HTTP/1 drops the request for the first warm connection, leaves
            // it "starting" for good, and then never finishes its shutdown (the node hung on SIGTERM).
            configuration.httpVersion = .http1Only
        }
        configuration.trust(caFile: deployment.caFile)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }
}

extension HTTPClient.Configuration {
    /// Checks servers' certificates against the authorities in `caFile` (PEM) alone, instead of the
    /// system's (a provider behind a private CA, the nodes of a cluster); nil keeps the system's. The
    /// host name is checked either way.
    /// - Parameter caFile: the PEM file of the certificate authorities to trust.
    public mutating func trust(caFile: String?) {
        guard let caFile else { return }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(caFile)
        tlsConfiguration = tls
    }
}
