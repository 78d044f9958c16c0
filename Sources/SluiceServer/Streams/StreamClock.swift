import Synchronization

/// Keeps time for the node's open event streams: puts a heartbeat into each stream when one is due, and
/// drops the connection of a stream whose write has waited longer than it may (a client that stopped
/// reading). A stream costs an entry in one node-wide `StreamTimer`, not two timer tasks.
final class StreamClock: Sendable {
    /// The node's clock (each node is one process).
    static let node = StreamClock()

    private struct Entry {
        let subscription: Subscription
        let outlet: StreamOutlet
        let writes: WriteWatch
        var nextBeat: ContinuousClock.Instant
    }

    /// How often the clock looks: a heartbeat or a drop comes at most this late.
    static let tick = Duration.milliseconds(100)

    private let timer = StreamTimer<Entry>(every: tick) { now, entries in
        var due: [Subscription] = []
        var stalled: [UInt64] = []
        for index in entries.indices {
            let entry = entries.values[index]
            if entry.writes.stalled(longerThan: entry.outlet.maxStall) {
                stalled.append(entries.keys[index])
            } else if entry.nextBeat <= now {
                entries.values[index].nextBeat = now + entry.outlet.heartbeat
                due.append(entry.subscription)
            }
        }
        // Dropped once: the stream ends when its connection has closed (closing it fails the write it
        // is stuck in).
        let outlets = stalled.compactMap { entries.removeValue(forKey: $0)?.outlet }
        let beats: [@Sendable () -> Void] = due.map { subscription in { subscription.put(.heartbeat) } }
        return beats + outlets.map { outlet in { outlet.slowReader() } }
    }

    /// Keeps time for a stream until its subscription ends: a heartbeat every `outlet.heartbeat`, and its
    /// connection closed once a write in `writes` has waited longer than `outlet.maxStall`.
    func watch(_ subscription: Subscription, outlet: StreamOutlet, writes: WriteWatch) {
        timer.keep(Entry(subscription: subscription, outlet: outlet, writes: writes, nextBeat: .now + outlet.heartbeat), until: subscription)
    }
}
