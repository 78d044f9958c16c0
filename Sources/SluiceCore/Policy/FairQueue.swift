import DequeModule

/// The order in which queued work is served: strictly by priority class, and within a class round-robin
/// across users, so that a user with 50 queued jobs does not delay another user's first one.
/// A pure value; the caller guards it with a lock.
public struct FairQueue<Item: Sendable>: Sendable {
    struct Entry: Sendable {
        var id: String
        var item: Item
    }

    struct Lane: Sendable {
        /// Users with queued items, in turn order.
        var turns: Deque<String> = []
        /// Each user's items, oldest first.
        var items: [String: Deque<Entry>] = [:]
    }

    var lanes: [Lane] = Array(repeating: Lane(), count: PriorityClass.allCases.count)
    var location: [String: (priority: PriorityClass, user: String)] = [:]

    /// Creates an empty queue.
    public init() {}

    /// How many items wait.
    public var count: Int { location.count }

    /// Whether nothing waits.
    public var isEmpty: Bool { location.isEmpty }

    /// Adds an item at the back of its user's line.
    /// - Parameters:
    ///   - item: the item.
    ///   - id: its unique id.
    ///   - user: the user key it is fair across.
    ///   - priority: its class.
    public mutating func push(_ item: Item, id: String, user: String, priority: PriorityClass) {
        guard location[id] == nil else { return }
        location[id] = (priority, user)
        let p = priority.rawValue
        if lanes[p].items[user] == nil {
            lanes[p].turns.append(user)
            lanes[p].items[user] = [Entry(id: id, item: item)]
        } else {
            lanes[p].items[user]!.append(Entry(id: id, item: item))
        }
    }

    /// Takes the next item whose user `eligible` allows (users at their cap of running jobs are skipped,
    /// keeping their turn).
    public mutating func pop(where eligible: (String) -> Bool = { _ in true }) -> Item? {
        pop { user, _ in eligible(user) ? () : nil }?.0
    }

    /// Takes the next item that `claim` accepts, with what `claim` returned. `claim` sees each user's
    /// oldest item in turn order; a user whose item it refuses keeps their turn. After a refusal,
    /// `hopeless` may end the search early (when the caller knows nothing else can be accepted).
    public mutating func pop<Claim>(claim: (String, Item) -> Claim?, hopeless: () -> Bool = { false }) -> (Item, Claim)? {
        // Mutated in place: a copy of a lane would copy its whole queue on the first write.
        for p in lanes.indices where !lanes[p].turns.isEmpty {
            for turn in lanes[p].turns.indices {
                let candidate = lanes[p].turns[turn]
                guard let head = lanes[p].items[candidate]?.first, let claimed = claim(candidate, head.item) else {
                    if hopeless() { return nil }
                    continue
                }
                let user = lanes[p].turns.remove(at: turn)
                let entry = lanes[p].items[user]!.removeFirst()
                if lanes[p].items[user]!.isEmpty {
                    lanes[p].items[user] = nil
                } else {
                    lanes[p].turns.append(user)
                }
                location[entry.id] = nil
                return (entry.item, claimed)
            }
        }
        return nil
    }

    /// Removes an item by id, returning it.
    @discardableResult
    public mutating func remove(id: String) -> Item? {
        guard let (priority, user) = location.removeValue(forKey: id) else { return nil }
        let p = priority.rawValue
        guard let index = lanes[p].items[user]?.firstIndex(where: { $0.id == id }) else { return nil }
        let entry = lanes[p].items[user]!.remove(at: index)
        if lanes[p].items[user]!.isEmpty {
            lanes[p].items[user] = nil
            lanes[p].turns.removeAll { $0 == user }
        }
        return entry.item
    }

    /// Whether an item waits.
    public func contains(id: String) -> Bool { location[id] != nil }

    /// How many items would be served before this one if nothing else arrived (0 = next).
    public func position(of id: String) -> Int? {
        guard let (priority, user) = location[id] else { return nil }
        let p = priority.rawValue
        var ahead = 0
        for higher in 0..<p {
            ahead += lanes[higher].items.values.reduce(0) { $0 + $1.count }
        }
        let lane = lanes[p]
        guard let mine = lane.items[user]?.firstIndex(where: { $0.id == id }),
              let myTurn = lane.turns.firstIndex(of: user) else { return ahead }
        // Round r of the rotation serves one item of each user; mine is served in round `mine`.
        for (turn, other) in lane.turns.enumerated() where other != user {
            let count = lane.items[other]?.count ?? 0
            ahead += min(count, turn < myTurn ? mine + 1 : mine)
        }
        return ahead + mine
    }

    /// Every queued item's position (as `position(of:)` gives it), in one pass over the queue: what a
    /// page of thousands of waiting students reads once a second, instead of once per student.
    public func positions() -> [String: Int] {
        var positions: [String: Int] = [:]
        positions.reserveCapacity(location.count)
        var next = 0
        for lane in lanes {
            // Round r of the rotation serves the r-th item of every user who has one, in turn order.
            var users = lane.turns.compactMap { user in lane.items[user].map { Array($0) } }
            var round = 0
            while !users.isEmpty {
                for items in users {
                    positions[items[round].id] = next
                    next += 1
                }
                round += 1
                users.removeAll { $0.count <= round }
            }
        }
        return positions
    }

    /// How many items wait in each class, by `PriorityClass.rawValue`.
    public var countsByClass: [Int] {
        var counts = Array(repeating: 0, count: lanes.count)
        for (priority, _) in location.values { counts[priority.rawValue] += 1 }
        return counts
    }

    /// Every queued item, in no particular order.
    public var allItems: [Item] {
        lanes.flatMap { $0.items.values.flatMap { $0.map(\.item) } }
    }
}
