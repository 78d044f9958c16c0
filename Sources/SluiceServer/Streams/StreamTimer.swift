import Synchronization

/// Entries kept while their streams' subscriptions last, and one task that passes over them all every
/// `interval` while any is kept (no task while none is): how one task keeps time for every open stream
/// of the node (`StreamClock`'s heartbeats and stall checks, `QueueNotices`' places in the queue).
final class StreamTimer<Entry: Sendable>: Sendable {
    /// One pass, under the timer's lock: changes or drops entries, and returns what to do once the lock
    /// is let go (puts into subscriptions, closing connections).
    typealias Pass = @Sendable (_ now: ContinuousClock.Instant, _ entries: inout [UInt64: Entry]) -> [@Sendable () -> Void]

    private struct State {
        var next: UInt64 = 0
        var entries: [UInt64: Entry] = [:]
        var task: Task<Void, Never>?
    }

    private let state = Mutex(State())
    private let interval: Duration
    private let pass: Pass

    /// - Parameters:
    ///   - interval: how often the entries are passed over.
    ///   - pass: one pass.
    init(every interval: Duration, pass: @escaping Pass) {
        self.interval = interval
        self.pass = pass
    }

    /// Keeps `entry` until `subscription` ends or a pass drops it.
    func keep(_ entry: Entry, until subscription: Subscription) {
        let id = state.withLock { state -> UInt64 in
            state.next += 1
            state.entries[state.next] = entry
            if state.task == nil { state.task = Task { [weak self] in await self?.run() } }
            return state.next
        }
        subscription.whenEnded { [weak self] in self?.drop(id) }
    }

    /// Entries kept now.
    var count: Int { state.withLock { $0.entries.count } }

    private func drop(_ id: UInt64) {
        let task = state.withLock { state -> Task<Void, Never>? in
            state.entries[id] = nil
            guard state.entries.isEmpty else { return nil }
            defer { state.task = nil }
            return state.task
        }
        task?.cancel()
    }

    private func run() async {
        while (try? await Task.sleep(for: interval)) != nil {
            let (actions, ended) = state.withLock { state -> ([@Sendable () -> Void], Bool) in
                let actions = pass(.now, &state.entries)
                // The last entry went in this pass: the task ends (the next entry starts another).
                guard state.entries.isEmpty else { return (actions, false) }
                state.task = nil
                return (actions, true)
            }
            for action in actions { action() }
            if ended { return }
        }
    }
}
