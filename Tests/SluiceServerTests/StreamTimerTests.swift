@testable import SluiceServer
import Synchronization
import Testing

/// The one task that keeps time for many streams: it passes over an entry while its subscription lasts
/// and not after, lets a pass drop entries, and runs only while an entry is kept.
@Suite struct StreamTimerTests {
    /// How often each entry was passed over.
    final class Passes: Sendable {
        let counts = Mutex<[Int: Int]>([:])
        func count(_ entry: Int) -> Int { counts.withLock { $0[entry] ?? 0 } }
    }

    @Test func anEntryIsPassedOverWhileItsSubscriptionLastsAndTheTaskEndsWithTheLast() async throws {
        let passes = Passes()
        let timer = StreamTimer<Int>(every: .milliseconds(10)) { _, entries in
            let seen = Array(entries.values)
            return [{ passes.counts.withLock { for entry in seen { $0[entry, default: 0] += 1 } } }]
        }
        let first = Subscription()
        let second = Subscription()
        timer.keep(1, until: first)
        timer.keep(2, until: second)
        try await eventually("both entries are passed over") { passes.count(1) >= 3 && passes.count(2) >= 3 }
        first.finish()
        try await eventually("the ended subscription's entry is dropped") { timer.count == 1 }
        let firstSeen = passes.count(1)
        let secondSeen = passes.count(2)
        try await eventually("the other entry is still passed over") { passes.count(2) >= secondSeen + 3 }
        #expect(passes.count(1) <= firstSeen + 1, "an entry passed over after its subscription ended")
        second.finish()
        try await eventually("no entry is left") { timer.count == 0 }
        // Kept again after the task ended: a new task passes over it.
        let third = Subscription()
        timer.keep(3, until: third)
        try await eventually("a new entry is passed over after the timer was idle") { passes.count(3) >= 2 }
        third.finish()
    }

    @Test func aPassDropsEntriesAndTheirEndsAreHarmlessAfterwards() async throws {
        let passes = Passes()
        // Each entry is dropped by its second pass.
        let timer = StreamTimer<Int>(every: .milliseconds(10)) { _, entries in
            let seen = Array(entries)
            passes.counts.withLock { counts in
                for (id, value) in seen {
                    counts[value, default: 0] += 1
                    if counts[value] == 2 { entries[id] = nil }
                }
            }
            return []
        }
        let subscriptions = (0..<3).map { _ in Subscription() }
        for (index, subscription) in subscriptions.enumerated() { timer.keep(index, until: subscription) }
        try await eventually("every entry is dropped by its pass") { timer.count == 0 }
        #expect((0..<3).allSatisfy { passes.count($0) == 2 })
        for subscription in subscriptions { subscription.finish() }
        #expect(timer.count == 0)
        // The timer still works.
        let later = Subscription()
        timer.keep(9, until: later)
        try await eventually("an entry kept later is passed over") { passes.count(9) >= 1 }
        later.finish()
    }
}
