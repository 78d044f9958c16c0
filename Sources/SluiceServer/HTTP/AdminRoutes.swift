import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCache
import SluiceCore
import SluiceProviders
import SluiceStore

/// `/admin/api`: the tier and mode, setting a mode by hand, the cache, the audit trail. Needs an admin
/// key: a tenant's admin acts on its own tenant (its mode, its cache, its audit records), the operator
/// on every tenant (a mode set without `?tenant=` or `X-Sluice-Tenant` applies to all of them).
struct AdminRoutes {
    let jobs: JobService
    let audit: AuditTrail

    func register(on group: RouterGroup<SluiceRequestContext>) {
        group.get("status") { request, context in
            let scope = try Self.requireAdmin(context, request: request)
            return status(tenant: scope.tenant)
        }
        group.put("mode") { request, context in
            let scope = try Self.requireAdmin(context, request: request)
            var request = request
            let body = try await request.collectBody(upTo: 64 * 1024)
            let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]
            guard let object, object.keys.contains("mode") else {
                throw SluiceError(.missingField, details: ["field": "mode"])
            }
            let mode = try IdentityMiddleware.identifier(object["mode"] as? String, field: "mode", limit: 64)
            try await jobs.admission.setMode(.some(mode), tenant: scope.tenant ?? "", in: jobs.store)
            await audit.record(action: "mode set", caller: scope.caller, tenant: scope.tenant, from: context.clientAddress, detail: mode ?? "none")
            return status(tenant: scope.tenant)
        }
        group.delete("mode") { request, context in
            let scope = try Self.requireAdmin(context, request: request)
            try await jobs.admission.setMode(nil, tenant: scope.tenant ?? "", in: jobs.store)
            await audit.record(action: "mode cleared", caller: scope.caller, tenant: scope.tenant, from: context.clientAddress, detail: "calendar")
            return status(tenant: scope.tenant)
        }
        group.delete("cache") { request, context in
            let scope = try Self.requireAdmin(context, request: request)
            let query = request.uri.queryParameters
            // An empty namespace is the default one.
            let namespace = try query["namespace"].map { try IdentityMiddleware.identifier(String($0), field: "namespace", limit: 256) ?? "" }
            let tag = try IdentityMiddleware.identifier(query["tag"].map(String.init), field: "tag", limit: 256)
            let key = try IdentityMiddleware.identifier(query["key"].map(String.init), field: "key", limit: 256)
            guard namespace != nil || tag != nil || key != nil else {
                throw SluiceError(.missingField, details: ["field": "namespace, tag or key"])
            }
            guard let tenant = scope.cacheTenant(try context.requirePrincipal()) else { throw SluiceError(.missingField, details: ["field": "tenant"]) }
            let removed = try await jobs.cache.invalidate(tenant: tenant, namespace: namespace, tag: tag, key: key)
            await audit.record(
                action: "cache invalidated", caller: scope.caller, tenant: tenant, from: context.clientAddress,
                detail: "namespace=\(namespace ?? "-") tag=\(tag ?? "-") key=\(key ?? "-") removed=\(removed)")
            return JSONResponse.make(["removed": removed])
        }
        group.post("cache") { request, context in
            let scope = try Self.requireAdmin(context, request: request)
            var principal = try context.requirePrincipal()
            guard let tenant = scope.cacheTenant(principal) else { throw SluiceError(.missingField, details: ["field": "tenant"]) }
            principal.tenant = tenant
            let response = try await importEntry(request, principal: principal)
            await audit.record(action: "cache imported", caller: scope.caller, tenant: principal.tenant, from: context.clientAddress, detail: "one entry")
            return response
        }
        group.get("audit") { request, context in
            let scope = try Self.requireAdmin(context, request: request)
            let query = request.uri.queryParameters
            let after = query["after"].flatMap { Int64($0) } ?? 0
            let limit = min(1000, max(1, query["limit"].flatMap { Int($0) } ?? 100))
            let records = try await audit.records(after: after, limit: limit + 1, tenant: scope.tenant)
            return JSONResponse.make([
                "object": "list", "data": records.prefix(limit).map(\.json), "has_more": records.count > limit,
                "last_seq": records.prefix(limit).last?.seq ?? after,
            ] as [String: Any])
        }
    }

    /// Who an admin request acts as, and on which tenant (nil: every tenant, the operator's).
    struct Scope {
        var caller: String
        var tenant: String?
        var local = false

        /// Whose cache an action touches: the scope's tenant (the operator must name one); in local
        /// development, the local tenant.
        func cacheTenant(_ principal: Principal) -> String? {
            tenant ?? (local ? principal.tenant : nil)
        }
    }

    /// Refuses callers that may not administer; a tenant's admin is limited to its tenant, the operator
    /// (and local development) may name one with `?tenant=` or `X-Sluice-Tenant`.
    static func requireAdmin(_ context: SluiceRequestContext, request: Request) throws -> Scope {
        let principal = try context.requirePrincipal()
        guard let caller = context.caller, caller.administers(principal.tenant, role: principal.role) else {
            throw IdentityMiddleware.forbidden("this needs an admin key", "үүнд админы түлхүүр шаардлагатай")
        }
        if let own = caller.adminTenant { return Scope(caller: caller.description, tenant: own) }
        let named = try IdentityMiddleware.identifier(
            request.uri.queryParameters["tenant"].map(String.init) ?? request.headers[.sluiceTenant], field: "tenant", limit: 128)
        return Scope(caller: caller.description, tenant: named, local: caller == .local)
    }

    func status(tenant: String?) -> Response {
        let now = jobs.admission.clock()
        let (queued, running) = jobs.scheduler.counts
        let mode = jobs.admission.mode(at: now, tenant: tenant ?? "")
        let deployments = jobs.router.status(now: now).map { status -> [String: Any] in
            [
                "alias": status.alias, "deployment": status.deployment, "in_flight": status.inFlight, "breaker": status.breaker,
                "cooling_seconds": status.coolingUntil.map { $0.timeIntervalSince(now) } ?? 0,
            ]
        }
        return JSONResponse.make([
            "tier": jobs.admission.tier(at: now, tenant: tenant ?? "").name, "mode": mode?.name ?? NSNull(),
            "mode_source": jobs.admission.modeSource(tenant: tenant ?? ""), "tenant": tenant ?? NSNull(),
            "queued": queued, "running": running, "deployments": deployments,
            "cluster": ["nodes": jobs.router.currentShare.nodes, "rank": jobs.router.currentShare.rank],
        ] as [String: Any])
    }

    /// Imports an answered question (cache warming): `{"question" | "messages", "model", "namespace", "answer", "tags"}`.
    func importEntry(_ request: Request, principal: Principal) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: jobs.configuration.server.maxBodyBytes)
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] else {
            throw SluiceError(.invalidJSON, details: ["reason": "the body must be a JSON object"])
        }
        guard let answer = object["answer"] as? String, !answer.isEmpty else { throw SluiceError(.missingField, details: ["field": "answer"]) }
        let messages: [ChatMessage]
        if let question = object["question"] as? String {
            messages = [ChatMessage(role: "user", content: question)]
        } else if let list = object["messages"] as? [[String: String]] {
            messages = list.compactMap { message in message["role"].map { ChatMessage(role: $0, content: message["content"] ?? "") } }
        } else {
            throw SluiceError(.missingField, details: ["field": "question"])
        }
        let model = object["model"] as? String ?? "default"
        let namespace = object["namespace"] as? String ?? ""
        let chat = ChatRequest(model: model, messages: messages)
        try chat.validate(configuration: jobs.configuration, router: jobs.router, anyModel: false)
        let key = CacheKey.exact(chat, tenant: principal.tenant, namespace: namespace)
        let usage = Usage(
            promptTokens: messages.reduce(0) { $0 + Usage.estimateTokens($1.content) }, completionTokens: Usage.estimateTokens(answer))
        let entry = jobs.cache.entry(
            key: key, tenant: principal.tenant, model: model, namespace: namespace, tags: object["tags"] as? [String] ?? [], text: answer,
            finishReason: "stop", usage: usage)
        try await jobs.cache.store(entry)
        return JSONResponse.make(["key": key, "namespace": namespace], status: .created)
    }
}
