import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore
import SluiceStore

/// Usage and cost from the rollup: `GET /v1/usage` (the caller's own) and
/// `GET /admin/api/usage?tenant=&user=&from=&to=&group_by=day|user|model|deployment` for a tenant's
/// admin (the operator names any tenant), as JSON, or CSV with `Accept: text/csv`.
struct UsageRoutes {
    let jobs: JobService

    func register(v1 group: RouterGroup<SluiceRequestContext>, admin: RouterGroup<SluiceRequestContext>) {
        group.get("usage") { request, context in
            let principal = try context.requirePrincipal()
            return try await report(tenant: principal.tenant, user: principal.user, request: request)
        }
        admin.get("usage") { request, context in
            let scope = try AdminRoutes.requireAdmin(context, request: request)
            guard let tenant = scope.cacheTenant(try context.requirePrincipal()) else { throw SluiceError(.missingField, details: ["field": "tenant"]) }
            let user = try IdentityMiddleware.identifier(request.uri.queryParameters["user"].map(String.init), field: "user", limit: 256)
            return try await report(tenant: tenant, user: user, request: request)
        }
    }

    static let groupings = ["day", "user", "model", "deployment"]

    func report(tenant: String, user: String?, request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let today = Self.day(Date())
        let from = try query["from"].map { try Self.checkedDay(String($0), field: "from") } ?? String(today.prefix(8)) + "01"
        let to = try query["to"].map { try Self.checkedDay(String($0), field: "to") } ?? today
        let grouping = query["group_by"].map(String.init) ?? "day"
        guard Self.groupings.contains(grouping) else {
            throw SluiceError(.invalidParameter, details: ["field": "group_by", "reason": "must be day, user, model or deployment"])
        }
        let rows = try await jobs.store.usage(tenant: tenant, user: user, from: from, to: to)
        var groups: [String: UsageRow] = [:]
        var total = UsageRow(day: "", tenant: tenant, user: user ?? "", model: "", deployment: "")
        for row in rows {
            let key = switch grouping {
            case "user": row.user
            case "model": row.model
            case "deployment": row.deployment
            default: row.day
            }
            groups[key, default: UsageRow(day: "", tenant: tenant, user: "", model: "", deployment: "")].add(row)
            total.add(row)
        }
        let ordered = groups.keys.sorted()
        if request.headers[.accept]?.lowercased().contains("text/csv") == true {
            var csv = "\(grouping),requests,failures,prompt_tokens,completion_tokens,total_tokens,cost_usd,cache_hits,saved_tokens\n"
            for key in ordered {
                let row = groups[key]!
                csv += "\(Self.csvField(key)),\(row.requests),\(row.failures),\(row.promptTokens),\(row.completionTokens),"
                csv += "\(row.promptTokens + row.completionTokens),\(Self.dollars(row.costMicros)),\(row.cacheHits),\(row.savedTokens)\n"
            }
            return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: csv)))
        }
        return JSONResponse.make([
            "object": "usage", "tenant": tenant, "user": user as Any? ?? NSNull(), "from": from, "to": to, "group_by": grouping,
            "data": ordered.map { key in Self.object(groups[key]!).merging([grouping: key]) { $1 } },
            "total": Self.object(total),
        ])
    }

    static func object(_ row: UsageRow) -> [String: Any] {
        [
            "requests": row.requests, "failures": row.failures, "prompt_tokens": row.promptTokens, "completion_tokens": row.completionTokens,
            "total_tokens": row.promptTokens + row.completionTokens, "cost_usd": Double(row.costMicros) / 1_000_000,
            "cache_hits": row.cacheHits, "saved_tokens": row.savedTokens,
        ]
    }

    static func dollars(_ micros: Int) -> String { String(format: "%.6f", Double(micros) / 1_000_000) }

    /// A CSV field, quoted when it holds a comma, a quote or a line break; a leading `=`, `+`, `-` or `@`
    /// (a user name an app passed on) is neutralised, so a spreadsheet does not run it as a formula.
    static func csvField(_ raw: String) -> String {
        let text = raw.first.map { "=+-@".contains($0) } == true ? "'" + raw : raw
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// A UTC day, `yyyy-mm-dd`.
    static func day(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        return formatter.string(from: date)
    }

    static func checkedDay(_ raw: String, field: String) throws -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        guard raw.utf8.count == 10, let date = formatter.date(from: raw) else {
            throw SluiceError(.invalidParameter, details: ["field": field, "reason": "must be a day, yyyy-mm-dd"])
        }
        return day(date)
    }
}
