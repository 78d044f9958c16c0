import Foundation
import Hummingbird
import MultipartKit
import NIOCore
import SluiceCore

/// A `POST /v1/files` upload, as the OpenAI SDKs send it: `multipart/form-data` with the fields
/// `purpose` and `file` (its name from the part's `filename`), read by MultipartKit within the limit.
struct FileUpload: Sendable {
    var purpose: String
    var filename: String
    var content: Data

    static func read(_ request: Request, limit: Int) async throws -> FileUpload {
        let type = request.headers[.contentType] ?? ""
        guard type.lowercased().hasPrefix("multipart/form-data"), let boundary = Self.parameter("boundary", in: type), !boundary.isEmpty else {
            throw Self.wrong("the request", "must be multipart/form-data with the fields purpose and file")
        }
        var request = request
        let buffer: ByteBuffer
        do {
            // The form's own lines add a little to the file.
            buffer = try await request.collectBody(upTo: limit + 64 * 1024)
        } catch is NIOTooManyBytesError {
            throw SluiceError(.requestTooLarge, details: ["limit": String(limit)])
        }
        let parts = try Self.parts(buffer, boundary: boundary)
        guard let purposePart = parts.first(where: { $0.name == "purpose" }) else { throw SluiceError(.missingField, details: ["field": "purpose"]) }
        guard let filePart = parts.first(where: { $0.name == "file" }) else { throw SluiceError(.missingField, details: ["field": "file"]) }
        guard filePart.body.count <= limit else { throw SluiceError(.requestTooLarge, details: ["limit": String(limit)]) }
        let purpose = String(decoding: purposePart.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let filename = filePart.filename.map { String($0.prefix(255)) } ?? "upload.jsonl"
        return FileUpload(purpose: purpose, filename: filename, content: filePart.body)
    }

    struct Part {
        var name: String?
        var filename: String?
        var body = Data()
    }

    static func parts(_ buffer: ByteBuffer, boundary: String) throws -> [Part] {
        let parser = MultipartParser(boundary: boundary)
        var parts: [Part] = []
        var current = Part()
        parser.onHeader = { name, value in
            guard name.lowercased() == "content-disposition" else { return }
            current.name = Self.parameter("name", in: value)
            current.filename = Self.parameter("filename", in: value)
        }
        parser.onBody = { body in current.body.append(contentsOf: body.readableBytesView) }
        parser.onPartComplete = {
            parts.append(current)
            current = Part()
        }
        do {
            try parser.execute(buffer)
        } catch {
            throw Self.wrong("the request", "is not a well-formed multipart/form-data body")
        }
        return parts
    }

    /// A header's parameter (`boundary=…`, `name="…"`), unquoted.
    static func parameter(_ name: String, in header: String) -> String? {
        for piece in header.split(separator: ";") {
            let pair = piece.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0].lowercased() == name else { continue }
            var value = pair[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }

    static func wrong(_ field: String, _ reason: String) -> SluiceError { BodyFields.wrongType(field, reason) }
}
