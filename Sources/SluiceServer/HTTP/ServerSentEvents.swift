import Foundation
import Hummingbird
import NIOCore
import SluiceCore

/// Encodes server-sent events.
enum ServerSentEvents {
    /// `id: N`, `event: NAME`, `data: JSON`; no `id:` for 0 (a notice that is not part of the job's
    /// stream, so a client's `Last-Event-ID` stays where it was).
    static func event(id: Int?, name: String?, json: some Sequence<UInt8>) -> ByteBuffer {
        var text = ""
        if let id, id > 0 { text += "id: \(id)\n" }
        if let name { text += "event: \(name)\n" }
        var buffer = ByteBuffer(string: text + "data: ")
        buffer.writeBytes(json)
        buffer.writeString("\n\n")
        return buffer
    }

    /// The most a stream writes at once when chunks wait for it.
    static let writeBatchBytes = 1 << 16

    /// A comment line that keeps proxies and browsers from closing an idle stream.
    static let heartbeat = ByteBuffer(string: ": heartbeat\n\n")

    /// Tells `EventSource` how long to wait before reconnecting.
    static func retry(milliseconds: Int) -> ByteBuffer { ByteBuffer(string: "retry: \(milliseconds)\n\n") }

    /// The jobs stream's event for a chunk.
    static func jobEvent(_ chunk: StreamChunk) -> ByteBuffer {
        event(id: chunk.seq, name: chunk.event.name, json: json(jobPayload(chunk)))
    }

    /// What a chunk's event says (its `data:`).
    static func jobPayload(_ chunk: StreamChunk) -> JSONValue {
        switch chunk.event {
        case .delta(let text): ["text": .string(text)]
        case .choice(let piece): piece.chunkChoice(first: false)
        case .reset: [:]
        case .done(let reason, let usage, let cache, let queueMs, let fingerprint):
            [
                "finish_reason": .string(reason), "usage": usage.json, "cache": .string(cache), "queue_ms": .int(Int64(queueMs ?? 0)),
                "system_fingerprint": fingerprint.map(JSONValue.string) ?? .null,
            ]
        case .error(let code, let message): ["code": .string(code), "message": .string(message)]
        }
    }

    /// A value as JSON, its members in the order of their keys (the same bytes for the same value).
    static func json(_ value: JSONValue) -> Data {
        Data(JSONWriter.bytes(of: value, sortsKeys: true))
    }

    /// A value as Foundation objects, to go into a `JSONSerialization` response.
    static func foundation(_ value: JSONValue) -> Any {
        (try? JSONSerialization.jsonObject(with: json(value), options: [.fragmentsAllowed])) ?? NSNull()
    }

    static func json(_ object: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }
}


extension ServerSentEvents {
    /// Writes a job's chunks as they come, with a heartbeat comment every `outlet.heartbeat`, until
    /// `render` says a chunk was the last or the subscription ends. A client that goes away ends only its
    /// subscription, as soon as its connection closes. A client that stops reading holds at most the
    /// connection's bounded write buffer: once one write waits longer than `outlet.maxStall`, its
    /// connection is closed (the chunks waiting are references to the job's, not copies) and it resumes
    /// with `Last-Event-ID`. Heartbeats and the stall watch come from the node's `StreamClock`; queue
    /// notices (`notice`, the waiting client's state) are put into the same subscription by
    /// `QueueNotices`: at the first chunk it says "running" if nothing did yet. Nothing runs per stream
    /// but the task writing it.
    static func pump(
        _ subscription: Subscription,
        to outlet: StreamOutlet,
        into writer: inout any ResponseBodyWriter,
        notice: QueueNotice? = nil,
        render: (StreamChunk) -> (buffers: [ByteBuffer], last: Bool)
    ) async throws {
        let watch = WriteWatch()
        // The client left (`StreamDeparture` closes a stream's connection at the client's end).
        outlet.connection.closeFuture.whenComplete { _ in subscription.finish() }
        StreamClock.node.watch(subscription, outlet: outlet, writes: watch)
        defer { subscription.finish() }
        var answering = false
        while true {
            // What waits is written together: one write (and one flush) for a stream that fell behind.
            let items = await subscription.nextBatch()
            if items.isEmpty { return }
            var events = ByteBuffer()
            var last = false
            items: for item in items {
                switch item {
                case .heartbeat:
                    events.writeImmutableBuffer(Self.heartbeat)
                case .notice(let buffer):
                    if !answering { events.writeImmutableBuffer(buffer) }
                case .chunk(let chunk):
                    if !answering, !chunk.event.isTerminal, let running = notice?.answering() { events.writeImmutableBuffer(running) }
                    answering = true
                    let rendered = render(chunk)
                    for buffer in rendered.buffers { events.writeImmutableBuffer(buffer) }
                    if rendered.last {
                        last = true
                        break items
                    }
                    // At most 64 KiB a write, each of which may wait `maxStall` as one event's write may:
                    // a resumed long answer read slowly is not a client that stopped reading.
                    if events.readableBytes >= Self.writeBatchBytes {
                        let full = events
                        events = ByteBuffer()
                        try await watch.during { try await writer.write(full) }
                    }
                }
            }
            if events.readableBytes > 0 { try await watch.during { try await writer.write(events) } }
            if last { return }
        }
    }
}
