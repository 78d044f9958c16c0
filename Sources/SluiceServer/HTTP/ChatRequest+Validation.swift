import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore
import SluiceProviders

extension ChatRequest {
    static let roles: Set<String> = ["system", "developer", "user", "assistant", "tool"]

    /// Reads and checks a chat request body; every problem becomes a precise 4xx and nothing is stored.
    /// - Parameters:
    ///   - request: the HTTP request.
    ///   - configuration: body and request limits.
    ///   - router: the served model aliases.
    ///   - anyModel: accept model names the router does not serve (the mock upstream answers to every name).
    static func decode(from request: Request, configuration: SluiceConfiguration, router: ProviderRouter, anyModel: Bool = false) async throws -> ChatRequest {
        let data = try await RequestBody.data(of: request, limit: configuration.server.maxBodyBytes)
        return try decode(data: data, configuration: configuration, router: router, anyModel: anyModel)
    }

    /// Reads and checks a chat request body's bytes (a request's, or a batch line's).
    static func decode(data: Data, configuration: SluiceConfiguration, router: ProviderRouter, anyModel: Bool = false) throws -> ChatRequest {
        let chat: ChatRequest
        do {
            chat = try ChatRequest.read(data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw SluiceError(.missingField, details: ["field": key.stringValue])
        } catch let DecodingError.typeMismatch(_, context) where context.codingPath.isEmpty {
            throw SluiceError(.invalidJSON, details: ["reason": "the body must be a JSON object"])
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw SluiceError(.invalidParameter, details: ["field": field, "reason": "wrong type"])
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw SluiceError(.invalidParameter, details: ["field": field, "reason": "wrong value"])
        } catch {
            throw SluiceError(.invalidJSON, details: ["reason": "the body could not be parsed"])
        }
        try chat.validate(configuration: configuration, router: router, anyModel: anyModel)
        return chat
    }

    func validate(configuration: SluiceConfiguration, router: ProviderRouter, anyModel: Bool) throws {
        guard !model.isEmpty else { throw SluiceError(.missingField, details: ["field": "model"]) }
        guard anyModel || router.serves(model) else {
            throw SluiceError(.modelNotFound, details: ["model": String(model.prefix(100)), "models": router.aliases.joined(separator: ", ")])
        }
        guard !messages.isEmpty else { throw SluiceError(.invalidMessages, details: ["reason": "must hold at least one message"]) }
        guard messages.count <= configuration.limits.maxMessages else {
            throw SluiceError(.invalidMessages, details: ["reason": "holds more than \(configuration.limits.maxMessages) messages"])
        }
        for (index, message) in messages.enumerated() where !Self.roles.contains(message.role) {
            throw SluiceError(.invalidMessages, details: ["reason": "message \(index) has the unknown role '\(message.role.prefix(32))'"])
        }
        if let cap = tokenCap, cap < 1 || cap > configuration.limits.maxTokens {
            throw SluiceError(.invalidMaxTokens, details: ["limit": String(configuration.limits.maxTokens)])
        }
        try Self.check("temperature", temperature, in: 0...2)
        try Self.check("top_p", topP, in: 0...1)
        try Self.check("frequency_penalty", extra["frequency_penalty"], in: -2...2)
        try Self.check("presence_penalty", extra["presence_penalty"], in: -2...2)
        try Self.check("top_logprobs", extra["top_logprobs"], in: 0...20, whole: true)
        if let seed = extra["seed"], seed != .null, seed.integer == nil {
            throw SluiceError(.invalidParameter, details: ["field": "seed", "reason": "must be a whole number"])
        }
        if let n, !(1...Self.maxChoices).contains(n) {
            throw SluiceError(.invalidParameter, details: ["field": "n", "reason": "must be between 1 and \(Self.maxChoices)"])
        }
        if let user, user.count > 256 || user.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw SluiceError(.invalidParameter, details: ["field": "user", "reason": "must be at most 256 characters, without control characters"])
        }
        if let logprobs = extra["logprobs"], logprobs != .null, !(logprobs == .bool(true) || logprobs == .bool(false)) {
            throw SluiceError(.invalidParameter, details: ["field": "logprobs", "reason": "must be true or false"])
        }
        if let stop = extra["stop"], stop != .null {
            let stops = stop.string.map { [$0] } ?? stop.array?.compactMap(\.string)
            guard let stops, stops.count == (stop.array?.count ?? 1), stops.count <= 4 else {
                throw SluiceError(.invalidParameter, details: ["field": "stop", "reason": "must be a string or a list of at most 4 strings"])
            }
        }
        for field in ["tools", "functions"] where extra[field] != nil && extra[field] != .null {
            guard let tools = extra[field]?.array, tools.allSatisfy({ $0.object != nil }) else {
                throw SluiceError(.invalidParameter, details: ["field": field, "reason": "must be a list of objects"])
            }
        }
        if let format = extra["response_format"], format != .null, format["type"]?.string == nil {
            throw SluiceError(.invalidParameter, details: ["field": "response_format", "reason": "must be an object with a type"])
        }
        if let bias = extra["logit_bias"], bias != .null {
            guard let members = bias.object, members.values.allSatisfy({ ($0.number.map { (-100...100).contains($0) }) ?? false }) else {
                throw SluiceError(.invalidParameter, details: ["field": "logit_bias", "reason": "must map token ids to numbers between -100 and 100"])
            }
        }
        if !anyModel, let (deployment, field, reason) = router.unsupported(self) {
            throw SluiceError(.unsupportedParameter, details: ["field": field, "model": model, "deployment": deployment, "reason": reason])
        }
    }

    /// Most choices one request may ask for (`n`): each is a whole answer to pay for.
    static let maxChoices = 16

    /// Checks that a number, when given, lies in a range (and is whole, when asked).
    static func check(_ field: String, _ value: Double?, in range: ClosedRange<Double>, whole: Bool = false) throws {
        guard let value else { return }
        guard range.contains(value), !whole || value.rounded() == value else {
            func text(_ bound: Double) -> String { bound.rounded() == bound ? String(Int(bound)) : String(bound) }
            let bounds = "\(text(range.lowerBound)) and \(text(range.upperBound))"
            throw SluiceError(.invalidParameter, details: ["field": field, "reason": "must be \(whole ? "a whole number " : "")between \(bounds)"])
        }
    }

    static func check(_ field: String, _ value: JSONValue?, in range: ClosedRange<Double>, whole: Bool = false) throws {
        guard let value, value != .null else { return }
        guard let number = value.number else {
            throw SluiceError(.invalidParameter, details: ["field": field, "reason": "must be a number"])
        }
        try check(field, number, in: range, whole: whole)
    }
}
