import Foundation

/// The tensors of a `.safetensors` file (an 8-byte little-endian header length, a JSON header naming
/// each tensor's dtype, shape and byte range, then the data), read as `Float`. F32, F16, BF16 and the
/// integer types a Model2Vec file uses are understood; anything malformed is a precise error.
struct SafeTensors {
    struct Tensor {
        var shape: [Int]
        var values: [Float]
    }

    struct FormatError: Error, CustomStringConvertible {
        var description: String
    }

    let tensors: [String: Tensor]

    init(data: Data) throws {
        guard data.count >= 8 else { throw FormatError(description: "the file is shorter than a safetensors header") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8), headerLength < 100_000_000 else { throw FormatError(description: "the header length \(headerLength) runs past the file") }
        let start = data.startIndex + 8
        guard let header = try JSONSerialization.jsonObject(with: data[start..<(start + Int(headerLength))]) as? [String: Any] else {
            throw FormatError(description: "the header is not a JSON object")
        }
        let body = data[(start + Int(headerLength))...]
        var tensors: [String: Tensor] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String, let shape = info["shape"] as? [Int],
                  let offsets = info["data_offsets"] as? [Int], offsets.count == 2, shape.allSatisfy({ $0 >= 0 })
            else { throw FormatError(description: "tensor \(name): dtype, shape or data_offsets missing") }
            let (count, overflow) = shape.reduce((1, false)) { partial, dimension in
                let product = partial.0.multipliedReportingOverflow(by: dimension)
                return (product.partialValue, partial.1 || product.overflow)
            }
            guard !overflow, count <= 1 << 34 else { throw FormatError(description: "tensor \(name): shape \(shape) is too large") }
            let size: Int
            switch dtype {
            case "F32", "I32": size = 4
            case "F16", "BF16", "I16": size = 2
            case "I64": size = 8
            case "I8", "U8": size = 1
            default: throw FormatError(description: "tensor \(name): dtype \(dtype) is not supported")
            }
            guard offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] <= body.count, offsets[1] - offsets[0] == count * size else {
                throw FormatError(description: "tensor \(name): its bytes do not match its shape \(shape)")
            }
            let bytes = body[(body.startIndex + offsets[0])..<(body.startIndex + offsets[1])]
            tensors[name] = Tensor(shape: shape, values: Self.floats(bytes, dtype: dtype, count: count))
        }
        self.tensors = tensors
    }

    static func floats(_ bytes: Data, dtype: String, count: Int) -> [Float] {
        let raw = [UInt8](bytes)
        func word(_ i: Int, _ n: Int) -> UInt64 { (0..<n).reduce(UInt64(0)) { $0 | UInt64(raw[i * n + $1]) << (8 * UInt64($1)) } }
        return (0..<count).map { i in
            switch dtype {
            case "F32": Float(bitPattern: UInt32(word(i, 4)))
            case "F16": Float(Float16(bitPattern: UInt16(word(i, 2))))
            case "BF16": Float(bitPattern: UInt32(word(i, 2)) << 16)
            case "I32": Float(Int32(bitPattern: UInt32(word(i, 4))))
            case "I16": Float(Int16(bitPattern: UInt16(word(i, 2))))
            case "I64": Float(Int64(bitPattern: word(i, 8)))
            case "I8": Float(Int8(bitPattern: raw[i]))
            default: Float(raw[i])
            }
        }
    }
}
