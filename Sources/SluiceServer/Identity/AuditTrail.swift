import Foundation
import Synchronization

/// Admin actions (a mode set or cleared, cache imports and invalidations) and refused credentials:
/// who, when, from where. Kept in this node's memory, the newest `capacity` records (a flood of bad
/// keys cannot grow it); numbered so that `GET /admin/api/audit?after=N` pages through them.
final class AuditTrail: Sendable {
    struct Record: Sendable {
        var seq: Int
        var at: Date
        var action: String
        /// The kind of caller (`operator key`, `admin key of school-a`, …): never a key or a token.
        var caller: String
        /// The tenant acted on; nil for the whole node.
        var tenant: String?
        var from: String?
        var detail: String

        var json: [String: Any] {
            [
                "seq": seq, "at": ISO8601DateFormatter().string(from: at), "action": action, "caller": caller,
                "tenant": tenant ?? NSNull(), "from": from ?? NSNull(), "detail": detail,
            ]
        }
    }

    private let state = Mutex<(next: Int, records: [Record])>((1, []))
    let capacity: Int

    init(capacity: Int = 10_000) {
        self.capacity = max(1, capacity)
    }

    func record(action: String, caller: String, tenant: String?, from: String?, detail: String) async {
        state.withLock { state in
            state.records.append(Record(seq: state.next, at: Date(), action: action, caller: caller, tenant: tenant, from: from, detail: detail))
            state.next += 1
            if state.records.count > capacity { state.records.removeFirst(state.records.count - capacity) }
        }
    }

    /// Up to `limit` records after `seq`, oldest first; only `tenant`'s when given.
    func records(after seq: Int, limit: Int, tenant: String?) -> [Record] {
        state.withLock { state in
            Array(state.records.lazy.filter { $0.seq > seq && (tenant == nil || $0.tenant == tenant) }.prefix(limit))
        }
    }
}
