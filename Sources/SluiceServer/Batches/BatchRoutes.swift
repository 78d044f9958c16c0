import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// OpenAI's Batch API (`/v1/batches`), run by Sluice itself: a batch's lines become batch-class jobs of
/// its owner, on the capacity interactive work leaves free (see `BatchRunner`). Only its owner sees a
/// batch; anyone else gets 404.
struct BatchRoutes {
    let runner: BatchRunner

    var store: any BatchStore { runner.store }

    func register(on group: RouterGroup<SluiceRequestContext>) {
        group.post("batches") { request, context in
            let owner = try context.requirePrincipal()
            let body = try await RequestBody.object(of: request, limit: 64 * 1024)
            guard let fileID = try BodyFields.string(body, "input_file_id") else { throw SluiceError(.missingField, details: ["field": "input_file_id"]) }
            guard let endpoint = try BodyFields.string(body, "endpoint") else { throw SluiceError(.missingField, details: ["field": "endpoint"]) }
            guard BatchInput.endpoints.contains(endpoint) else {
                throw BodyFields.wrongType("endpoint", "must be one of \(BatchInput.endpoints.joined(separator: ", "))")
            }
            let window = try BodyFields.string(body, "completion_window") ?? "24h"
            guard let hours = Self.hours(window) else {
                throw BodyFields.wrongType("completion_window", "must be a number of hours from 1 to 168, written like 24h")
            }
            let metadata = try Self.metadata(body["metadata"])
            guard let file = try await store.file(id: fileID), owner.owns(file.owner), file.purpose == "batch" else {
                throw BodyFields.wrongType("input_file_id", "must name a file of yours uploaded with purpose batch")
            }
            let now = Date()
            let batch = BatchRecord(
                id: RandomID.make("batch_", words: 2), owner: owner, endpoint: endpoint, inputFileID: file.id, completionWindow: window,
                metadata: metadata, createdAt: now, expiresAt: now.addingTimeInterval(Double(hours) * 3600))
            try await store.saveBatch(batch)
            runner.wake()
            return JSONResponse.make(Self.object(batch))
        }
        group.get("batches") { request, context in
            let owner = try context.requirePrincipal()
            let limit = try FileRoutes.limit(request, default: 20, max: 100)
            let after = request.uri.queryParameters["after"].map(String.init)
            let found = try await store.batches(userKey: owner.userKey, after: after, limit: limit + 1)
            let page = Array(found.prefix(limit))
            return JSONResponse.make([
                "object": "list", "data": page.map(Self.object), "first_id": page.first?.id ?? NSNull(), "last_id": page.last?.id ?? NSNull(),
                "has_more": found.count > limit,
            ] as [String: Any])
        }
        group.get("batches/{id}") { _, context in
            JSONResponse.make(Self.object(try await batch(context)))
        }
        group.post("batches/{id}/cancel") { _, context in
            let batch = try await batch(context)
            guard batch.status.isActive else { return JSONResponse.make(Self.object(batch)) }
            try await store.cancelBatch(id: batch.id, at: Date())
            runner.wake()
            return JSONResponse.make(Self.object(try await store.batch(id: batch.id) ?? batch))
        }
    }

    func batch(_ context: SluiceRequestContext) async throws -> BatchRecord {
        let id = context.parameters.get("id") ?? ""
        guard let batch = try await store.batch(id: id), try context.requirePrincipal().owns(batch.owner) else {
            throw SluiceError(.objectNotFound, details: ["object": "batch", "object_mn": "batch", "id": String(id.prefix(64))])
        }
        return batch
    }

    /// `24h` → 24; nil unless 1 to 168 hours.
    static func hours(_ window: String) -> Int? {
        guard window.hasSuffix("h"), let hours = Int(window.dropLast()), (1...168).contains(hours) else { return nil }
        return hours
    }

    /// Up to 16 string pairs, keys up to 64 characters, values up to 512 (OpenAI's limits).
    static func metadata(_ value: JSONValue?) throws -> [String: String]? {
        guard let value, value != .null else { return nil }
        guard let object = value.object, object.count <= 16 else { throw BodyFields.wrongType("metadata", "must be an object of at most 16 strings") }
        var metadata: [String: String] = [:]
        for (key, value) in object {
            guard key.count <= 64, let text = value.string, text.count <= 512 else {
                throw BodyFields.wrongType("metadata", "keys must be at most 64 characters and values strings of at most 512")
            }
            metadata[key] = text
        }
        return metadata
    }

    /// A batch as OpenAI shows it.
    static func object(_ batch: BatchRecord) -> [String: Any] {
        func time(_ date: Date?) -> Any { date.map { Int($0.timeIntervalSince1970) } ?? NSNull() }
        let errors: Any = batch.errors.map { errors in
            [
                "object": "list",
                "data": errors.map { ["code": $0.code, "message": $0.message, "line": $0.line ?? NSNull(), "param": NSNull()] as [String: Any] },
            ] as [String: Any]
        } ?? NSNull()
        return [
            "id": batch.id, "object": "batch", "endpoint": batch.endpoint, "errors": errors, "input_file_id": batch.inputFileID,
            "completion_window": batch.completionWindow, "status": batch.status.rawValue, "output_file_id": batch.outputFileID ?? NSNull(),
            "error_file_id": batch.errorFileID ?? NSNull(), "created_at": Int(batch.createdAt.timeIntervalSince1970),
            "in_progress_at": time(batch.inProgressAt), "expires_at": time(batch.expiresAt), "finalizing_at": time(batch.finalizingAt),
            "completed_at": time(batch.completedAt), "failed_at": time(batch.failedAt), "expired_at": time(batch.expiredAt),
            "cancelling_at": time(batch.cancellingAt), "cancelled_at": time(batch.cancelledAt),
            "request_counts": ["total": batch.total, "completed": batch.completed, "failed": batch.failed],
            "metadata": batch.metadata ?? NSNull(),
        ]
    }
}
