import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SluiceCore
import SluiceStore

/// Turns every error into OpenAI's error shape, in the caller's language, without internals.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as SluiceError {
            return Self.response(error, request: request)
        } catch is NIOTooManyBytesError {
            return Self.response(SluiceError(.requestTooLarge, details: ["limit": "?"]), request: request)
        } catch let error as HTTPError {
            let code: SluiceError.Code = switch error.status.code {
            case 404, 405: .notFound
            case 413: .requestTooLarge
            case 400: .invalidJSON
            default: .internalError
            }
            return Self.response(SluiceError(code, details: ["reason": "bad request", "limit": "?"]), request: request)
        } catch let error where StoreFailure.isStoreError(error) {
            // The store cannot be read or written now: the caller retries in a second.
            context.logger.error("request failed: the store is unavailable", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            return Self.response(StoreHealth.refusal(for: error), request: request)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            return Self.response(SluiceError(.internalError), request: request)
        }
    }

    /// The response for an error, in the language the request prefers.
    static func response(_ error: SluiceError, request: Request, headers: HTTPFields = [:]) -> Response {
        let language = Language.from(acceptLanguage: request.headers[.acceptLanguage])
        var headers = headers
        for (name, value) in error.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        return response(
            code: error.code, message: error.message(language: language), retryAfter: error.retryAfter, headers: headers,
            anthropic: speaksAnthropic(request))
    }

    /// Whether a request came through Anthropic's Messages API, whose clients read Anthropic's error shape.
    static func speaksAnthropic(_ request: Request) -> Bool {
        request.uri.path == "/v1/messages" || request.uri.path.hasPrefix("/v1/messages/")
    }

    /// The response for an error code with a message: OpenAI's shape, or Anthropic's.
    static func response(
        code: SluiceError.Code, message: String, retryAfter: Int? = nil, headers extra: HTTPFields = [:], anthropic: Bool = false
    ) -> Response {
        var headers = extra
        headers[.contentType] = "application/json"
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        let body = anthropic
            ? anthropicErrorObject(code: code, message: message)
            : errorObject(code: code.rawValue, message: message, type: code.type, retryAfter: retryAfter)
        return Response(status: .init(code: code.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: ServerSentEvents.json(body))))
    }

    /// Anthropic's error object: `{"type": "error", "error": {"type", "message"}}`, with Sluice's code beside.
    static func anthropicErrorObject(code: SluiceError.Code, message: String) -> JSONValue {
        let type = switch code.status {
        case 400, 409, 415: "invalid_request_error"
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 413: "request_too_large"
        case 429: "rate_limit_error"
        case 503, 507: "overloaded_error"
        default: "api_error"
        }
        return ["type": "error", "error": ["type": .string(type), "message": .string(message), "code": .string(code.rawValue)]]
    }

    /// OpenAI's error object.
    static func errorObject(code: String, message: String, type: String, retryAfter: Int? = nil) -> JSONValue {
        var object: [String: JSONValue] = [
            "error": ["message": .string(message), "type": .string(type), "code": .string(code), "param": .null]
        ]
        if let retryAfter { object["retry_after"] = .int(Int64(retryAfter)) }
        return .object(object)
    }
}
