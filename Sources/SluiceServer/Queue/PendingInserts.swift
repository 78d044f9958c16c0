import Synchronization

/// Jobs handed to a worker while their insert is still being committed, so that the commit overlaps the
/// provider call. The worker waits here before it saves or shows anything of the job: a job whose insert
/// failed was never accepted (its client got 503), and is dropped unseen.
final class PendingInserts: Sendable {
    private struct State {
        var waiting: [String: [CheckedContinuation<Bool, Never>]] = [:]
        /// Inserts that failed, until the worker holding the job asks.
        var failed: Set<String> = []
    }

    private let state = Mutex(State())

    /// The job's insert has started.
    func begin(_ id: String) {
        state.withLock { $0.waiting[id] = [] }
    }

    /// The job's insert has committed (true) or failed (false).
    func end(_ id: String, committed: Bool) {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            if !committed { state.failed.insert(id) }
            return state.waiting.removeValue(forKey: id) ?? []
        }
        for waiter in waiters { waiter.resume(returning: committed) }
    }

    /// Forgets a failed insert whose job no worker took.
    func forget(_ id: String) {
        _ = state.withLock { $0.failed.remove(id) }
    }

    /// Whether the job's insert committed, waiting for it if it is under way; true for a job not
    /// started here (committed long ago, or recovered from the store).
    func committed(_ id: String) async -> Bool {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool? in
                if state.failed.remove(id) != nil { return false }
                guard state.waiting[id] != nil else { return true }
                state.waiting[id]!.append(continuation)
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }
}

/// A job's insert failed after a worker took it: the job was never accepted.
struct InsertFailed: Error {}
