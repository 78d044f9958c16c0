import Synchronization

/// Tasks started one by one and awaited together, for arrivals that each ask a question: as many may be
/// open as there are streams (thousands on an exam night). A task group would hold them, but it keeps
/// its children in a list that each child's end walks to unlink itself, so every answer cost time in
/// proportion to the answers open (`TaskGroup::removeChildTask`, 5 % of the load generator's CPU with
/// some 3,000 open). These are kept by number instead; cancelling the waiter cancels them, as a group's
/// cancellation would.
final class OpenTasks: Sendable {
    private struct State {
        var open: [Int: Task<Void, Never>] = [:]
        var next = 0
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Starts `work` in a task of its own.
    func start(_ work: @escaping @Sendable () async -> Void) {
        state.withLock { state in
            let number = state.next
            state.next += 1
            // The task's end waits for this lock, so it finds itself in `open`.
            state.open[number] = Task {
                await work()
                self.ended(number)
            }
        }
    }

    private func ended(_ number: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.open[number] = nil
            guard state.open.isEmpty else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Returns once every task started has ended; cancelled, cancels them first. For one caller, after the
    /// last `start`.
    func allEnded() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ended = state.withLock { state -> Bool in
                    guard !state.open.isEmpty else { return true }
                    state.waiter = continuation
                    return false
                }
                if ended { continuation.resume() }
            }
        } onCancel: {
            for task in state.withLock({ Array($0.open.values) }) { task.cancel() }
        }
    }
}
