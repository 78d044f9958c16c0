import Foundation
import Logging
import SluiceCore
import SluiceStore
import Synchronization

/// Fires the configured schedules (`tenants.<name>.schedules`) at their cron times in their tenant's
/// time zone. Every node looks each second (by the node's clock); the first to record a fire time in
/// the store runs it, so a schedule fires once per cluster. A fire time missed by less than
/// `grace` (a restart across it) still runs; older ones are skipped.
final class ScheduleRunner: Sendable {
    let log: any ScheduleLog
    let work: ScheduledWork
    let schedules: [ScheduleSettings]
    let node: String
    let clock: @Sendable () -> Date
    let logger: Logger
    let nudge = Nudge()
    /// How late a fire time may still run.
    static let grace = 600.0
    /// Per schedule, the time up to which its fire times were handled.
    private let cursors = Mutex<[String: Date]>([:])

    init(log: any ScheduleLog, work: ScheduledWork, configuration: SluiceConfiguration, node: String, clock: @escaping @Sendable () -> Date, logger: Logger) {
        self.log = log
        self.work = work
        schedules = configuration.tenants.flatMap(\.schedules).filter { $0.schedule != nil && $0.kind != nil }
        self.node = node
        self.clock = clock
        self.logger = logger
    }

    func run() async {
        guard !schedules.isEmpty else { return }
        while !Task.isCancelled {
            await tick()
            await nudge.wait(seconds: 1)
        }
    }

    /// Runs whatever is due now.
    func tick() async {
        let now = clock()
        for schedule in schedules {
            guard let cron = schedule.schedule else { continue }
            do {
                var cursor: Date
                if let known = cursors.withLock({ $0[schedule.key] }) {
                    cursor = known
                } else {
                    let last = try await log.runs(of: schedule.key, limit: 1).first?.fireAt ?? .distantPast
                    cursor = max(last, now.addingTimeInterval(-Self.grace))
                }
                while let next = cron.next(after: cursor, in: work.timeZone(of: schedule.tenant)), next <= now {
                    if now.timeIntervalSince(next) <= Self.grace { try await fire(schedule, at: next, now: now) }
                    cursor = next
                    cursors.withLock { $0[schedule.key] = cursor }
                }
                cursors.withLock { $0[schedule.key] = cursor }
            } catch {
                // Looked at again in a second: the fire time stays due until it is recorded.
                logger.warning("could not look at a schedule", metadata: ["sluice.schedule": "\(schedule.key)", "error": "\(error)"])
            }
        }
    }

    /// Records the run (unless another node did) and runs it here.
    func fire(_ schedule: ScheduleSettings, at fireAt: Date, now: Date) async throws {
        var run = ScheduleRun(schedule: schedule.key, fireAt: fireAt, node: node, startedAt: now, outcome: "running", detail: "")
        guard try await log.claimRun(run) else { return }
        do {
            run.detail = try await work.run(schedule, now: now)
            run.outcome = "ok"
        } catch let error as SluiceError {
            run.outcome = "failed"
            run.detail = error.message(language: .en)
        } catch {
            run.outcome = "failed"
            run.detail = "\(error)"
        }
        run.finishedAt = clock()
        logger.notice("a schedule ran", metadata: [
            "sluice.schedule": "\(schedule.key)", "sluice.outcome": "\(run.outcome)", "sluice.detail": "\(run.detail)",
        ])
        try await log.finishRun(run)
    }

    /// The next fire time of a schedule after now, in its time zone.
    func next(_ schedule: ScheduleSettings) -> Date? {
        schedule.schedule?.next(after: clock(), in: work.timeZone(of: schedule.tenant))
    }
}
