import Foundation
import Logging
import Synchronization
import SluiceCore
import SluiceStore

/// Keeps the store to its retention: deletes the streams of jobs that ended longer ago than
/// `retention.streamSeconds`, and the jobs themselves once they are older than their owner's history
/// (`retention.historyDays`, or the plan's); admission forgets users idle since the last pass.
final class RetentionSweeper: Sendable {
    let store: any JobStore & StreamLog & JobHistory & UsageRollup
    let admission: AdmissionController
    let retention: SluiceConfiguration.Retention
    let plans: [String: Plan]
    let logger: Logger
    /// The cutoff of the last sweep of streams: the next one starts a little before it.
    private let lastStreamSweep = Mutex<Date?>(nil)

    init(
        store: any JobStore & StreamLog & JobHistory & UsageRollup, admission: AdmissionController, configuration: SluiceConfiguration,
        logger: Logger
    ) {
        self.store = store
        self.admission = admission
        retention = configuration.retention
        plans = configuration.admission.plans
        self.logger = logger
    }

    /// Sweeps every `retention.sweepSeconds` until cancelled.
    func run() async {
        let interval = Duration.milliseconds(Int(max(0.05, retention.sweepSeconds) * 1000))
        while !Task.isCancelled {
            await sweep()
            guard (try? await Task.sleep(for: interval)) != nil else { return }
        }
    }

    /// One pass.
    func sweep(now: Date = Date()) async {
        admission.forgetIdle()
        let day = 86_400.0
        let otherwise = now.addingTimeInterval(-retention.historyDays * day)
        var cutoffs: [String: Date] = [:]
        for (name, plan) in plans {
            if let days = plan.historyDays { cutoffs[name] = now.addingTimeInterval(-days * day) }
        }
        do {
            let streamCutoff = now.addingTimeInterval(-retention.streamSeconds)
            // From a minute before the last sweep's cutoff: older streams are gone (the first sweep reads them all).
            let streams = try await store.deleteStreams(
                endedBefore: streamCutoff, since: lastStreamSweep.withLock { $0 }.map { $0.addingTimeInterval(-60) })
            lastStreamSweep.withLock { $0 = streamCutoff }
            let removed = try await store.deleteHistory(before: cutoffs, otherwise: otherwise)
            // Past every plan's history: with the old day counters and minute windows.
            _ = try await store.deleteFinished(before: cutoffs.values.reduce(otherwise) { min($0, $1) })
            if removed + streams > 0 { logger.debug("swept old jobs", metadata: ["sluice.count": "\(removed)", "sluice.streams": "\(streams)"]) }
        } catch {
            logger.error("retention sweep failed", metadata: ["error": "\(error)"])
        }
    }
}
