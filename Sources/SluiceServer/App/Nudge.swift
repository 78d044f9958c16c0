import Synchronization

/// Wakes a background loop before its next look: `wait(seconds:)` returns when `wake()` is called (or
/// was, while the loop worked) or after the time, whichever comes first, or when the task is cancelled.
final class Nudge: Sendable {
    private let state = Mutex<(waiter: CheckedContinuation<Void, Never>?, pending: Bool)>((nil, false))

    func wake() {
        state.withLock { state in
            if let waiter = state.waiter {
                waiter.resume()
                state.waiter = nil
            } else {
                state.pending = true
            }
        }
    }

    func wait(seconds: Double) async {
        // Wakes the wait when the time is up; cancelled (without waking anything) when the wait ends first,
        // else a stale wake-up would end the next wait at once, and the one after.
        let sleeper = Task {
            do {
                try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                self.wake()
            } catch {}
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                state.withLock { state in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        continuation.resume()
                    } else {
                        state.waiter = continuation
                    }
                }
            }
        } onCancel: {
            wake()
        }
        sleeper.cancel()
    }
}
