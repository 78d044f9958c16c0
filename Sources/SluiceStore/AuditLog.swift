public import Foundation

/// One entry of the audit trail: an admin action (a mode set or cleared, a cache import or
/// invalidation) or a refused credential — who, when, from where. Never a key or a token.
public struct AuditRecord: Sendable, Hashable {
    /// Its place in the trail (set by the store; 0 before it is stored).
    public var seq: Int64
    public var at: Date
    /// What happened (`mode set`, `refused`, …).
    public var action: String
    /// The kind of caller (`operator key`, `admin key of school-a`, `none`).
    public var caller: String
    /// The tenant acted on; nil for every tenant (or none known).
    public var tenant: String?
    /// The client's address.
    public var from: String?
    public var detail: String

    public init(seq: Int64 = 0, at: Date, action: String, caller: String, tenant: String?, from: String?, detail: String) {
        self.seq = seq
        self.at = at
        self.action = action
        self.caller = caller
        self.tenant = tenant
        self.from = from
        self.detail = detail
    }
}

/// The audit trail, kept in the store (shared by a cluster's nodes, kept across restarts).
public protocol AuditLog: Sendable {
    /// Appends records.
    func appendAudit(_ records: [AuditRecord]) async throws
    /// Up to `limit` records after `seq`, oldest first; only `tenant`'s when given.
    func auditRecords(after seq: Int64, limit: Int, tenant: String?) async throws -> [AuditRecord]
    /// Forgets records older than `date`.
    func pruneAudit(before date: Date) async throws
}
