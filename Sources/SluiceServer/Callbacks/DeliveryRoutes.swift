import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// `/admin/api/deliveries`: the callbacks and the dead-letter list (`?state=dead`), and replaying one.
/// An admin key: a tenant's admin sees and replays its tenant's only, the operator every tenant's (or
/// one, with `?tenant=`).
struct DeliveryRoutes {
    let callbacks: CallbackOutbox
    let audit: AuditTrail

    func register(on group: RouterGroup<SluiceRequestContext>) {
        group.get("deliveries") { request, context in
            let scope = try AdminRoutes.requireAdmin(context, request: request)
            let query = request.uri.queryParameters
            let state = try query["state"].map { raw -> Delivery.State in
                guard let state = Delivery.State(rawValue: String(raw)) else {
                    throw BodyFields.wrongType("state", "must be one of waiting, pending, delivered, dead")
                }
                return state
            }
            let limit = try query["limit"].map { raw -> Int in
                guard let limit = Int(raw), (1...1000).contains(limit) else { throw BodyFields.wrongType("limit", "must be a whole number from 1 to 1000") }
                return limit
            } ?? 100
            let found = try await callbacks.log.deliveries(state: state, tenant: scope.tenant, limit: limit)
            return JSONResponse.make(["object": "list", "data": found.map(Self.object)] as [String: Any])
        }
        group.post("deliveries/{id}/retry") { request, context in
            let scope = try AdminRoutes.requireAdmin(context, request: request)
            let id = context.parameters.get("id") ?? ""
            let delivery = try await callbacks.replay(id, tenant: scope.tenant)
            await audit.record(
                action: "callback replayed", caller: scope.caller, tenant: delivery.tenant, from: context.clientAddress, detail: delivery.id)
            return JSONResponse.make(Self.object(delivery))
        }
    }

    /// A delivery as the API shows it.
    static func object(_ delivery: Delivery) -> [String: Any] {
        var object: [String: Any] = [
            "id": delivery.id, "object": "callback.delivery", "job_id": delivery.jobID, "tenant": delivery.tenant, "url": delivery.url,
            "state": delivery.state.rawValue, "attempts": delivery.attempts, "created_at": delivery.createdAt.timeIntervalSince1970,
        ]
        if delivery.state == .pending { object["next_attempt_at"] = delivery.nextAt.timeIntervalSince1970 }
        if let status = delivery.lastStatus { object["last_status"] = status }
        if let error = delivery.lastError { object["last_error"] = error }
        if let delivered = delivery.deliveredAt { object["delivered_at"] = delivered.timeIntervalSince1970 }
        return object
    }
}
