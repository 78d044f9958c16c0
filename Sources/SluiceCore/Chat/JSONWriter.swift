/// Writes JSON as bytes without `JSONEncoder`, for what Sluice writes many times a second (a stream's
/// chunks): the same JSON `JSONEncoder` writes (`.withoutEscapingSlashes`), objects' members in the same
/// order, and it cannot fail (a number that is not finite, which no parsed value holds, is written `null`).
public struct JSONWriter: Sendable {
    /// What has been written.
    public private(set) var bytes: [UInt8] = []
    /// Per open object or array: whether its next member needs a comma before it.
    private var commas: [Bool] = []
    /// Whether an object's members are written in the order of their keys (the same JSON for the same
    /// value, always), rather than in its dictionary's.
    public var sortsKeys: Bool

    public init(capacity: Int = 256, sortsKeys: Bool = false) {
        bytes.reserveCapacity(capacity)
        self.sortsKeys = sortsKeys
    }

    /// A value as JSON.
    public static func bytes(of value: JSONValue, sortsKeys: Bool = false) -> [UInt8] {
        var writer = JSONWriter(sortsKeys: sortsKeys)
        writer.write(value)
        return writer.bytes
    }

    /// Opens an object; its members follow as `key` and a value.
    public mutating func beginObject() { open(UInt8(ascii: "{")) }

    public mutating func endObject() { close(UInt8(ascii: "}")) }

    public mutating func beginArray() { open(UInt8(ascii: "[")) }

    public mutating func endArray() { close(UInt8(ascii: "]")) }

    private mutating func open(_ bracket: UInt8) {
        separate()
        bytes.append(bracket)
        commas.append(false)
    }

    private mutating func close(_ bracket: UInt8) {
        commas.removeLast()
        bytes.append(bracket)
    }

    /// A member's key; its value is the next thing written.
    public mutating func key(_ key: String) {
        separate()
        quoted(key)
        bytes.append(UInt8(ascii: ":"))
        // The value that follows takes no comma of its own.
        if !commas.isEmpty { commas[commas.count - 1] = false }
    }

    public mutating func string(_ value: String) {
        separate()
        quoted(value)
    }

    public mutating func int(_ value: Int64) { number(String(value)) }

    public mutating func write(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let flag): bool(flag)
        case .int(let number): int(number)
        case .double(let number): double(number)
        case .string(let text): string(text)
        case .array(let values):
            beginArray()
            for value in values { write(value) }
            endArray()
        case .object(let members):
            beginObject()
            if sortsKeys {
                // By their UTF-8 bytes, as `JSONEncoder`'s `.sortedKeys` orders them.
                for (name, value) in members.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
                    key(name)
                    write(value)
                }
            } else {
                for (name, value) in members {
                    key(name)
                    write(value)
                }
            }
            endObject()
        }
    }

    public mutating func double(_ value: Double) {
        guard value.isFinite else { return literal("null") }
        number(Self.trimmed(value.description))
    }

    public mutating func float(_ value: Float) {
        guard value.isFinite else { return literal("null") }
        number(Self.trimmed(value.description))
    }

    /// As `JSONEncoder` writes a whole number held as a double: 2, not 2.0.
    private static func trimmed(_ text: String) -> String {
        text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }

    /// A number already written as JSON digits.
    public mutating func number(_ digits: String) {
        separate()
        bytes.append(contentsOf: digits.utf8)
    }

    public mutating func bool(_ value: Bool) { literal(value ? "true" : "false") }

    public mutating func null() { literal("null") }

    private mutating func literal(_ text: StaticString) {
        separate()
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// A comma before every value of an object or array but its first (a member's value follows its key).
    private mutating func separate() {
        guard !commas.isEmpty else { return }
        if commas[commas.count - 1] { bytes.append(UInt8(ascii: ",")) }
        commas[commas.count - 1] = true
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    private mutating func quoted(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0..<0x20:
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                bytes.append(Self.hex[Int(byte >> 4)])
                bytes.append(Self.hex[Int(byte & 0xF)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
