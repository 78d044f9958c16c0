import Foundation
import HTTPTypes
import Hummingbird
import SluiceCore

/// Where HTTP ends on the request path: a route reads the request, its owner and its options, and hands
/// them to `RequestPipeline.accept`; the answer's headers come back as HTTP fields.
extension RequestPipeline {
    /// Reads, checks and accepts a chat request from an HTTP request; it streams when its body asks to.
    func accept(_ request: Request, context: SluiceRequestContext) async throws -> Acceptance {
        // The database is known to be down: refused at once rather than left reading a body for nothing.
        if jobs.health.refusesAtOnce { throw SluiceError(.storageUnavailable, retryAfter: 1) }
        let chat = try await ChatRequest.decode(from: request, configuration: jobs.configuration, router: jobs.router)
        return try await accept(chat, headers: request.headers, context: context, origin: nil, streams: chat.stream == true)
    }

    /// Accepts a chat request another front door (Responses, Messages, jobs) read and checked. An answer
    /// that `streams` counts against the caller's open streams.
    func accept(
        _ chat: ChatRequest, headers: HTTPFields, context: SluiceRequestContext, origin: JobOrigin?, background: Background = Background(),
        streams: Bool
    ) async throws -> Acceptance {
        let owner = try context.principal(asking: chat, headers: headers)
        return try await accept(
            chat, owner: owner, options: try RequestOptions(headers), origin: origin, background: background,
            streamFor: streams ? try context.requirePrincipal() : nil, logger: context.logger)
    }
}

extension RequestPipeline.Acceptance {
    /// The headers the answer carries (admission's rate-limit headers, the cache's verdict) as HTTP fields.
    var fields: HTTPFields { HTTPFields(headers) }
}

extension SluiceRequestContext {
    /// Whom a request runs for: the caller, named down to its end user by the body's `user` when the
    /// caller may name its users and no `X-Sluice-User` header did.
    func principal(asking chat: ChatRequest, headers: HTTPFields) throws -> Principal {
        var owner = try requirePrincipal()
        if headers[.sluiceUser] == nil, caller?.namesItsUser ?? true, let user = chat.user, !user.isEmpty {
            owner.user = String(user.prefix(256))
        }
        return owner
    }
}

extension HTTPFields {
    /// Fields from names and values (admission's rate-limit headers, the cache's verdict); a name that
    /// is not a valid field name is left out.
    init(_ headers: [String: String]) {
        self.init()
        for (name, value) in headers {
            if let field = HTTPField.Name(name) { self[field] = value }
        }
    }
}
