import Foundation
import NIOCore
import SluiceCore
import Synchronization

/// What a waiting job's stream tells its client before the answer starts: `event: queue` with the job's
/// place (`{"state":"queued","position":N,"ahead":N-1}`: 1 is next, `ahead` as the job's
/// `queue_position` counts) whenever it changes, then `{"state":"running"}`
/// once a worker takes it. Notices carry no `id:`, so a client's `Last-Event-ID` stays on the job's own
/// events. In a cluster a job waiting in the shared queue has no position here: `{"state":"queued"}`.
final class QueueNotice: Sendable {
    private enum Said: Equatable {
        case nothing, queued(Int?), running
    }

    let job: String
    /// The job already ran when its stream opened (here or on another node of a cluster).
    private let wasRunning: Bool
    private let said = Mutex(Said.nothing)

    init(job: String, running: Bool) {
        self.job = job
        wasRunning = running
    }

    /// The notice to send after the queue was looked at, or nil when the client already knows (or the
    /// job runs and was said to).
    func next(in snapshot: QueueSnapshot, isRunning: (String) -> Bool) -> ByteBuffer? {
        let now: Said
        if let position = snapshot.positions[job] {
            now = .queued(position + 1)
        } else if wasRunning || isRunning(job) {
            now = .running
        } else {
            now = .queued(nil)
        }
        return say(now)
    }

    /// `{"state":"running"}`, unless said: the answer's first chunk is here (it may beat the next check).
    func answering() -> ByteBuffer? { say(.running) }

    private func say(_ now: Said) -> ByteBuffer? {
        let changed = said.withLock { said -> Bool in
            guard said != now, said != .running else { return false }
            said = now
            return true
        }
        guard changed else { return nil }
        let object: JSONValue = switch now {
        case .queued(let position?): ["state": "queued", "position": .int(Int64(position)), "ahead": .int(Int64(position - 1))]
        case .running: ["state": "running"]
        default: ["state": "queued"]
        }
        return ServerSentEvents.event(id: nil, name: "queue", json: ServerSentEvents.json(object))
    }

    /// Whether nothing more will be said.
    var isDone: Bool { said.withLock { $0 == .running } }
}
