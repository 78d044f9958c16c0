import Foundation
import NIOCore
import Synchronization

/// Tells every waiting stream that asked (`?queue_notices=true`) where its job stands: one task looks at
/// the queue once a second (`QueueWatch`, one pass for all) while any stream listens, and wakes a
/// stream only when its job's place changed or it started — so a waiting student's stream costs what an
/// idle event stream does, however long the queue.
final class QueueNotices: Sendable {
    private struct Listener {
        var notice: QueueNotice
        var continuation: AsyncStream<ByteBuffer>.Continuation
    }

    private let watch: QueueWatch
    private let state = Mutex<(next: UInt64, listeners: [UInt64: Listener], watcher: Task<Void, Never>?)>((0, [:], nil))

    init(watch: QueueWatch) {
        self.watch = watch
    }

    /// Starts telling a job's stream: its first notice at once, then each change; the stream ends once
    /// the job was said to run. `close` stops early (the client left).
    func listen(_ notice: QueueNotice) -> (notices: AsyncStream<ByteBuffer>, close: @Sendable () -> Void) {
        let (notices, continuation) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingNewest(4))
        if let first = notice.next(in: watch.current, isRunning: watch.isRunning) { continuation.yield(first) }
        let id = state.withLock { state -> UInt64 in
            state.next += 1
            state.listeners[state.next] = Listener(notice: notice, continuation: continuation)
            if state.watcher == nil { state.watcher = Task { [weak self] in await self?.run() } }
            return state.next
        }
        let close: @Sendable () -> Void = { [weak self] in self?.stop(id) }
        continuation.onTermination = { _ in close() }
        if notice.isDone { continuation.finish() }
        return (notices, close)
    }

    private func stop(_ id: UInt64) {
        let (listener, watcher) = state.withLock { state -> (Listener?, Task<Void, Never>?) in
            let listener = state.listeners.removeValue(forKey: id)
            guard state.listeners.isEmpty, let watcher = state.watcher else { return (listener, nil) }
            state.watcher = nil
            return (listener, watcher)
        }
        listener?.continuation.finish()
        watcher?.cancel()
    }

    private func run() async {
        while (try? await Task.sleep(for: .seconds(1))) != nil {
            let listeners = state.withLock { Array($0.listeners) }
            guard !listeners.isEmpty else { continue }
            let snapshot = watch.current
            for (id, listener) in listeners {
                if let buffer = listener.notice.next(in: snapshot, isRunning: watch.isRunning) { listener.continuation.yield(buffer) }
                if listener.notice.isDone { stop(id) }
            }
        }
    }
}
