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

/// What one subscriber to a job's stream hears, in order, in one `AsyncStream`: the hub puts the job's
/// chunks in, and an HTTP stream's heartbeats and queue notices go into the same stream, so a waiting
/// client costs this object and nothing that runs (no task forwards, times or watches per stream).
/// Iterated as a sequence of chunks (heartbeats and notices skipped); `items` gives everything.
/// It ends when the job's terminal chunk was put in, or at `finish` (the client left, shutdown); the
/// actions given to `whenEnded` then run once (unsubscribe, stop the heartbeats).
final class Subscription: AsyncSequence, Sendable {
    typealias Element = StreamChunk

    let items: AsyncStream<StreamItem>
    private let continuation: AsyncStream<StreamItem>.Continuation
    /// What runs when the subscription ends; nil once it ran.
    private let endings = Mutex<[@Sendable () -> Void]?>([])

    init() {
        (items, continuation) = AsyncStream.makeStream()
        continuation.onTermination = { [weak self] _ in self?.ended() }
    }

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
        continuation.yield(.chunk(chunk))
        if chunk.event.isTerminal { finish() }
    }

    /// Puts a heartbeat or a notice in (dropped once the subscription ended).
    func put(_ item: StreamItem) {
        continuation.yield(item)
    }

    /// Ends the subscription after what it holds.
    func finish() {
        continuation.finish()
    }

    private func ended() {
        for action in endings.withLock({ endings in defer { endings = nil }; return endings ?? [] }) { action() }
    }

    /// Runs `action` when the subscription ends (at once if it has).
    func whenEnded(_ action: @escaping @Sendable () -> Void) {
        let ended = endings.withLock { endings -> Bool in
            guard endings != nil else { return true }
            endings?.append(action)
            return false
        }
        if ended { action() }
    }

    func makeAsyncIterator() -> Iterator {
        Iterator(items: items.makeAsyncIterator())
    }

    /// The chunks, without heartbeats and notices.
    struct Iterator: AsyncIteratorProtocol {
        var items: AsyncStream<StreamItem>.Iterator

        mutating func next() async -> StreamChunk? {
            while let item = await items.next() {
                if case .chunk(let chunk) = item { return chunk }
            }
            return nil
        }
    }
}
