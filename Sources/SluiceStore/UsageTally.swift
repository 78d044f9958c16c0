
/// Usage rows and daily counter changes summed by their keys: what many `addUsage` calls add, as one
/// write. Adding is what the store's upserts do, so a tally written once leaves the rows and counters
/// as its parts written one by one would.
struct UsageTally: Sendable {
    private(set) var rows: [UsageRow] = []
    private(set) var counters: [DailyCounterDelta] = []
    private var rowAt: [UsageRow.Key: Int] = [:]
    private var counterAt: [DailyCounterDelta.Key: Int] = [:]

    init(rows: [UsageRow] = [], counters: [DailyCounterDelta] = []) {
        add(rows: rows, counters: counters)
    }

    mutating func add(rows more: [UsageRow], counters changes: [DailyCounterDelta]) {
        for row in more {
            guard let at = rowAt[row.key] else {
                rowAt[row.key] = rows.count
                rows.append(row)
                continue
            }
            rows[at].add(row)
        }
        for change in changes {
            guard let at = counterAt[change.key] else {
                counterAt[change.key] = counters.count
                counters.append(change)
                continue
            }
            counters[at].messages += change.messages
            counters[at].tokens += change.tokens
        }
    }

    mutating func add(_ other: UsageTally) { add(rows: other.rows, counters: other.counters) }
}

extension UsageRow {
    /// What identifies a row of the rollup.
    struct Key: Hashable { var day, tenant, user, model, deployment: String }
    var key: Key { Key(day: day, tenant: tenant, user: user, model: model, deployment: deployment) }
}

extension DailyCounterDelta {
    /// What identifies a counter: a user's day.
    struct Key: Hashable { var user, day: String }
    var key: Key { Key(user: user, day: day) }
}

/// Usage written together: concurrent `addUsage` calls (a cache hit's charge each) are summed into one
/// tally and written once, so that a burst of hits costs the store one write of a few rows, not one per
/// hit. Nothing is held back: each call returns once the write holding it is durable, and fails with it.
final class UsageWriter: Sendable {
    private let batcher: WriteBatcher<UsageTally, Void>

    /// - Parameter write: writes a tally in one durable commit.
    init(write: @escaping @Sendable (UsageTally) async throws -> Void) {
        batcher = WriteBatcher { tallies in
            var sum = UsageTally()
            for tally in tallies { sum.add(tally) }
            do {
                try await write(sum)
                return tallies.map { _ in .success(()) }
            } catch {
                return tallies.map { _ in .failure(error) }
            }
        }
    }

    /// Adds rows and counter changes with whatever else is being added; returns once they are durable.
    func add(_ rows: [UsageRow], counters: [DailyCounterDelta]) async throws {
        try await batcher.write(UsageTally(rows: rows, counters: counters))
    }
}
