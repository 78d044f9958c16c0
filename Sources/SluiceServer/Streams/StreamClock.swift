import Synchronization

/// One task for the whole node that keeps time for its open event streams: it puts a heartbeat into
/// each stream when one is due, and drops the connection of a stream whose write has waited longer
/// than it may (a client that stopped reading). A stream costs an entry here, not two timer tasks;
/// the task runs only while a stream is open.
final class StreamClock: Sendable {
    /// The node's clock (each node is one process).
    static let node = StreamClock()

    private struct Entry {
        let subscription: Subscription
        let outlet: StreamOutlet
        let writes: WriteWatch
        var nextBeat: ContinuousClock.Instant
    }

    private struct State {
        var next: UInt64 = 0
        var entries: [UInt64: Entry] = [:]
        var ticker: Task<Void, Never>?
    }

    /// How often the clock looks: a heartbeat or a drop comes at most this late.
    static let tick = Duration.milliseconds(100)
    private let state = Mutex(State())

    /// Keeps time for a stream until its subscription ends: a heartbeat every `outlet.heartbeat`, and its
    /// connection closed once a write in `writes` has waited longer than `outlet.maxStall`.
    func watch(_ subscription: Subscription, outlet: StreamOutlet, writes: WriteWatch) {
        let entry = Entry(subscription: subscription, outlet: outlet, writes: writes, nextBeat: .now + outlet.heartbeat)
        let id = state.withLock { state -> UInt64 in
            state.next += 1
            state.entries[state.next] = entry
            if state.ticker == nil { state.ticker = Task { [weak self] in await self?.run() } }
            return state.next
        }
        subscription.whenEnded { [weak self] in self?.forget(id) }
    }

    private func forget(_ id: UInt64) {
        let ticker = state.withLock { state -> Task<Void, Never>? in
            state.entries[id] = nil
            guard state.entries.isEmpty else { return nil }
            defer { state.ticker = nil }
            return state.ticker
        }
        ticker?.cancel()
    }

    private func run() async {
        while (try? await Task.sleep(for: Self.tick)) != nil {
            let now = ContinuousClock.now
            let (due, stalled) = state.withLock { state -> ([Subscription], [Entry]) in
                var due: [Subscription] = []
                var stalled: [UInt64] = []
                for index in state.entries.indices {
                    let entry = state.entries.values[index]
                    if entry.writes.stalled(longerThan: entry.outlet.maxStall) {
                        stalled.append(state.entries.keys[index])
                    } else if entry.nextBeat <= now {
                        state.entries.values[index].nextBeat = now + entry.outlet.heartbeat
                        due.append(entry.subscription)
                    }
                }
                // Dropped once: the stream ends when its connection has closed.
                return (due, stalled.compactMap { state.entries.removeValue(forKey: $0) })
            }
            for subscription in due { subscription.put(.heartbeat) }
            // Closing the connection fails the write it is stuck in, and ends the stream.
            for entry in stalled { entry.outlet.slowReader() }
        }
    }
}
