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
    private let timer: StreamTimer<Listener>

    init(watch: QueueWatch) {
        self.watch = watch
        timer = StreamTimer(every: .seconds(1)) { _, listeners in
            // A job said to run has nothing more to say.
            listeners = listeners.filter { !$0.value.notice.isDone }
            let listening = Array(listeners.values)
            guard !listening.isEmpty else { return [] }
            return [{
                let snapshot = watch.current
                for listener in listening {
                    if let buffer = listener.notice.next(in: snapshot, isRunning: watch.isRunning) { listener.subscription.put(.notice(buffer)) }
                }
            }]
        }
    }

    /// Starts telling a job's stream, into its subscription: its first notice at once, then each change,
    /// until the job was said to run or the subscription ends (the client left).
    func listen(_ notice: QueueNotice, into subscription: Subscription) {
        if let first = notice.next(in: watch.current, isRunning: watch.isRunning) { subscription.put(.notice(first)) }
        guard !notice.isDone else { return }
        timer.keep(Listener(notice: notice, subscription: subscription), until: subscription)
    }
}
