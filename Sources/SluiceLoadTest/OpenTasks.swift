import Synchronization

/// Tasks started one by one and awaited together, for arrivals that each ask a question: as many may be
/// open as there are streams (thousands on an exam night). A task group would hold them, but it keeps
/// its children in a list that each child's end walks to unlink itself, so every answer cost time in
/// proportion to the answers open (`TaskGroup::removeChildTask`, 5 % of the load generator's CPU with
/// some 3,000 open). These are counted instead.
final class OpenTasks: Sendable {
    private struct State {
        var open = 0
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Starts `work` in a task of its own.
    func start(_ work: @escaping @Sendable () async -> Void) {
        state.withLock { $0.open += 1 }
        Task {
            await work()
            let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.open -= 1
                guard state.open == 0 else { return nil }
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }

    /// Returns once every task started has ended. For one caller, after the last `start`.
    func allEnded() async {
        await withCheckedContinuation { continuation in
            let ended = state.withLock { state -> Bool in
                guard state.open > 0 else { return true }
                state.waiter = continuation
                return false
            }
            if ended { continuation.resume() }
        }
    }
}
