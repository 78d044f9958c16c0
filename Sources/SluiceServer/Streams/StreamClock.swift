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

        /// What the stream needs at `now`: a drop when its write has waited longer than it may, a heartbeat
        /// when one is due (the next is set), or nothing. Mutating, so that a pass reaches the entry in place.
        mutating func tick(at now: ContinuousClock.Instant) -> Tick {
            if writes.stalled(longerThan: outlet.maxStall) { return .stalled }
            guard nextBeat <= now else { return .quiet }
            nextBeat = now + outlet.heartbeat
            return .beat(subscription)
        }
    }

    private enum Tick {
        case quiet, stalled
        case beat(Subscription)
    }

    /// How often the clock looks: a heartbeat or a drop comes at most this late.
    static let tick = Duration.milliseconds(100)

    private let timer = StreamTimer<Entry>(every: tick) { now, entries in
        var due: [Subscription] = []
        var stalled: [UInt64] = []
        // Every entry is read in place, ten times a second (15,000 at an exam night): walked by index, not
        // over `entries.indices` (which holds the dictionary, so the first beat set would copy them all), and
        // reached through a mutating method, never copied out (a copy retains and releases its references).
        var index = entries.startIndex
        while index != entries.endIndex {
            switch entries.values[index].tick(at: now) {
            case .quiet: break
            case .stalled: stalled.append(entries.keys[index])
            case .beat(let subscription): due.append(subscription)
            }
            entries.formIndex(after: &index)
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
