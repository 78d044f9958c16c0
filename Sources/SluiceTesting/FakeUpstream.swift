public import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A real HTTP server on loopback that plays an LLM provider — OpenAI's chat completions at
/// `/v1/chat/completions`, Anthropic's Messages at `/v1/messages` — and misbehaves on command, per
/// request (`script`) or for every request (`fallback`). It records what it received.
public final class FakeUpstream: Sendable {
    /// How to answer one request.
    public enum Behavior: Sendable, Equatable {
        /// A normal answer: `tokens` words (`w1 w2 …`), at a rate (0: at once), with usage unless told not to.
        case answer(tokens: Int = 8, tokensPerSecond: Double = 0, usage: Bool = true)
        /// An error status, with `Retry-After` when given.
        case status(Int, retryAfter: Int? = nil)
        /// Never sends the response.
        case hang
        /// Sends `n` tokens, then nothing.
        case stallAfter(Int)
        /// Sends `n` tokens, then drops the connection.
        case cutAfter(Int)
        /// Sends an event that is not JSON.
        case malformed
        /// A 429 whose `Retry-After` is this text, as a provider wrote it (`1e300`, `86400`, a date…).
        case throttled(retryAfter: String)
        /// Streams text forever, in chunks of `chunkBytes`, until the caller goes away.
        case endless(chunkBytes: Int)
        /// Answers exactly as given: each of `events` as one server-sent event's data when the request
        /// streams (the test includes OpenAI's `[DONE]`), else `body` as a JSON document — so a test
        /// scripts the provider's own bytes (tool calls, log probabilities, several choices, …).
        case raw(events: [String], body: String)
    }

    /// One request it received.
    public struct Received: Sendable {
        /// The path.
        public var path: String
        /// The headers, names lower-cased.
        public var headers: [String: String]
        /// The body.
        public var body: Data
        /// The body as JSON.
        public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        /// When it arrived.
        public var at: Date
    }

    struct State {
        var script: [Behavior] = []
        var fallback: Behavior = .answer()
        var byContent: [(key: String, behavior: Behavior)] = []
        var received: [Received] = []
        /// How `/hooks/*` answers: these statuses in turn, then `hookFallback`.
        var hookScript: [Int] = []
        var hookFallback = 200
        var inFlight = 0
        var maxInFlight = 0
        var parked: [CheckedContinuation<Void, Never>] = []
        var released = false
        var jwks = #"{"keys": []}"#
    }

    private let state = Mutex(State())
    /// The bound port.
    public private(set) nonisolated(unsafe) var port = 0

    /// Whether it speaks HTTPS (with the test certificate in `Tests/Fixtures`).
    public let tls: Bool
    /// The OpenAI-compatible base URL (`http(s)://127.0.0.1:PORT/v1`).
    public var openAIBaseURL: String { "\(tls ? "https" : "http")://127.0.0.1:\(port)/v1" }
    /// The Anthropic base URL (`http(s)://127.0.0.1:PORT`).
    /// Where it serves the JSON Web Key Set given to `serve(jwks:)` (an identity provider's keys).
    public var jwksURL: String { "\(tls ? "https" : "http")://127.0.0.1:\(port)/.well-known/jwks.json" }

    /// Serves `jwks` at `jwksURL` from now on (a key rotation).
    public func serve(jwks: String) { state.withLock { $0.jwks = jwks } }

    public var anthropicBaseURL: String { "\(tls ? "https" : "http")://127.0.0.1:\(port)" }

    /// The test certificate authority's file (the self-signed certificate itself).
    public static let certificateFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/test-upstream.cert.pem").path
    static let keyFile = certificateFile.replacingOccurrences(of: ".cert.pem", with: ".key.pem")

    init(tls: Bool) {
        self.tls = tls
    }

    /// Answers the next requests with these behaviors, in order, then with the fallback.
    public func script(_ behaviors: [Behavior]) { state.withLock { $0.script += behaviors } }
    /// Answers every request whose body contains `key` (a tag in the question, say) with this behavior,
    /// before the script and the fallback: tests that send many requests need no order.
    public func answer(containing key: String, with behavior: Behavior) { state.withLock { $0.byContent.append((key, behavior)) } }
    /// Makes the callback receiver (`POST /hooks/*`) answer these statuses in turn, then `fallback`.
    public func hooks(_ statuses: [Int], then fallback: Int = 200) { state.withLock { $0.hookScript = statuses; $0.hookFallback = fallback } }
    /// The callbacks it received (`/hooks/*`), in order.
    public var callbacks: [Received] { state.withLock { $0.received.filter { $0.path.hasPrefix("/hooks/") } } }
    /// Answers every request not scripted with this behavior.
    public func fallback(_ behavior: Behavior) { state.withLock { $0.fallback = behavior } }
    /// What it received so far.
    public var received: [Received] { state.withLock { $0.received } }
    /// The most requests it was answering at once.
    public var maxInFlight: Int { state.withLock { $0.maxInFlight } }
    /// Requests it is answering now.
    public var inFlight: Int { state.withLock { $0.inFlight } }

