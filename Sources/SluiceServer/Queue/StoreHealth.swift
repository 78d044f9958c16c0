import Foundation
import SluiceCore
import SluiceStore
import Synchronization

/// Whether the store takes writes now, as the last writes found it: a failed write marks it down (full,
/// when its disk is), a write that succeeds marks it up again. `/readyz` and acceptance read it.
final class StoreHealth: Sendable {
    enum Status: Sendable, Equatable {
        case up
        case down(since: Date)
        case full(since: Date)
    }

    private let state = Mutex(Status.up)
    /// Whether the database answers at all (a shared store's listening connection says).
    private let reachable = Atomic<Bool>(true)

    var status: Status {
        let status = state.withLock { $0 }
        if status == .up, !reachable.load(ordering: .relaxed) { return .down(since: Date()) }
        return status
    }

    /// Whether new requests are refused at once, without waiting on the store: only while the database
    /// is known to be unreachable (a write that merely failed is tried again by the next request).
    var refusesAtOnce: Bool { !reachable.load(ordering: .relaxed) }

    /// The database answers again, or stopped answering.
    func reachable(_ flag: Bool) { reachable.store(flag, ordering: .relaxed) }
    var isUp: Bool { status == .up }

    /// Records a failed write.
    func failed(_ error: any Error, now: Date = Date()) {
        let full = StoreFailure.isDiskFull(error)
        state.withLock { status in
            switch status {
            case .up: status = full ? .full(since: now) : .down(since: now)
            case .down(let since), .full(let since): status = full ? .full(since: since) : .down(since: since)
            }
        }
    }

    /// Records a write that reached the store.
    func succeeded() { state.withLock { $0 = .up } }

    /// The error a new request gets while the store is down: 507 `storage_full` or 503 `storage_unavailable`,
    /// each with a `Retry-After` of a second.
    static func refusal(for error: any Error) -> SluiceError {
        SluiceError(StoreFailure.isDiskFull(error) ? .storageFull : .storageUnavailable, retryAfter: 1)
    }
}
