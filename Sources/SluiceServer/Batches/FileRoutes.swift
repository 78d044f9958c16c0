import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// OpenAI's Files API for batches (`/v1/files`): upload a JSON Lines file of requests (`purpose:
/// batch`, checked line by line), read it back, list, delete; a batch's output and error files
/// (`batch_output`) are read here too. A file is its owner's: anyone else gets 404. Files are kept in the
/// store for `batches.fileRetentionDays`.
struct FileRoutes {
    let store: any BatchStore
    let settings: BatchSettings

    func register(on group: RouterGroup<SluiceRequestContext>) {
        group.post("files") { request, context in
            let owner = try context.requirePrincipal()
            let upload = try await FileUpload.read(request, limit: settings.maxFileBytes)
            guard upload.purpose == "batch" else {
                throw BodyFields.wrongType("purpose", "must be batch: Sluice keeps files for the Batch API only")
            }
            if let refusal = BatchInput(upload.content, maxLines: settings.maxLines).refusal { throw refusal }
            let now = Date()
            let file = StoredFile(
                id: RandomID.make("file-", words: 2), owner: owner, purpose: "batch", filename: upload.filename, bytes: upload.content.count,
                createdAt: now, expiresAt: now.addingTimeInterval(settings.fileRetentionDays * 86_400))
            try await store.addFile(file, content: upload.content)
            return JSONResponse.make(Self.object(file))
        }
        group.get("files") { request, context in
            let owner = try context.requirePrincipal()
            let purpose = request.uri.queryParameters["purpose"].map(String.init)
            let limit = try Self.limit(request, default: 100, max: 10_000)
            let files = try await store.files(userKey: owner.userKey, purpose: purpose, limit: limit)
            return JSONResponse.make(["object": "list", "data": files.map(Self.object), "has_more": false] as [String: Any])
        }
        group.get("files/{id}") { _, context in
            JSONResponse.make(Self.object(try await file(context)))
        }
        group.get("files/{id}/content") { _, context in
            let file = try await file(context)
            guard let content = try await store.fileContent(id: file.id) else { throw Self.notFound(file.id) }
            return Response(
                status: .ok, headers: [.contentType: "application/jsonl", .contentDisposition: "attachment; filename=\"\(file.id).jsonl\""],
                body: .init(byteBuffer: .init(bytes: content)))
        }
        group.delete("files/{id}") { _, context in
            let file = try await file(context)
            guard try await store.deleteFile(id: file.id) else { throw Self.notFound(file.id) }
            return JSONResponse.make(["id": file.id, "object": "file", "deleted": true] as [String: Any])
        }
    }

    /// The file the path names, if it is the caller's.
    func file(_ context: SluiceRequestContext) async throws -> StoredFile {
        let id = context.parameters.get("id") ?? ""
        guard let file = try await store.file(id: id), try context.requirePrincipal().owns(file.owner) else { throw Self.notFound(id) }
        return file
    }

    static func notFound(_ id: String) -> SluiceError {
        SluiceError(.objectNotFound, details: ["object": "file", "object_mn": "файл", "id": String(id.prefix(64))])
    }

    /// `?limit=`, checked.
    static func limit(_ request: Request, default value: Int, max: Int) throws -> Int {
        guard let raw = request.uri.queryParameters["limit"] else { return value }
        guard let limit = Int(raw), (1...max).contains(limit) else { throw BodyFields.wrongType("limit", "must be a whole number from 1 to \(max)") }
        return limit
    }

    /// A file as OpenAI shows it.
    static func object(_ file: StoredFile) -> [String: Any] {
        [
            "id": file.id, "object": "file", "bytes": file.bytes, "created_at": Int(file.createdAt.timeIntervalSince1970),
            "expires_at": Int(file.expiresAt.timeIntervalSince1970), "filename": file.filename, "purpose": file.purpose,
            "status": "processed", "status_details": NSNull(),
        ]
    }
}
