import Foundation
import SluiceCore

/// Reading the members of a JSON body, each problem a 400 that names the field: the front doors'
/// (Responses, Messages, embeddings) shared checks.
enum BodyFields {
    /// A field a text-only front door cannot honour: refused by name, pointing to chat completions.
    static func textOnly(_ field: String, api: String) -> SluiceError {
        SluiceError(.invalidParameter, details: [
            "field": field, "reason": "Sluice's \(api) API answers with text only; send tools and other options to /v1/chat/completions",
            "reason_mn": "Sluice-ийн \(api) API зөвхөн текстээр хариулна; хэрэгсэл болон бусад тохиргоог /v1/chat/completions руу илгээнэ үү",
        ])
    }

    /// Sluice's own `mock` script, when given.
    static func mock(_ body: [String: JSONValue]) throws -> MockScript? {
        guard let mock = body["mock"], mock != .null else { return nil }
        do {
            return try JSONDecoder().decode(MockScript.self, from: JSONEncoder().encode(mock))
        } catch {
            throw wrongType("mock", "is not a mock script")
        }
    }

    static func string(_ body: [String: JSONValue], _ field: String) throws -> String? {
        guard let value = body[field], value != .null else { return nil }
        guard let text = value.string else { throw wrongType(field, "must be a string") }
        return text
    }

    static func number(_ body: [String: JSONValue], _ field: String) throws -> Double? {
        guard let value = body[field], value != .null else { return nil }
        guard let number = value.number else { throw wrongType(field, "must be a number") }
        return number
    }

    static func bool(_ body: [String: JSONValue], _ field: String) throws -> Bool? {
        guard let value = body[field], value != .null else { return nil }
        guard case .bool(let flag) = value else { throw wrongType(field, "must be true or false") }
        return flag
    }

    /// A 400 naming the field and what is wrong with it.
    static func wrongType(_ field: String, _ reason: String) -> SluiceError {
        SluiceError(.invalidParameter, details: ["field": field, "reason": reason])
    }
}
