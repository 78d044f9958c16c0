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
        var subscription: Subscription
    }

    private let watch: QueueWatch
    private let state = Mutex<(next: UInt64, listeners: [UInt64: Listener], watcher: Task<Void, Never>?)>((0, [:], nil))

    init(watch: QueueWatch) {
        self.watch = watch
    }

    /// Starts telling a job's stream, into its subscription: its first notice at once, then each change,
    /// until the job was said to run or the subscription ends (the client left).
    func listen(_ notice: QueueNotice, into subscription: Subscription) {
        if let first = notice.next(in: watch.current, isRunning: watch.isRunning) { subscription.put(.notice(first)) }
        guard !notice.isDone else { return }
        let id = state.withLock { state -> UInt64 in
            state.next += 1
            state.listeners[state.next] = Listener(notice: notice, subscription: subscription)
            if state.watcher == nil { state.watcher = Task { [weak self] in await self?.run() } }
            return state.next
        }
        subscription.whenEnded { [weak self] in self?.stop(id) }
    }

    private func stop(_ id: UInt64) {
        let watcher = state.withLock { state -> Task<Void, Never>? in
            state.listeners[id] = nil
            guard state.listeners.isEmpty, let watcher = state.watcher else { return nil }
            state.watcher = nil
            return watcher
        }
        watcher?.cancel()
    }

    private func run() async {
        while (try? await Task.sleep(for: .seconds(1))) != nil {
            let listeners = state.withLock { Array($0.listeners) }
            guard !listeners.isEmpty else { continue }
            let snapshot = watch.current
            for (id, listener) in listeners {
                if let buffer = listener.notice.next(in: snapshot, isRunning: watch.isRunning) { listener.subscription.put(.notice(buffer)) }
                if listener.notice.isDone { stop(id) }
            }
        }
    }
}
