import Logging
import SluiceStore
import Synchronization

/// The jobs this node's streams follow that no node holds yet (waiting in the shared queue): one task
/// asks the store who holds them all, in one query every `interval` while any is waited for, and wakes
/// a job's followers once a node holds it or it has ended — instead of two store queries per waiting
/// stream every interval, which at an exam night's thousands of waiting students would be the
/// database's whole load.
final class HolderWatch: Sendable {
    private struct State {
        var next: UInt64 = 0
        /// By job: its followers waiting, each by its own number.
        var waiting: [String: [UInt64: CheckedContinuation<Void, Never>]] = [:]
        var task: Task<Void, Never>?
    }

    /// The most jobs one query asks about.
    static let batch = 1_000
    private let state = Mutex(State())
    private let queue: any SharedJobQueue
    private let interval: Duration
    private let logger: Logger
    /// Whether the last query failed: said once when it starts failing and once when it works again.
    private let failing = Atomic<Bool>(false)

    /// - Parameters:
    ///   - queue: the shared queue.
    ///   - interval: how often the store is asked.
    ///   - logger: where a store that cannot be read is said.
    init(queue: any SharedJobQueue, interval: Duration, logger: Logger) {
        self.queue = queue
        self.interval = interval
        self.logger = logger
    }

    /// Returns once a node holds `jobID` (this one included) or it has ended, or when the calling task
    /// is cancelled (its stream ended).
    func untilHeld(_ jobID: String) async {
        let number = state.withLock { state -> UInt64 in
            state.next += 1
            return state.next
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let cancelled = state.withLock { state -> Bool in
                    // Cancelled before it waited: the handler below found nothing to resume.
                    guard !Task.isCancelled else { return true }
                    state.waiting[jobID, default: [:]][number] = continuation
                    if state.task == nil { state.task = Task { [weak self] in await self?.run() } }
                    return false
                }
                if cancelled { continuation.resume() }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
                let continuation = state.waiting[jobID]?.removeValue(forKey: number)
                if state.waiting[jobID]?.isEmpty == true { state.waiting[jobID] = nil }
                return continuation
            }
            continuation?.resume()
        }
    }

    private func run() async {
        while (try? await Task.sleep(for: interval)) != nil {
            let jobs = state.withLock { state -> [String]? in
                guard !state.waiting.isEmpty else {
                    // The last follower left: the task ends (the next one starts another).
                    state.task = nil
                    return nil
                }
                return Array(state.waiting.keys)
            }
            guard let jobs else { return }
            for start in stride(from: 0, to: jobs.count, by: Self.batch) {
                let holders: [String: JobHolder]
                do {
                    holders = try await queue.holders(of: Array(jobs[start..<min(jobs.count, start + Self.batch)]))
                    if failing.exchange(false, ordering: .relaxed) { logger.notice("the shared queue can be read again; waiting streams follow their jobs") }
                } catch {
                    // Asked again at the next interval; the streams wait meanwhile (with their heartbeats).
                    if !failing.exchange(true, ordering: .relaxed) {
                        logger.warning(
                            "the shared queue cannot be read; streams of waiting jobs wait until it can",
                            metadata: ["error": "\(String(reflecting: type(of: error)))"])
                    }
                    continue
                }
                let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                    holders.filter { $0.value != .none }.flatMap { state.waiting.removeValue(forKey: $0.key)?.values.map { $0 } ?? [] }
                }
                for continuation in woken { continuation.resume() }
            }
        }
    }
}
