import Foundation
import HTTPTypes
import Hummingbird
import SluiceCore
import SluiceStore

/// History: `GET /v1/jobs` lists the caller's own jobs of every kind (chat, responses, messages),
/// newest first, as an OpenAI list; `DELETE /v1/jobs` erases the caller's ended ones (a student's
/// right to erase); `GET /admin/api/jobs?tenant=&user=` lists a tenant's, or one of its users', for
/// its admin (the operator names any tenant). Jobs are kept `retention.historyDays` after they end
/// (a plan's `historyDays` wins), their streams only `retention.streamSeconds`.
struct HistoryRoutes {
    let jobs: JobService

    func register(v1 group: RouterGroup<SluiceRequestContext>, admin: RouterGroup<SluiceRequestContext>) {
        group.get("jobs") { request, context in
            let principal = try context.requirePrincipal()
            return try await page(.user(principal.userKey), request: request)
        }
        group.delete("jobs") { _, context in
            let principal = try context.requirePrincipal()
            let erased = try await jobs.store.erase(user: principal.userKey)
            return JSONResponse.make(["object": "list.deleted", "deleted": erased])
        }
        admin.get("jobs") { request, context in
            let scope = try AdminRoutes.requireAdmin(context, request: request)
            guard let tenant = scope.cacheTenant(try context.requirePrincipal()) else { throw SluiceError(.missingField, details: ["field": "tenant"]) }
            let user = try IdentityMiddleware.identifier(request.uri.queryParameters["user"].map(String.init), field: "user", limit: 256)
            return try await page(user.map { .user(tenant + "\u{1F}" + $0) } ?? .tenant(tenant), request: request)
        }
    }

    /// One page: `limit` (1–100, default 20), `after` (the last id of the previous page), `since` (a date,
    /// `yyyy-mm-dd` or seconds since 1970).
    func page(_ scope: HistoryScope, request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let limit = try Self.limit(query["limit"].map(String.init))
        let after = try IdentityMiddleware.identifier(query["after"].map(String.init), field: "after", limit: 64)
        let since = try query["since"].map { try Self.date(String($0), field: "since") }
        let found = try await jobs.store.history(scope, before: after, since: since, limit: limit + 1)
        let page = Array(found.prefix(limit))
        let data = page.map { JobRoutes.historyObject($0) }
        return JSONResponse.make([
            "object": "list", "data": data, "first_id": page.first?.id as Any? ?? NSNull(), "last_id": page.last?.id as Any? ?? NSNull(),
            "has_more": found.count > limit,
        ])
    }

    static func limit(_ raw: String?) throws -> Int {
        guard let raw else { return 20 }
        guard let value = Int(raw), (1...100).contains(value) else {
            throw SluiceError(.invalidParameter, details: ["field": "limit", "reason": "must be a whole number from 1 to 100"])
        }
        return value
    }

    /// A date as `yyyy-mm-dd` (UTC) or seconds since 1970.
    static func date(_ raw: String, field: String) throws -> Date {
        if let seconds = Double(raw), seconds.isFinite, seconds >= 0, seconds < 1e11 { return Date(timeIntervalSince1970: seconds) }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        guard raw.utf8.count <= 10, let date = formatter.date(from: raw) else {
            throw SluiceError(.invalidParameter, details: ["field": field, "reason": "must be a date (yyyy-mm-dd) or seconds since 1970"])
        }
        return date
    }
}

extension JobRoutes {
    /// A job as history (and an export) shows it: the job object, what kind of request it was, its question.
    static func historyObject(_ job: Job) -> [String: Any] {
        var object = object(job, queuePosition: nil)
        object["kind"] = (job.origin ?? .chat).kind
        object["question"] = job.request.messages.last { $0.role == "user" }?.content ?? ""
        if let response = job.origin?.response { object["response_id"] = ResponseDetails.responseID(forJob: job.id); object["metadata"] = response.metadata }
        object["user"] = job.owner.user
        return object
    }
}
