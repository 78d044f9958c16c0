import Foundation
import Logging
import SluiceStore
import Synchronization

/// Admin actions (a mode set or cleared, cache imports and invalidations) and refused credentials:
/// who, when, from where — kept in the store, so a cluster's nodes share one trail and it outlives a
/// restart. `GET /admin/api/audit?after=N` pages through it. A flood of bad credentials writes at most
/// one record per client address and refusal each `refusalWindow` (the next one counts those left
/// out); records older than `retention` are forgotten.
final class AuditTrail: Sendable {
    let log: any AuditLog
    let metrics: SluiceMetrics
    let logger: Logger
    let refusalWindow: TimeInterval
    let retention: TimeInterval
    /// Refusals written lately, by address and code: when, and how many were left out since.
    private let refusals = Mutex<[String: (at: Date, skipped: Int)]>([:])
    private let lastPrune = Mutex(Date.distantPast)

    init(log: any AuditLog, metrics: SluiceMetrics, logger: Logger, refusalWindow: TimeInterval = 10, retention: TimeInterval = 90 * 86_400) {
        self.log = log
        self.metrics = metrics
        self.logger = logger
        self.refusalWindow = refusalWindow
        self.retention = retention
    }

    /// Records an admin action. A write the store refuses is retried, then counted and logged.
    func record(action: String, caller: String, tenant: String?, from: String?, detail: String) async {
        await write(AuditRecord(at: Date(), action: action, caller: caller, tenant: tenant, from: from, detail: detail))
    }

    /// Records a refused credential, unless one from the same address and for the same reason was
    /// recorded within the window.
    func refused(code: String, from address: String?) async {
        let now = Date()
        let key = (address ?? "unknown") + " " + code
        let skipped = refusals.withLock { refusals -> Int? in
            if let last = refusals[key], now.timeIntervalSince(last.at) < refusalWindow {
                refusals[key]?.skipped += 1
                return nil
            }
            if refusals.count > 10_000 { refusals = refusals.filter { now.timeIntervalSince($0.value.at) < refusalWindow } }
            let skipped = refusals[key]?.skipped ?? 0
            refusals[key] = (now, 0)
            return skipped
        }
        guard let skipped else { return }
        let detail = skipped > 0 ? "\(code) (and \(skipped) more like it before)" : code
        await write(AuditRecord(at: now, action: "refused", caller: "none", tenant: nil, from: address, detail: detail))
    }

    /// Up to `limit` records after `seq`, oldest first; only `tenant`'s when given.
    func records(after seq: Int64, limit: Int, tenant: String?) async throws -> [AuditRecord] {
        try await log.auditRecords(after: seq, limit: limit, tenant: tenant)
    }

    private func write(_ record: AuditRecord) async {
        for attempt in 0..<3 {
            do {
                try await log.appendAudit([record])
                await pruneNowAndThen(now: record.at)
                return
            } catch {
                metrics.storeWriteFailed()
                if attempt < 2 { try? await Task.sleep(for: .milliseconds(100 << attempt)) }
            }
        }
        logger.error("an audit record could not be stored", metadata: ["sluice.action": "\(record.action)"])
    }

    private func pruneNowAndThen(now: Date) async {
        let due = lastPrune.withLock { last in
            guard now.timeIntervalSince(last) > 3600 else { return false }
            last = now
            return true
        }
        if due { try? await log.pruneAudit(before: now.addingTimeInterval(-retention)) }
    }
}

extension AuditRecord {
    /// The record as an API object.
    var json: [String: Any] {
        [
            "seq": seq, "at": ISO8601DateFormatter().string(from: at), "action": action, "caller": caller,
            "tenant": tenant ?? NSNull(), "from": from ?? NSNull(), "detail": detail,
        ]
    }
}
