import Foundation
import SluiceCore
import Synchronization

/// This node's queue at one moment: where each waiting job stands, and how many jobs wait and run in
/// each class.
struct QueueSnapshot: Sendable {
    /// Jobs served before each waiting one (0 = next).
    var positions: [String: Int] = [:]
    /// Queued jobs by `PriorityClass.rawValue`.
    var queued = Array(repeating: 0, count: PriorityClass.allCases.count)
    /// Running attempts by `PriorityClass.rawValue`.
    var running = Array(repeating: 0, count: PriorityClass.allCases.count)
    /// Jobs waiting out a retry's backoff.
    var delayed: Set<String> = []

    /// By class name, for JSON.
    static func byClass(_ counts: [Int]) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: PriorityClass.allCases.map { ($0.name, counts[$0.rawValue]) })
    }
}

/// The queue's snapshot, taken at most once a second however many streams and dashboards read it: one
/// pass over the queue serves every waiting client's position.
final class QueueWatch: Sendable {
    private let scheduler: Scheduler
    private let interval: Duration
    private let latest = Mutex<(at: ContinuousClock.Instant, snapshot: QueueSnapshot)?>(nil)

    init(scheduler: Scheduler, interval: Duration = .seconds(1)) {
        self.scheduler = scheduler
        self.interval = interval
    }

    var current: QueueSnapshot {
        let now = ContinuousClock.now
        if let (at, snapshot) = latest.withLock({ $0 }), now - at < interval { return snapshot }
        let snapshot = scheduler.snapshot()
        latest.withLock { $0 = (now, snapshot) }
        return snapshot
    }

    /// Whether a worker here runs the job now.
    func isRunning(_ id: String) -> Bool { scheduler.isRunning(id) }
}
