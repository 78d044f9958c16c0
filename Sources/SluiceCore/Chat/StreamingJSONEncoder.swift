public import Foundation

/// Encodes any `Encodable` as the JSON `JSONEncoder` writes with its default strategies (dates as
/// seconds since 2001, data as Base64, URLs as strings, a number that is not finite refused), in one pass
/// straight into a `JSONWriter`, without the tree `JSONEncoder` builds first. What the stores write for
/// every job, several times in its life.
///
/// Containers are written as they are filled, so they must be filled in turn, as synthesized conformances
/// and ours do: one container per value, and a nested container finished before its parent's next member.
/// A conformance that asks one value for a second container (which `JSONEncoder` would merge), interleaves
/// containers, asks for a `superEncoder` or carries on after an error it caught is refused with an
/// `EncodingError`, never written wrong. Two differences remain, neither reachable from what Sluice
/// stores: a `JSONValue` holding a number that is not finite (no parsed value does) is written `null`, as
/// `JSONWriter` writes it, and a value that encodes nothing at all is `{}` even at the top.
public struct StreamingJSONEncoder: Sendable {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = StreamingEncoder()
        try encoder.write(value)
        if let misuse = encoder.misuse { throw misuse }
        return Data(encoder.writer.bytes)
    }
}

/// The encoder a value writes itself through; its containers write into its one `JSONWriter`.
final class StreamingEncoder: Encoder {
    var writer = JSONWriter(capacity: 1024)
    /// The containers written and not yet closed, innermost last: an id and whether it is an object.
    private var open: [(id: Int, object: Bool)] = []
    /// Where each value being written began in `writer.bytes`, innermost last: a value whose own bytes
    /// have begun has its container already.
    private var starts: [Int] = []
    private var lastID = 0
    /// A container used out of turn: the encoding fails with it.
    private(set) var misuse: EncodingError?

    let codingPath: [any CodingKey] = []
    let userInfo: [CodingUserInfoKey: Any] = [:]

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        firstContainer()
        return KeyedEncodingContainer(KeyedWriter<Key>(encoder: self, id: begin(object: true)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        firstContainer()
        return UnkeyedWriter(encoder: self, id: begin(object: false))
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        firstContainer()
        return SingleValueWriter(encoder: self, depth: open.count)
    }

    /// A value asks for its container once: a second one (`JSONEncoder` merges them) cannot be written in turn.
    private func firstContainer() {
        if let start = starts.last, writer.bytes.count != start { refuse("a value asked for a second container") }
    }

    /// One value, with the containers it opened closed after it.
    func write<T: Encodable>(_ value: T) throws {
        if T.self == JSONValue.self { return writer.write(value as! JSONValue) }
        if T.self == String.self { return writer.string(value as! String) }
        if T.self == Date.self { return try double((value as! Date).timeIntervalSinceReferenceDate) }
        if T.self == Data.self { return writer.string((value as! Data).base64EncodedString()) }
        if T.self == URL.self { return writer.string((value as! URL).absoluteString) }
        if T.self == Decimal.self { return writer.number((value as! Decimal).description) }
        let depth = open.count
        let written = writer.bytes.count
        starts.append(written)
        defer { starts.removeLast() }
        do {
            try value.encode(to: self)
        } catch {
            // Whatever it wrote before it failed stays written: a conformance that caught the error and
            // went on would write on after it.
            refuse("a value failed part-way: \(error)")
            throw error
        }
        close(downTo: depth)
        // A value that wrote nothing is an empty object, as `JSONEncoder` writes it.
        if writer.bytes.count == written, misuse == nil {
            writer.beginObject()
            writer.endObject()
        }
    }

    func double(_ value: Double) throws {
        guard value.isFinite else { throw notFinite(value) }
        writer.double(value)
    }

    func float(_ value: Float) throws {
        guard value.isFinite else { throw notFinite(value) }
        writer.float(value)
    }

    /// Refused as `JSONEncoder` refuses it; its key may be written already, so nothing more is.
    private func notFinite(_ value: Any) -> EncodingError {
        refuse("\(value) is not a JSON number")
        return EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "\(value) is not a JSON number"))
    }

    /// Opens a container where the next value goes (a nested one, or a value's own).
    func begin(object: Bool) -> Int {
        object ? writer.beginObject() : writer.beginArray()
        lastID += 1
        open.append((lastID, object))
        return lastID
    }

    private func close(downTo depth: Int) {
        while open.count > depth {
            open.removeLast().object ? writer.endObject() : writer.endArray()
        }
    }

    /// Makes the container `id` the innermost open one before it writes, closing the ones opened in it
    /// (finished, since containers are filled in turn); false, and the encoding refused, when it was closed.
    func turn(of id: Int) -> Bool {
        guard let index = open.lastIndex(where: { $0.id == id }) else {
            refuse("a container was written to after its parent went on")
            return false
        }
        close(downTo: index + 1)
        return true
    }

    /// Whether a single value may be written at `depth` (where its container was made).
    func turn(atDepth depth: Int) -> Bool {
        guard open.count == depth else {
            refuse("a single value was written beside a container of the same value")
            return false
        }
        return true
    }

    func refuse(_ why: String) {
        if misuse == nil { misuse = EncodingError.invalidValue(why, .init(codingPath: [], debugDescription: why)) }
    }
}

