import Synchronization

/// Jobs handed to a worker while their insert is still being committed, so that the commit overlaps the
/// provider call. The worker waits here before it saves or shows anything of the job: a job whose insert
/// failed was never accepted (its client got 503), and is dropped unseen.
final class PendingInserts: Sendable {
    /// What became of a job's insert.
    enum Insert: Sendable {
        /// It failed: the job was never accepted.
        case failed
        /// It committed; `markedRunning` when it stored the job already running (a worker took it at
        /// once), so that the worker's first attempt need not mark it again.
        case committed(markedRunning: Bool)
    }

    private struct State {
        var waiting: [String: [CheckedContinuation<Insert, Never>]] = [:]
        /// Inserts that failed, until the worker holding the job asks.
        var failed: Set<String> = []
        /// Inserts that store their job running, until its worker asks.
        var markedRunning: Set<String> = []
    }

    private let state = Mutex(State())

    /// The job's insert is about to start (before the job is handed to a worker). What an earlier
    /// submission of the same id left (a batch line retried after a failed insert) is forgotten.
    func begin(_ id: String) {
        state.withLock { state in
            state.waiting[id] = []
            state.failed.remove(id)
            state.markedRunning.remove(id)
        }
    }

    /// Whether the job's insert is under way here or has just ended unasked: its worker overlaps the
    /// running mark with the provider call only then.
    func tracks(_ id: String) -> Bool {
        state.withLock { $0.waiting[id] != nil || $0.failed.contains(id) || $0.markedRunning.contains(id) }
    }

    /// The insert under way stores the job running.
    func storesRunning(_ id: String) {
        _ = state.withLock { $0.markedRunning.insert(id) }
    }

    /// The job's insert has committed (true) or failed (false).
    func end(_ id: String, committed: Bool) {
        let (waiters, insert) = state.withLock { state -> ([CheckedContinuation<Insert, Never>], Insert) in
            let waiters = state.waiting.removeValue(forKey: id) ?? []
            guard committed else {
                state.markedRunning.remove(id)
                // Kept for the worker that has not asked yet; one that waits is told now.
                if waiters.isEmpty { state.failed.insert(id) }
                return (waiters, .failed)
            }
            let marked = !waiters.isEmpty && state.markedRunning.remove(id) != nil
            return (waiters, .committed(markedRunning: marked))
        }
        for waiter in waiters { waiter.resume(returning: insert) }
    }

    /// Forgets a failed insert whose job no worker took.
    func forget(_ id: String) {
        _ = state.withLock { $0.failed.remove(id) }
    }

    /// What became of the job's insert, waiting for it if it is under way; a job not started here
    /// (committed long ago, recovered from the store, a retry) is `committed(markedRunning: false)`.
    func insert(of id: String) async -> Insert {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Insert? in
                if state.failed.remove(id) != nil { return .failed }
                guard state.waiting[id] != nil else { return .committed(markedRunning: state.markedRunning.remove(id) != nil) }
                state.waiting[id]!.append(continuation)
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }
}

/// A job's insert failed after a worker took it: the job was never accepted.
struct InsertFailed: Error {}
