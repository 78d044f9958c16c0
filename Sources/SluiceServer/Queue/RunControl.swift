import Synchronization

/// Why a running job is being stopped.
enum StopReason: Sendable {
    /// Its owner cancelled it.
    case cancelled
    /// The node is shutting down: checkpoint and re-queue.
    case shutdown
}

/// The handle that stops one running job: `stop` wakes the job's `waitForStop`.
final class RunControl: Sendable {
    private let state = Mutex<(reason: StopReason?, waiter: CheckedContinuation<StopReason?, Never>?)>((nil, nil))

    /// Asks the job to stop; the first reason wins.
    func stop(_ reason: StopReason) {
        let waiter = state.withLock { state -> CheckedContinuation<StopReason?, Never>? in
            guard state.reason == nil else { return nil }
            state.reason = reason
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: reason)
    }

    /// The reason, once stopped.
    var reason: StopReason? { state.withLock { $0.reason } }

    /// Returns when the job is asked to stop, or nil when the waiting task is cancelled.
    func waitForStop() async -> StopReason? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let reason = state.withLock { state -> StopReason?? in
                    if let reason = state.reason { return .some(reason) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if let reason { continuation.resume(returning: reason) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}
