import NIOCore
import SluiceCore
import Synchronization

/// One item a subscriber hears: a job's chunk, or — put in by the HTTP stream that writes it — time for a
/// heartbeat, or a notice that is not part of the job's stream (its place in the queue).
enum StreamItem: Sendable {
    case chunk(StreamChunk)
    case heartbeat
    case notice(ByteBuffer)
}

/// What one subscriber to a job's stream hears, in order: the hub puts the job's chunks in, and an HTTP
/// stream's heartbeats and queue notices go into the same buffer, so a waiting client costs this object
/// and nothing that runs (no task forwards, times or watches per stream). Its reader takes everything
/// waiting at once (`nextBatch`), so a stream that fell behind — a follower joining mid-answer, a node
/// short of CPU — is written in one write, not one per chunk. Iterated as a sequence of chunks
/// (heartbeats and notices skipped). It ends when the job's terminal chunk was put in, or at `finish`
/// (the client left, shutdown), or when its reader's task is cancelled; the actions given to
/// `whenEnded` then run once (unsubscribe, stop the heartbeats).
final class Subscription: AsyncSequence, Sendable {
    typealias Element = StreamChunk

    private struct State {
        var waiting: [StreamItem] = []
        var reader: CheckedContinuation<[StreamItem], Never>?
        var finished = false
        /// What runs when the subscription ends; nil once it ran.
        var endings: [@Sendable () -> Void]? = []
    }

    private let state = Mutex(State())

    init() {}

    /// A subscription that hears `source` (a stream made elsewhere, as the mock upstream's): one task
    /// relays it, stopped when the subscription ends.
    static func relaying(_ source: some AsyncSequence<StreamChunk, Never> & Sendable) -> Subscription {
        let subscription = Subscription()
        let relay = Task {
            for await chunk in source { subscription.put(chunk) }
            subscription.finish()
        }
        subscription.whenEnded { relay.cancel() }
        return subscription
    }

    /// Puts a chunk in; a terminal chunk ends the subscription after it.
    func put(_ chunk: StreamChunk) {
        put(.chunk(chunk))
        if chunk.event.isTerminal { finish() }
    }

    /// Puts a heartbeat or a notice in (dropped once the subscription ended).
    func put(_ item: StreamItem) {
        let reader = state.withLock { state -> CheckedContinuation<[StreamItem], Never>? in
            guard !state.finished else { return nil }
            guard let reader = state.reader else {
                state.waiting.append(item)
                return nil
            }
            state.reader = nil
            return reader
        }
        reader?.resume(returning: [item])
    }

    /// Ends the subscription after what it holds.
    func finish() {
        end(dropping: false)
    }

    private func end(dropping: Bool) {
        let (reader, endings) = state.withLock { state -> (CheckedContinuation<[StreamItem], Never>?, [@Sendable () -> Void]) in
            state.finished = true
            if dropping { state.waiting = [] }
            defer { state.reader = nil; state.endings = nil }
            return (state.reader, state.endings ?? [])
        }
        reader?.resume(returning: [])
        for action in endings { action() }
    }

    /// Runs `action` when the subscription ends (at once if it has).
    func whenEnded(_ action: @escaping @Sendable () -> Void) {
        let ended = state.withLock { state -> Bool in
            guard state.endings != nil else { return true }
            state.endings?.append(action)
            return false
        }
        if ended { action() }
    }

    /// Everything put in since the last call, in order, waiting for something if nothing is; empty once
    /// the subscription ended and what it held was taken. One reader at a time. A cancelled reader ends
    /// the subscription, dropping what it held.
    func nextBatch() async -> [StreamItem] {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> [StreamItem]? in
                    if !state.waiting.isEmpty {
                        defer { state.waiting = [] }
                        return state.waiting
                    }
                    if state.finished || Task.isCancelled { return [] }
                    state.reader = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            end(dropping: true)
        }
    }

    func makeAsyncIterator() -> Iterator {
        Iterator(subscription: self)
    }

    /// The chunks, without heartbeats and notices.
    struct Iterator: AsyncIteratorProtocol {
        let subscription: Subscription
        var batch = [StreamItem]().makeIterator()

        mutating func next() async -> StreamChunk? {
            while true {
                while let item = batch.next() {
                    if case .chunk(let chunk) = item { return chunk }
                }
                let items = await subscription.nextBatch()
                if items.isEmpty { return nil }
                batch = items.makeIterator()
            }
        }
    }
}
