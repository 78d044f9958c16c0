import Foundation
import SluiceCache
import SluiceCore
import SluiceStore

/// Cache hits as jobs: a front door that must show a hit as a job (the jobs API, Responses, Messages)
/// stores it finished, and every hit streams as a replay of the cached answer.
extension JobService {
    /// Stores a cache hit as a finished job of its caller, so that the jobs API can read and stream it.
    func recordHit(
        _ entry: CacheEntry, layer: String, request: ChatRequest, owner: Principal, id: String, origin: JobOrigin?, now: Date = Date()
    ) async throws -> Job {
        var job = Job(id: id, owner: owner, priority: owner.priorityClass, request: request, createdAt: now, deadline: now)
        job.origin = origin
        job.state = .succeeded
        job.startedAt = now
        job.finishedAt = now
        job.result = JobResult(
            text: entry.text, finishReason: entry.finishReason, usage: entry.usage, cost: 0, pieces: entry.pieces, fingerprint: entry.fingerprint)
        job.cache = CachePlan(key: entry.key, namespace: entry.namespace, tags: entry.tags, store: false, servedFrom: layer)
        try await store.insert(job)
        try await store.save(job, appending: Self.replay(entry, cache: layer))
        return job
    }

    /// A cached answer as stream chunks: the text in word-sized deltas, the rest of the answer (tool
    /// calls, log probabilities, other choices) one piece per choice, then `done`.
    static func replay(_ entry: CacheEntry, cache: String) -> [StreamChunk] {
        var events: [StreamEvent] = entry.text.wordPieces.map { .delta($0) }
        events += (entry.pieces ?? []).map { .choice($0) }
        events.append(.done(finishReason: entry.finishReason, usage: entry.usage, cache: cache, fingerprint: entry.fingerprint))
        return events.enumerated().map { StreamChunk(seq: $0.offset + 1, event: $0.element) }
    }
}
