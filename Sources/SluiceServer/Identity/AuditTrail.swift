import Foundation
import Logging
import SluiceStore
import Synchronization

/// Admin actions (a mode set or cleared, cache imports and invalidations) and refused credentials:
/// who, when, from where — kept in the store, so a cluster's nodes share one trail and it outlives a
/// restart. `GET /admin/api/audit?after=N` pages through it. A flood of bad credentials writes at most
/// one record per client address and refusal each `refusalWindow`, and at most `maxRefusals` in all
/// per window (the next record counts those left out), off the request's path; records older than
/// `retention` are forgotten.
final class AuditTrail: Sendable {
    let log: any AuditLog
    let metrics: SluiceMetrics
    let logger: Logger
    let refusalWindow: TimeInterval
    let retention: TimeInterval
    /// Refusals written lately, by address and code: when, and how many were left out since; and the
    /// current window's count of records and of refusals left out whatever their address.
    private let refusals = Mutex<(byKey: [String: (at: Date, skipped: Int)], window: Date, written: Int, dropped: Int)>(([:], .distantPast, 0, 0))
    /// Refusal records per window, across addresses.
    let maxRefusals = 20
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

    /// Records a refused credential (in the background), unless one from the same address and for the
    /// same reason was recorded within the window, or the window's records are used up.
    func refused(code: String, from address: String?) {
        let now = Date()
        let key = (address ?? "unknown") + " " + code
        let left = refusals.withLock { state -> (skipped: Int, others: Int)? in
            if now.timeIntervalSince(state.window) >= refusalWindow {
                state.window = now
                state.written = 0
                // Forgotten in one go, not filtered per request: a flood of addresses costs no more.
                if state.byKey.count > 10_000 { state.byKey = [:] }
            }
            if let last = state.byKey[key], now.timeIntervalSince(last.at) < refusalWindow {
                state.byKey[key]?.skipped += 1
                return nil
            }
            guard state.written < maxRefusals else {
                state.dropped += 1
                return nil
            }
            state.written += 1
            let left = (state.byKey[key]?.skipped ?? 0, state.dropped)
            state.byKey[key] = (now, 0)
            state.dropped = 0
            return left
        }
        guard let left else { return }
        var detail = left.skipped > 0 ? "\(code) (and \(left.skipped) more like it before)" : code
        if left.others > 0 { detail += "; \(left.others) other refusals left out" }
        let record = AuditRecord(at: now, action: "refused", caller: "none", tenant: nil, from: address, detail: detail)
        Task { await write(record) }
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
