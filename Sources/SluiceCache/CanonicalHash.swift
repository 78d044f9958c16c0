import Crypto
import SluiceCore

/// SHA-256 over a JSON value in one pass, in a canonical form and without encoding it first: an object's
/// members in key order, every value tagged with its kind, every string and container with its length,
/// so that two different values never feed the same bytes. A number is the same whether written `1` or
/// `1.0`; `-0.0` is `0`.
struct CanonicalHash {
    private var hash = SHA256()

    /// Adds a value.
    mutating func feed(_ value: JSONValue) {
        switch value {
        case .null: tag("n")
        case .bool(let flag): tag(flag ? "t" : "f")
        case .int(let number): feedNumber(number)
        case .double(let number):
            if number == number.rounded(), let whole = Int64(exactly: number) {
                feedNumber(whole)
            } else {
                tag("d")
                feedWord(number.isNaN ? Double.nan.bitPattern : number.bitPattern)
            }
        case .string(let text): feed(text)
        case .array(let values):
            tag("a")
            feedWord(UInt64(values.count))
            for value in values { feed(value) }
        case .object(let members):
            tag("o")
            feedWord(UInt64(members.count))
            for key in members.keys.sorted() {
                feed(key)
                feed(members[key]!)
            }
        }
    }

    /// Adds a string.
    mutating func feed(_ text: String) {
        tag("s")
        var text = text
        text.withUTF8 { bytes in
            feedWord(UInt64(bytes.count))
            hash.update(bufferPointer: UnsafeRawBufferPointer(bytes))
        }
    }

    /// The digest as 64 lowercase hexadecimal digits.
    func hex() -> String {
        Self.hex(hash.finalize())
    }

    /// Bytes as lowercase hexadecimal digits.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private mutating func feedNumber(_ number: Int64) {
        tag("i")
        feedWord(UInt64(bitPattern: number))
    }

    private mutating func tag(_ kind: Unicode.Scalar) {
        var byte = UInt8(ascii: kind)
        withUnsafeBytes(of: &byte) { hash.update(bufferPointer: $0) }
    }

    private mutating func feedWord(_ word: UInt64) {
        var little = word.littleEndian
        withUnsafeBytes(of: &little) { hash.update(bufferPointer: $0) }
    }
}
