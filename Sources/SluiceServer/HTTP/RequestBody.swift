import Foundation
import Hummingbird
import NIOCore
import SluiceCore

/// A request's JSON body, read within the size limit: every front door reads its body here.
enum RequestBody {
    /// The body's bytes: JSON (or no content type), at most `limit` bytes, valid UTF-8.
    static func data(of request: Request, limit: Int) async throws -> Data {
        if let type = request.headers[.contentType], !type.lowercased().hasPrefix("application/json") {
            throw SluiceError(.unsupportedMediaType)
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw SluiceError(.requestTooLarge, details: ["limit": String(limit)])
        }
        let data = Data(buffer.readableBytesView)
        guard String(validating: data, as: UTF8.self) != nil else { throw SluiceError(.invalidEncoding) }
        return data
    }

    /// The body as one JSON object.
    static func object(of request: Request, limit: Int) async throws -> [String: JSONValue] {
        let data = try await data(of: request, limit: limit)
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw SluiceError(.invalidJSON, details: ["reason": "the body could not be parsed"])
        }
        guard let object = value.object else { throw SluiceError(.invalidJSON, details: ["reason": "the body must be a JSON object"]) }
        return object
    }
}
