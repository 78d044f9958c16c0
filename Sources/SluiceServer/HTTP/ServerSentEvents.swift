import Foundation
import Hummingbird
import NIOCore
import SluiceCore

/// Encodes server-sent events.
enum ServerSentEvents {
    /// `id: N`, `event: NAME`, `data: JSON`.
    static func event(id: Int?, name: String?, json: Data) -> ByteBuffer {
        var text = ""
        if let id { text += "id: \(id)\n" }
        if let name { text += "event: \(name)\n" }
        var buffer = ByteBuffer(string: text + "data: ")
        buffer.writeBytes(json)
        buffer.writeString("\n\n")
        return buffer
    }

    /// A comment line that keeps proxies and browsers from closing an idle stream.
    static let heartbeat = ByteBuffer(string: ": heartbeat\n\n")

    /// Tells `EventSource` how long to wait before reconnecting.
    static func retry(milliseconds: Int) -> ByteBuffer { ByteBuffer(string: "retry: \(milliseconds)\n\n") }

    /// The jobs stream's event for a chunk.
    static func jobEvent(_ chunk: StreamChunk) -> ByteBuffer {
        let payload: [String: Any] = switch chunk.event {
        case .delta(let text): ["text": text]
        case .reset: [:]
        case .done(let reason, let usage, let cache, let queueMs):
            ["finish_reason": reason, "usage": usage.dictionary, "cache": cache, "queue_ms": queueMs ?? 0]
        case .error(let code, let message): ["code": code, "message": message]
        }
        return event(id: chunk.seq, name: chunk.event.name, json: json(payload))
    }

    static func json(_ object: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }
}

extension Usage {
    var dictionary: [String: Int] {
        ["prompt_tokens": promptTokens, "completion_tokens": completionTokens, "total_tokens": totalTokens]
    }
}

/// One item of an HTTP stream: a job's chunk, or time for a heartbeat.
enum StreamItem: Sendable {
    case chunk(StreamChunk)
    case heartbeat
}

extension ServerSentEvents {
    /// Writes a job's chunks as they come, with a heartbeat comment every `heartbeat`, until `render` says
    /// a chunk was the last or the chunks end. A client that goes away ends only this subscription.
    static func pump(
        _ chunks: AsyncStream<StreamChunk>,
        heartbeat: Duration,
        into writer: inout any ResponseBodyWriter,
        render: (StreamChunk) -> (buffers: [ByteBuffer], last: Bool)
    ) async throws {
        let (items, continuation) = AsyncStream<StreamItem>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await chunk in chunks { continuation.yield(.chunk(chunk)) }
                continuation.finish()
            }
            group.addTask {
                while (try? await Task.sleep(for: heartbeat)) != nil { continuation.yield(.heartbeat) }
            }
            defer { group.cancelAll() }
            for await item in items {
                switch item {
                case .heartbeat:
                    try await writer.write(Self.heartbeat)
                case .chunk(let chunk):
                    let (buffers, last) = render(chunk)
                    try await writer.write(contentsOf: buffers)
                    if last { return }
                }
            }
        }
    }
}