private struct KeyedWriter<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: StreamingEncoder
    let id: Int
    var codingPath: [any CodingKey] { [] }

    private func key(_ key: Key) -> Bool {
        guard encoder.turn(of: id) else { return false }
        encoder.writer.key(key.stringValue)
        return true
    }

    mutating func encodeNil(forKey key: Key) throws { if self.key(key) { encoder.writer.null() } }
    mutating func encode(_ value: Bool, forKey key: Key) throws { if self.key(key) { encoder.writer.bool(value) } }
    mutating func encode(_ value: String, forKey key: Key) throws { if self.key(key) { encoder.writer.string(value) } }
    mutating func encode(_ value: Double, forKey key: Key) throws { if self.key(key) { try encoder.double(value) } }
    mutating func encode(_ value: Float, forKey key: Key) throws { if self.key(key) { try encoder.float(value) } }
    mutating func encode(_ value: Int, forKey key: Key) throws { if self.key(key) { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: Int8, forKey key: Key) throws { if self.key(key) { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: Int16, forKey key: Key) throws { if self.key(key) { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: Int32, forKey key: Key) throws { if self.key(key) { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: Int64, forKey key: Key) throws { if self.key(key) { encoder.writer.int(value) } }
    mutating func encode(_ value: UInt, forKey key: Key) throws { if self.key(key) { encoder.writer.number(String(value)) } }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { if self.key(key) { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { if self.key(key) { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { if self.key(key) { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { if self.key(key) { encoder.writer.number(String(value)) } }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { if self.key(key) { try encoder.write(value) } }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        _ = self.key(key)
        return KeyedEncodingContainer(KeyedWriter<NestedKey>(encoder: encoder, id: encoder.begin(object: true)))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        _ = self.key(key)
        return UnkeyedWriter(encoder: encoder, id: encoder.begin(object: false))
    }

    mutating func superEncoder() -> any Encoder {
        encoder.refuse("superEncoder is not supported")
        return encoder
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder() }
}

private struct UnkeyedWriter: UnkeyedEncodingContainer {
    let encoder: StreamingEncoder
    let id: Int
    var codingPath: [any CodingKey] { [] }
    private(set) var count = 0

    init(encoder: StreamingEncoder, id: Int) {
        self.encoder = encoder
        self.id = id
    }

    private mutating func next() -> Bool {
        guard encoder.turn(of: id) else { return false }
        count += 1
        return true
    }

    mutating func encodeNil() throws { if next() { encoder.writer.null() } }
    mutating func encode(_ value: Bool) throws { if next() { encoder.writer.bool(value) } }
    mutating func encode(_ value: String) throws { if next() { encoder.writer.string(value) } }
    mutating func encode(_ value: Double) throws { if next() { try encoder.double(value) } }
    mutating func encode(_ value: Float) throws { if next() { try encoder.float(value) } }
    mutating func encode(_ value: Int) throws { if next() { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: Int8) throws { if next() { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: Int16) throws { if next() { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: Int32) throws { if next() { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: Int64) throws { if next() { encoder.writer.int(value) } }
    mutating func encode(_ value: UInt) throws { if next() { encoder.writer.number(String(value)) } }
    mutating func encode(_ value: UInt8) throws { if next() { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: UInt16) throws { if next() { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: UInt32) throws { if next() { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: UInt64) throws { if next() { encoder.writer.number(String(value)) } }
    mutating func encode<T: Encodable>(_ value: T) throws { if next() { try encoder.write(value) } }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        _ = next()
        return KeyedEncodingContainer(KeyedWriter<NestedKey>(encoder: encoder, id: encoder.begin(object: true)))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        _ = next()
        return UnkeyedWriter(encoder: encoder, id: encoder.begin(object: false))
    }

    mutating func superEncoder() -> any Encoder {
        encoder.refuse("superEncoder is not supported")
        return encoder
    }
}

private struct SingleValueWriter: SingleValueEncodingContainer {
    let encoder: StreamingEncoder
    let depth: Int
    var codingPath: [any CodingKey] { [] }
    private var used = false

    init(encoder: StreamingEncoder, depth: Int) {
        self.encoder = encoder
        self.depth = depth
    }

    private mutating func once() -> Bool {
        guard !used else {
            encoder.refuse("a single value container was written twice")
            return false
        }
        used = true
        return encoder.turn(atDepth: depth)
    }

    mutating func encodeNil() throws { if once() { encoder.writer.null() } }
    mutating func encode(_ value: Bool) throws { if once() { encoder.writer.bool(value) } }
    mutating func encode(_ value: String) throws { if once() { encoder.writer.string(value) } }
    mutating func encode(_ value: Double) throws { if once() { try encoder.double(value) } }
    mutating func encode(_ value: Float) throws { if once() { try encoder.float(value) } }
    mutating func encode(_ value: Int) throws { if once() { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: Int8) throws { if once() { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: Int16) throws { if once() { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: Int32) throws { if once() { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: Int64) throws { if once() { encoder.writer.int(value) } }
    mutating func encode(_ value: UInt) throws { if once() { encoder.writer.number(String(value)) } }
    mutating func encode(_ value: UInt8) throws { if once() { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: UInt16) throws { if once() { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: UInt32) throws { if once() { encoder.writer.int(Int64(value)) } }
    mutating func encode(_ value: UInt64) throws { if once() { encoder.writer.number(String(value)) } }
    mutating func encode<T: Encodable>(_ value: T) throws { if once() { try encoder.write(value) } }
}
