import Foundation
import SluiceCore

/// An OpenAI embeddings request (`POST /v1/embeddings`), read and checked: `input` as a string, a list
/// of strings, or token ids (a list, or a list of lists; embedded as their decimal text), `model`,
/// `encoding_format` (`float` or `base64`), `dimensions`, `user`.
struct EmbeddingsRequest: Sendable {
    var model: String
    var inputs: [String]
    var base64: Bool
    var dimensions: Int?
    var user: String?

    /// Most inputs in one request, as OpenAI allows.
    static let maxInputs = 2048

    init(_ body: [String: JSONValue]) throws {
        for field in body.keys.sorted() where !["model", "input", "encoding_format", "dimensions", "user"].contains(field) && body[field] != .null {
            throw BodyFields.wrongType(field, "is not a field of an embeddings request")
        }
        guard let model = body["model"] else { throw SluiceError(.missingField, details: ["field": "model"]) }
        guard let name = model.string, !name.isEmpty else { throw BodyFields.wrongType("model", "must be a string") }
        self.model = name
        guard let input = body["input"], input != .null else { throw SluiceError(.missingField, details: ["field": "input"]) }
        inputs = try Self.inputs(input)
        switch body["encoding_format"]?.string ?? (body["encoding_format"] == nil || body["encoding_format"] == .null ? "float" : nil) {
        case "float": base64 = false
        case "base64": base64 = true
        default: throw BodyFields.wrongType("encoding_format", "must be float or base64")
        }
        if let value = body["dimensions"], value != .null {
            guard let dimensions = value.integer, (1...8192).contains(dimensions) else {
                throw BodyFields.wrongType("dimensions", "must be a whole number from 1 to 8192")
            }
            self.dimensions = dimensions
        }
        user = try BodyFields.string(body, "user")
    }

    static func inputs(_ input: JSONValue) throws -> [String] {
        if let text = input.string { return try [checked(text, index: 0)] }
        guard let items = input.array, !items.isEmpty, items.count <= maxInputs else {
            throw BodyFields.wrongType("input", "must be a string or a list of 1 to \(maxInputs) inputs")
        }
        if items.allSatisfy({ $0.integer != nil }) { return [items.map { String($0.integer!) }.joined(separator: " ")] }
        return try items.enumerated().map { index, item in
            if let text = item.string { return try checked(text, index: index) }
            if let tokens = item.array, !tokens.isEmpty, tokens.allSatisfy({ $0.integer != nil }) {
                return tokens.map { String($0.integer!) }.joined(separator: " ")
            }
            throw BodyFields.wrongType("input[\(index)]", "must be a non-empty string or a list of token ids")
        }
    }

    static func checked(_ text: String, index: Int) throws -> String {
        guard !text.isEmpty else { throw BodyFields.wrongType("input[\(index)]", "must not be empty") }
        return text
    }

    /// A vector cut to `dimensions` and scaled back to unit length (as OpenAI shortens its embeddings).
    static func shortened(_ vector: [Float], to dimensions: Int?) -> [Float] {
        guard let dimensions, dimensions < vector.count else { return vector }
        let cut = Array(vector.prefix(dimensions))
        let norm = cut.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? cut.map { $0 / norm } : cut
    }

    /// A vector as OpenAI's base64: little-endian 32-bit floats.
    static func base64(_ vector: [Float]) -> String {
        var data = Data(capacity: vector.count * 4)
        for value in vector { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data.base64EncodedString()
    }
}
