import Foundation
import HeapModule

/// A hierarchical navigable small-world graph over unit vectors (cosine similarity): approximate
/// nearest-neighbour search in logarithmic time. Deleted items stay in the graph as waypoints but are
/// never returned. Not thread-safe: the owner holds it under a lock.
struct HNSWIndex {
    struct Node {
        var vector: [Float]
        var key: String
        var neighbours: [[Int32]]
        var deleted = false
    }

    private(set) var nodes: [Node] = []
    private var entry: Int?
    private var topLevel = 0
    private var byKey: [String: Int] = [:]
    let m: Int
    let efConstruction: Int
    let efSearch: Int
    private var rng: SystemRandomNumberGenerator = .init()

    init(m: Int = 16, efConstruction: Int = 100, efSearch: Int = 64) {
        self.m = m
        self.efConstruction = efConstruction
        self.efSearch = efSearch
    }

    var count: Int { byKey.count }

    private mutating func randomLevel() -> Int {
        let scale = 1 / log(Double(max(2, m)))
        let r = Double.random(in: Double.ulpOfOne..<1, using: &rng)
        return Int(-log(r) * scale)
    }

    private func similarity(_ a: [Float], _ b: Int) -> Float { Vector.dot(a, nodes[b].vector) }

    /// Adds (or replaces) a vector under a key.
    mutating func insert(key: String, vector: [Float]) {
        if let old = byKey[key] { nodes[old].deleted = true }
        let level = randomLevel()
        let id = nodes.count
        nodes.append(Node(vector: vector, key: key, neighbours: Array(repeating: [], count: level + 1)))
        byKey[key] = id
        guard var current = entry else {
            entry = id
            topLevel = level
            return
        }
        if topLevel > level {
            for layer in stride(from: topLevel, to: level, by: -1) { current = greedy(vector, from: current, layer: layer) }
        }
        for layer in stride(from: min(level, topLevel), through: 0, by: -1) {
            let candidates = search(vector, from: [current], ef: efConstruction, layer: layer)
            let limit = layer == 0 ? m * 2 : m
            let chosen = candidates.prefix(limit).map(\.id)
            nodes[id].neighbours[layer] = chosen.map { Int32($0) }
            for neighbour in chosen {
                nodes[neighbour].neighbours[layer].append(Int32(id))
                if nodes[neighbour].neighbours[layer].count > limit {
                    let base = nodes[neighbour].vector
                    nodes[neighbour].neighbours[layer] = nodes[neighbour].neighbours[layer]
                        .map { ($0, Vector.dot(base, nodes[Int($0)].vector)) }
                        .sorted { $0.1 > $1.1 }.prefix(limit).map(\.0)
                }
            }
            if let best = candidates.first { current = best.id }
        }
        if level > topLevel {
            topLevel = level
            entry = id
        }
    }

    /// Marks a key deleted.
    mutating func remove(key: String) {
        if let id = byKey.removeValue(forKey: key) { nodes[id].deleted = true }
    }

    /// Deleted items kept as waypoints.
    var tombstones: Int { nodes.count - byKey.count }

    /// Whether the deleted items outweigh the live ones enough to rebuild (they cost memory and search time).
    var needsCompaction: Bool { tombstones > 64 && tombstones > byKey.count }

    /// The same live items in a new graph, without the deleted ones.
    func compacted() -> HNSWIndex {
        var index = HNSWIndex(m: m, efConstruction: efConstruction, efSearch: efSearch)
        for node in nodes where !node.deleted { index.insert(key: node.key, vector: node.vector) }
        return index
    }

    /// The most similar live key, with its similarity.
    func nearest(_ vector: [Float]) -> (key: String, similarity: Float)? { nearest(vector, count: 1).first }

    /// The `count` most similar live keys, best first.
    func nearest(_ vector: [Float], count: Int) -> [(key: String, similarity: Float)] {
        guard var current = entry else { return [] }
        for layer in stride(from: topLevel, to: 0, by: -1) { current = greedy(vector, from: current, layer: layer) }
        let found = search(vector, from: [current], ef: max(efSearch, count), layer: 0)
        return found.lazy.filter { !nodes[$0.id].deleted }.prefix(count).map { (nodes[$0.id].key, $0.similarity) }
    }

    private func greedy(_ vector: [Float], from start: Int, layer: Int) -> Int {
        var current = start
        var best = similarity(vector, current)
        var improved = true
        while improved {
            improved = false
            for neighbour in nodes[current].neighbours[layer] {
                let s = similarity(vector, Int(neighbour))
                if s > best {
                    best = s
                    current = Int(neighbour)
                    improved = true
                }
            }
        }
        return current
    }

    struct Scored: Comparable {
        var similarity: Float
        var id: Int
        static func < (a: Self, b: Self) -> Bool { (a.similarity, a.id) < (b.similarity, b.id) }
    }

    /// Beam search on one layer; results best first.
    private func search(_ vector: [Float], from starts: [Int], ef: Int, layer: Int) -> [(id: Int, similarity: Float)] {
        var visited = Set(starts)
        visited.reserveCapacity(ef * m * 2)
        var candidates = Heap(starts.map { Scored(similarity: similarity(vector, $0), id: $0) })
        var results = candidates
        while let closest = candidates.popMax() {
            if results.count >= ef, let worst = results.min, closest.similarity < worst.similarity { break }
            guard layer < nodes[closest.id].neighbours.count else { continue }
            for neighbour in nodes[closest.id].neighbours[layer] {
                let id = Int(neighbour)
                guard visited.insert(id).inserted else { continue }
                let s = similarity(vector, id)
                if results.count < ef || s > results.min!.similarity {
                    candidates.insert(Scored(similarity: s, id: id))
                    results.insert(Scored(similarity: s, id: id))
                    if results.count > ef { _ = results.popMin() }
                }
            }
        }
        var ordered: [(id: Int, similarity: Float)] = []
        while let best = results.popMax() { ordered.append((best.id, best.similarity)) }
        return ordered
    }

    /// Exact search, for measuring recall.
    func bruteForce(_ vector: [Float]) -> (key: String, similarity: Float)? {
        nodes.indices.filter { !nodes[$0].deleted }.map { (nodes[$0].key, similarity(vector, $0)) }.max { $0.1 < $1.1 }
    }
}
