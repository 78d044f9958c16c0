import Foundation

/// One server-sent event.
public struct SSEEvent: Sendable, Equatable {
    /// `id:`, when the event had one.
    public var id: String?
    /// `event:` (`message` when absent).
    public var name: String
    /// `data:` lines joined by newlines.
    public var data: String

    /// - Parameters:
    ///   - id: the id.
    ///   - name: the event name.
    ///   - data: the data.
    public init(id: String? = nil, name: String = "message", data: String) {
        self.id = id
        self.name = name
        self.data = data
    }
}

/// An incremental parser of the server-sent events wire format: feed it bytes as they arrive, get the
/// complete events (and comments and `retry:` lines) back. Accepts `\n`, `\r\n` and `\r` line ends.
public struct SSEParser: Sendable {
    /// What a block of the stream was.
    public enum Item: Sendable, Equatable {
        /// An event.
        case event(SSEEvent)
        /// A comment line (heartbeats).
        case comment(String)
        /// A `retry:` line.
        case retry(Int)
        /// An event grew past `maxEventBytes`: the rest of the stream cannot be trusted, and nothing more
        /// is parsed.
        case oversized
    }

    /// The most bytes one event may hold (its lines together); a stream that sends more is cut off.
    public var maxEventBytes = 4 << 20
    var pending: [UInt8] = []
    var eventBytes = 0
    var overflowed = false
    var id: String?
    var name: String?
    var data: [String] = []
    var sawField = false
    var lastWasCR = false

    /// Creates a parser.
    public init() {}

    /// Feeds bytes; returns the items completed by them.
    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) -> [Item] where Bytes.Element == UInt8 {
        if let items = bytes.withContiguousStorageIfAvailable({ feed(contiguous: $0) }) { return items }
        return Array(bytes).withUnsafeBufferPointer { feed(contiguous: $0) }
    }

    /// Feeds bytes held together: each line is found by a scan for its end and read at once, not appended
    /// byte by byte (a generic loop over a `ByteBuffer`'s bytes took about 15 % of the load generator's CPU).
    private mutating func feed(contiguous bytes: UnsafeBufferPointer<UInt8>) -> [Item] {
        var items: [Item] = []
        guard !overflowed else { return [] }
        var index = 0
        while index < bytes.count {
            if lastWasCR {
                lastWasCR = false
                if bytes[index] == UInt8(ascii: "\n") {
                    // The `\n` of a `\r\n`: the line ended at the `\r`.
                    index += 1
                    guard countEventBytes(1, into: &items) else { return items }
                    continue
                }
            }
            var end = index
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n"), bytes[end] != UInt8(ascii: "\r") { end += 1 }
            let rest = UnsafeBufferPointer(rebasing: bytes[index..<end])
            guard countEventBytes(end - index + (end < bytes.count ? 1 : 0), into: &items) else { return items }
            guard end < bytes.count else {
                pending.append(contentsOf: rest)
                break
            }
            lastWasCR = bytes[end] == UInt8(ascii: "\r")
            if pending.isEmpty {
                line(String(decoding: rest, as: UTF8.self), into: &items)
            } else {
                pending.append(contentsOf: rest)
                line(String(decoding: pending, as: UTF8.self), into: &items)
                pending.removeAll(keepingCapacity: true)
            }
            index = end + 1
        }
        return items
    }

    /// Counts `bytes` more of the event; false (the parser stopped, `.oversized` added) past the limit.
    private mutating func countEventBytes(_ bytes: Int, into items: inout [Item]) -> Bool {
        eventBytes += bytes
        guard eventBytes > maxEventBytes else { return true }
        overflowed = true
        pending = []
        data = []
        items.append(.oversized)
        return false
    }

    /// Feeds text.
    public mutating func feed(_ text: String) -> [Item] { feed(Array(text.utf8)) }

    private mutating func line(_ line: String, into items: inout [Item]) {
        if line.isEmpty {
            eventBytes = 0
            if sawField { items.append(.event(SSEEvent(id: id, name: name ?? "message", data: data.joined(separator: "\n")))) }
            id = nil
            name = nil
            data = []
            sawField = false
            return
        }
        if line.hasPrefix(":") {
            items.append(.comment(String(line.dropFirst()).trimmingCharacters(in: .whitespaces)))
            return
        }
        let field: Substring
        var value: Substring
        if let colon = line.firstIndex(of: ":") {
            field = line[..<colon]
            value = line[line.index(after: colon)...]
            if value.first == " " { value = value.dropFirst() }
        } else {
            field = line[...]
            value = ""
        }
        switch field {
        case "data": data.append(String(value)); sawField = true
        case "event": name = String(value); sawField = true
        case "id": id = String(value); sawField = true
        case "retry": if let ms = Int(value) { items.append(.retry(ms)) }
        default: break
        }
    }
}
