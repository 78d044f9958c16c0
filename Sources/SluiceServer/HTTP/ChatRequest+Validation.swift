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
        if let type = request.headers[.contentType], !type.lowercased().hasPrefix("application/json") {
            throw SluiceError(.unsupportedMediaType)
        }
        var request = request
        let limit = configuration.server.maxBodyBytes
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw SluiceError(.requestTooLarge, details: ["limit": String(limit)])
        }
        let data = Data(buffer.readableBytesView)
        guard String(validating: data, as: UTF8.self) != nil else { throw SluiceError(.invalidEncoding) }
        let chat: ChatRequest
        do {
            chat = try JSONDecoder().decode(ChatRequest.self, from: data)
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
        if let temperature, !(0...2).contains(temperature) {
            throw SluiceError(.invalidParameter, details: ["field": "temperature", "reason": "must be between 0 and 2"])
        }
    }
}
