/// A least-recently-used map bounded by entry count and by total size; O(1) lookups, inserts and
/// evictions. Not thread-safe: the owner holds it under a lock.
struct LRU<Value> {
    private struct Node {
        var key: String
        var value: Value
        var size: Int
        var newer: String?
        var older: String?
    }

    private var nodes: [String: Node] = [:]
    private var newest: String?
    private var oldest: String?
    private(set) var totalSize = 0
    let maxEntries: Int
    let maxSize: Int

    init(maxEntries: Int, maxSize: Int) {
        self.maxEntries = max(1, maxEntries)
        self.maxSize = max(1, maxSize)
    }

    var count: Int { nodes.count }

    /// The value, marked as just used.
    mutating func get(_ key: String) -> Value? {
        guard let node = nodes[key] else { return nil }
        moveToNewest(key)
        return node.value
    }

    /// The value without marking it used.
    func peek(_ key: String) -> Value? { nodes[key]?.value }

    /// Inserts or replaces; returns the values evicted to make room.
    @discardableResult
    mutating func set(_ key: String, _ value: Value, size: Int) -> [(String, Value)] {
        if nodes[key] != nil { _ = remove(key) }
        nodes[key] = Node(key: key, value: value, size: size, newer: nil, older: newest)
        if let newest { nodes[newest]?.newer = key }
        newest = key
        if oldest == nil { oldest = key }
        totalSize += size
        var evicted: [(String, Value)] = []
        while nodes.count > maxEntries || (totalSize > maxSize && nodes.count > 1), let victim = oldest {
            if let value = remove(victim) { evicted.append((victim, value)) }
        }
        return evicted
    }

    /// Removes a key.
    @discardableResult
    mutating func remove(_ key: String) -> Value? {
        guard let node = nodes.removeValue(forKey: key) else { return nil }
        if let newer = node.newer { nodes[newer]?.older = node.older } else { newest = node.older }
        if let older = node.older { nodes[older]?.newer = node.newer } else { oldest = node.newer }
        totalSize -= node.size
        return node.value
    }

    /// Every key whose value matches.
    func keys(where match: (Value) -> Bool) -> [String] {
        nodes.values.filter { match($0.value) }.map(\.key)
    }

    private mutating func moveToNewest(_ key: String) {
        guard newest != key, let node = nodes[key] else { return }
        let value = node.value
        let size = node.size
        _ = remove(key)
        nodes[key] = Node(key: key, value: value, size: size, newer: nil, older: newest)
        if let newest { nodes[newest]?.newer = key }
        newest = key
        if oldest == nil { oldest = key }
        totalSize += size
    }
}
