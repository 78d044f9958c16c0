import AsyncHTTPClient
public import Foundation
public import NIOCore
public import NIOHTTP1
public import SluiceCore

/// A small HTTP client for tests against a live server, on AsyncHTTPClient.
public struct HTTPTestClient: Sendable {
    /// The server's base URL, e.g. `http://127.0.0.1:8080`.
    public var baseURL: String
    /// Headers sent with every request.
    public var headers: [String: String]

    /// - Parameters:
    ///   - baseURL: the server's base URL.
    ///   - headers: default headers.
    public init(baseURL: String, headers: [String: String] = [:]) {
        self.baseURL = baseURL
        self.headers = headers
    }

    /// A response read whole.
    public struct Reply: Sendable {
        /// The status code.
        public var status: Int
        /// The headers, names lower-cased.
        public var headers: [String: String]
        /// The body.
        public var body: Data
        /// The body as JSON.
        public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        /// `error.code` of an OpenAI error body.
        public var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
        /// The body as text.
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Sends a request and reads the whole response.
    public func send(
        _ method: HTTPMethod, _ path: String, body: Data? = nil, headers extra: [String: String] = [:], timeout: TimeAmount = .seconds(60)
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers.merging(extra, uniquingKeysWith: { $1 }) { request.headers.replaceOrAdd(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 64 << 20)
        var names: [String: String] = [:]
        for header in response.headers { names[header.name.lowercased()] = header.value }
        return Reply(status: Int(response.status.code), headers: names, body: Data(bytes.readableBytesView))
    }

    /// POSTs a JSON object.
    public func post(_ path: String, json: [String: Any], headers: [String: String] = [:]) async throws -> Reply {
        let body = try JSONSerialization.data(withJSONObject: json)
        return try await send(.POST, path, body: body, headers: ["Content-Type": "application/json"].merging(headers) { $1 })
    }

    /// GETs a path.
    public func get(_ path: String, headers: [String: String] = [:]) async throws -> Reply {
        try await send(.GET, path, headers: headers)
    }

    /// DELETEs a path.
    public func delete(_ path: String, headers: [String: String] = [:]) async throws -> Reply {
        try await send(.DELETE, path, headers: headers)
    }

    /// Reads server-sent events until the stream ends, `limit` events arrived, or one satisfies `until`
    /// (then drops the connection).
    public func events(
        _ path: String, method: HTTPMethod = .GET, json: [String: Any]? = nil, headers extra: [String: String] = [:], limit: Int = .max,
        timeout: TimeAmount = .seconds(60), until: @Sendable (SSEEvent) -> Bool = { _ in false }
    ) async throws -> SSEStream {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers.merging(extra, uniquingKeysWith: { $1 }) { request.headers.replaceOrAdd(name: name, value: value) }
        if let json {
            request.headers.replaceOrAdd(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        var stream = SSEStream(status: Int(response.status.code), headers: [:])
        for header in response.headers { stream.headers[header.name.lowercased()] = header.value }
        var parser = SSEParser()
        reading: for try await buffer in response.body {
            for item in parser.feed(buffer.readableBytesView) {
                switch item {
                case .comment(let text): stream.comments.append(text)
                case .retry(let value): stream.retry = value
                case .event(let event):
                    stream.events.append(event)
                    if stream.events.count >= limit || until(event) { break reading }
                case .oversized:
                    throw TestFailure("an event larger than \(parser.maxEventBytes) bytes")
                }
            }
        }
        return stream
    }
}

/// What a server-sent event stream carried.
public struct SSEStream: Sendable {
    /// The status code.
    public var status: Int
    /// The headers, names lower-cased.
    public var headers: [String: String]
    /// The events in order.
    public var events: [SSEEvent] = []
    /// Comment lines (heartbeats).
    public var comments: [String] = []
    /// The `retry:` value.
    public var retry: Int?
}

extension SSEEvent {
    /// The data as JSON.
    public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:] }
    /// The `id:` as a number.
    public var seq: Int? { id.flatMap { Int($0) } }
}