    /// Runs `body` with a fake upstream listening on a free loopback port, over HTTPS when `tls`.
    public static func with<T: Sendable>(tls: Bool = false, _ body: (FakeUpstream) async throws -> T) async throws -> T {
        let fake = FakeUpstream(tls: tls)
        var logger = Logger(label: "sluice.fake-upstream")
        logger.logLevel = .warning
        let router = Router()
        router.post("v1/chat/completions") { request, _ in try await fake.handle(request, anthropic: false) }
        router.post("v1/messages") { request, _ in try await fake.handle(request, anthropic: true) }
        router.post("v1/embeddings") { request, _ in try await fake.embeddings(request) }
        // An OTLP/HTTP receiver (JSON or protobuf): it records what it is sent, as it records provider calls.
        router.post("v1/traces") { request, _ in
            var request = request
            let body = Data(try await request.collectBody(upTo: 16 << 20).readableBytesView)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            fake.state.withLock { $0.received.append(Received(path: request.uri.path, headers: headers, body: body, at: Date())) }
            let json = request.headers[.contentType]?.contains("json") ?? false
            return Response(
                status: .ok, headers: [.contentType: json ? "application/json" : "application/x-protobuf"],
                body: .init(byteBuffer: ByteBuffer(string: json ? "{}" : "")))
        }
        // A callback receiver: records each POST, answers as `hooks(_:then:)` says.
        router.post("hooks/{name}") { request, _ in
            var request = request
            let body = Data(try await request.collectBody(upTo: 16 << 20).readableBytesView)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let status = fake.state.withLock { state in
                state.received.append(Received(path: request.uri.path, headers: headers, body: body, at: Date()))
                return state.hookScript.isEmpty ? state.hookFallback : state.hookScript.removeFirst()
            }
            return Response(status: HTTPResponse.Status(code: status), body: .init(byteBuffer: ByteBuffer(string: "{}")))
        }
        router.get(".well-known/jwks.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: fake.state.withLock { $0.jwks })))
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server: HTTPServerBuilder = tls
            ? try .tls(tlsConfiguration: .makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))))
            : .http1()
        let app = Application(
            router: router, server: server, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            fake.port = await iterator.next() ?? 0
            defer { fake.releaseParked() }
            do {
                let result = try await body(fake)
                fake.releaseParked()
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                fake.releaseParked()
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
        }
    }

    private func releaseParked() {
        let parked = state.withLock { state in
            state.released = true
            defer { state.parked = [] }
            return state.parked
        }
        for continuation in parked { continuation.resume() }
    }

    /// Waits until the fake shuts down (a hang that ends with the test).
    private func park() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if state.released { return true }
                state.parked.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Deterministic embeddings: letter counts of the lower-cased text, so that texts differing in case
    /// and punctuation only are identical and others differ.
    private func embeddings(_ request: Request) async throws -> Response {
        var request = request
        let body = Data(try await request.collectBody(upTo: 1 << 20).readableBytesView)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        state.withLock { $0.received.append(Received(path: request.uri.path, headers: headers, body: body, at: Date())) }
        let json = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
        let inputs = json["input"] as? [String] ?? [(json["input"] as? String) ?? ""]
        let data = inputs.enumerated().map { index, text -> [String: Any] in
            var vector = [Double](repeating: 0, count: 26)
            for scalar in text.lowercased().unicodeScalars where scalar.value >= 97 && scalar.value < 123 { vector[Int(scalar.value - 97)] += 1 }
            return ["object": "embedding", "index": index, "embedding": vector]
        }
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: ["object": "list", "data": data]))))
    }

    private func handle(_ request: Request, anthropic: Bool) async throws -> Response {
        var request = request
        let body = Data(try await request.collectBody(upTo: 1 << 20).readableBytesView)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let behavior = state.withLock { state -> Behavior in
            state.received.append(Received(path: request.uri.path, headers: headers, body: body, at: Date()))
            state.inFlight += 1
            state.maxInFlight = max(state.maxInFlight, state.inFlight)
            let text = String(decoding: body, as: UTF8.self)
            if let match = state.byContent.first(where: { text.contains($0.key) }) { return match.behavior }
            return state.script.isEmpty ? state.fallback : state.script.removeFirst()
        }
        let json = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
        let streaming = json["stream"] as? Bool ?? false
        let done: @Sendable () -> Void = { [self] in state.withLock { $0.inFlight -= 1 } }
        switch behavior {
        case .status(let code, let retryAfter):
            done()
            var fields: HTTPFields = [.contentType: "application/json"]
            if let retryAfter { fields[.retryAfter] = String(retryAfter) }
            let error = #"{"error":{"message":"fake upstream answered \#(code)","type":"fake","code":"\#(code)"}}"#
            return Response(status: .init(code: code), headers: fields, body: .init(byteBuffer: ByteBuffer(string: error)))
        case .throttled(let retryAfter):
            done()
            let error = #"{"error":{"message":"slow down","type":"rate_limit","code":"429"}}"#
            return Response(
                status: .tooManyRequests, headers: [.contentType: "application/json", .retryAfter: retryAfter],
                body: .init(byteBuffer: ByteBuffer(string: error)))
        case .hang:
            await park()
            done()
            return Response(status: .serviceUnavailable)
        case .raw(_, let body) where !streaming:
            done()
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        case .answer(let tokens, _, _) where !streaming:
            done()
            let text = Self.words(tokens).joined()
            let object: [String: Any] = anthropic
                ? ["type": "message", "role": "assistant", "content": [["type": "text", "text": text]], "stop_reason": "end_turn",
                   "usage": ["input_tokens": 11, "output_tokens": tokens]]
                : ["object": "chat.completion", "choices": [["index": 0, "message": ["role": "assistant", "content": text], "finish_reason": "stop"]],
                   "usage": ["prompt_tokens": 11, "completion_tokens": tokens, "total_tokens": 11 + tokens]]
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object))))
        default:
            return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: ResponseBody { [self] writer in
                defer { done() }
                try await self.stream(behavior, anthropic: anthropic, into: &writer)
            })
        }
    }

    static func words(_ count: Int) -> [String] { (1...max(1, count)).map { $0 == 1 ? "w1" : " w\($0)" }.prefix(count).map { $0 } }

    private func stream(_ behavior: Behavior, anthropic: Bool, into writer: inout any ResponseBodyWriter) async throws {
        func event(_ object: [String: Any], name: String? = nil) -> ByteBuffer {
            let data = String(decoding: (try? JSONSerialization.data(withJSONObject: object)) ?? Data(), as: UTF8.self)
            return ByteBuffer(string: (name.map { "event: \($0)\n" } ?? "") + "data: \(data)\n\n")
        }
        func delta(_ text: String) -> ByteBuffer {
            anthropic
                ? event(["type": "content_block_delta", "index": 0, "delta": ["type": "text_delta", "text": text]], name: "content_block_delta")
                : event(["object": "chat.completion.chunk", "choices": [["index": 0, "delta": ["content": text], "finish_reason": NSNull()]]])
        }
        if case .raw(let events, _) = behavior {
            for data in events { try await writer.write(ByteBuffer(string: "data: \(data)\n\n")) }
            try await writer.finish(nil)
            return
        }
        if anthropic {
            try await writer.write(event(["type": "message_start", "message": ["usage": ["input_tokens": 11, "output_tokens": 1]]], name: "message_start"))
        }
        switch behavior {
        case .answer(let tokens, let rate, let usage):
            for word in Self.words(tokens) {
                if rate > 0 { try await Task.sleep(for: .milliseconds(Int(1000 / rate))) }
                try await writer.write(delta(word))
            }
            if anthropic {
                try await writer.write(event(["type": "message_delta", "delta": ["stop_reason": "end_turn"], "usage": ["output_tokens": tokens]], name: "message_delta"))
                try await writer.write(event(["type": "message_stop"], name: "message_stop"))
            } else {
                try await writer.write(event(["object": "chat.completion.chunk", "choices": [["index": 0, "delta": [:], "finish_reason": "stop"]]]))
                if usage {
                    try await writer.write(event(["object": "chat.completion.chunk", "choices": [], "usage": ["prompt_tokens": 11, "completion_tokens": tokens, "total_tokens": 11 + tokens]]))
                }
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            }
        case .stallAfter(let n):
            for word in Self.words(n) { try await writer.write(delta(word)) }
            await park()
        case .cutAfter(let n):
            for word in Self.words(n) { try await writer.write(delta(word)) }
            // Let the tokens reach the client before the connection drops.
            try await Task.sleep(for: .milliseconds(100))
            throw CancellationError()
        case .malformed:
            try await writer.write(ByteBuffer(string: "data: {this is not json\n\n"))
        case .endless(let size):
            let piece = delta(String(repeating: "a", count: max(1, size)))
            while !Task.isCancelled { try await writer.write(piece) }
        case .status, .hang, .raw, .throttled:
            break
        }
        try await writer.finish(nil)
    }
}
