import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCache
import SluiceCore
import SluiceProviders
import SluiceStore

/// `/admin/api`: the tier and mode, and setting a mode by hand. Needs the admin role.
struct AdminRoutes {
    let jobs: JobService

    func register(on group: RouterGroup<SluiceRequestContext>) {
        group.get("status") { _, context in
            try Self.requireAdmin(context)
            return status()
        }
        group.put("mode") { request, context in
            try Self.requireAdmin(context)
            var request = request
            let body = try await request.collectBody(upTo: 64 * 1024)
            let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any]
            guard let object, object.keys.contains("mode") else {
                throw SluiceError(.missingField, details: ["field": "mode"])
            }
            jobs.admission.force(mode: .some(object["mode"] as? String))
            return status()
        }
        group.delete("mode") { _, context in
            try Self.requireAdmin(context)
            jobs.admission.force(mode: nil)
            return status()
        }
        group.delete("cache") { request, context in
            try Self.requireAdmin(context)
            let query = request.uri.queryParameters
            let namespace = query["namespace"].map(String.init)
            let tag = query["tag"].map(String.init)
            let key = query["key"].map(String.init)
            guard namespace != nil || tag != nil || key != nil else {
                throw SluiceError(.missingField, details: ["field": "namespace, tag or key"])
            }
            let removed = try await jobs.cache.invalidate(tenant: try context.requirePrincipal().tenant, namespace: namespace, tag: tag, key: key)
            return JSONResponse.make(["removed": removed])
        }
        group.post("cache") { request, context in
            try Self.requireAdmin(context)
            return try await importEntry(request, principal: try context.requirePrincipal())
        }
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

    static func requireAdmin(_ context: SluiceRequestContext) throws {
        guard try context.requirePrincipal().role == "admin" else { throw SluiceError(.forbidden) }
    }

    func status() -> Response {
        let now = jobs.admission.clock()
        let (queued, running) = jobs.scheduler.counts
        let mode = jobs.admission.mode(at: now)
        let deployments = jobs.router.status(now: now).map { status -> [String: Any] in
            [
                "alias": status.alias, "deployment": status.deployment, "in_flight": status.inFlight, "breaker": status.breaker,
                "cooling_seconds": status.coolingUntil.map { $0.timeIntervalSince(now) } ?? 0,
            ]
        }
        return JSONResponse.make([
            "tier": jobs.admission.tier(at: now).name, "mode": mode?.name ?? NSNull(), "mode_source": jobs.admission.modeSource,
            "queued": queued, "running": running, "deployments": deployments,
        ] as [String: Any])
    }
}
