import Synchronization

/// How long a statement waits for PostgreSQL's answer before its caller is told it came not: a write's
/// caller that its commit is unknown, a read's that the store did not answer.
///
/// PostgresNIO can leave a statement unanswered for good when its connection closes just as the
/// statement goes out (the database crashed at that moment): no error, no rows, nothing running on the
/// server (vapor/postgres-nio#487; the fix was reverted in #501). `PostgresFaultTests` found a job's chunk
/// write waiting so 90 s after the database was back, every server connection idle, and the job running
/// for ever on a node whose heartbeats kept its lease. Writes that keep work moving — a job's chunks, its
/// saves and inserts, heartbeats, usage — wait at most `seconds`. Then the caller gets `CommitUnknown` (the
/// statement may have committed) and does what it does after a lost connection: reads or retries. The
/// statement's task is cancelled and left to end on its own.
///
/// The loops a node's work depends on are bounded the same way, reads too: a claim, rescue or count that
/// hung would stop that loop for good (the node never claims again), as would a read of the watchdog's.
struct StatementDeadline: Sendable {
    let seconds: Double
    /// Whether the statement may commit: then an unanswered one is `CommitUnknown`, else `StatementUnanswered`.
    let mayCommit: Bool

    /// The deadline of the stores' writes: far beyond any statement of this schema under load (they take
    /// milliseconds), and shorter than a provider's default idle timeout (30 s), so that an attempt held
    /// up by the store ends as the store's failure, which does not count against the job or the provider.
    static let writes = StatementDeadline(seconds: 15, mayCommit: true)

    /// The deadline of the reads of the loops that keep work moving (the cluster's counts, the watchdog's
    /// reads, a job and its chunks read to take it up), as long as the writes'.
    static let reads = StatementDeadline(seconds: 15, mayCommit: false)

    /// Runs `body`, waiting at most `seconds` for it. Cancelling the caller cancels it and stops the wait
    /// at once: an unanswered statement may not notice its cancellation.
    func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let wait = Wait<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                wait.start(continuation, seconds: seconds, mayCommit: mayCommit, body)
            }
        } onCancel: {
            wait.cancel()
        }
    }
}

/// No answer came within the statement deadline. A store error (`StoreFailure.isStoreError`).
struct StatementUnanswered: Error, CustomStringConvertible {
    var seconds: Double
    var description: String { "PostgreSQL gave no answer within \(seconds) s" }
}

/// One bounded wait: whichever of the statement and its timer ends first answers the caller.
private final class Wait<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var work: Task<Void, Never>?
        var timer: Task<Void, Never>?
        var cancelled = false
    }

    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<T, any Error>, seconds: Double, mayCommit: Bool, _ body: @escaping @Sendable () async throws -> T) {
        state.withLock { $0.continuation = continuation }
        let timer = Task {
            guard (try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))) != nil else { return }
            let unanswered = StatementUnanswered(seconds: seconds)
            self.answer(.failure(mayCommit ? CommitUnknown(underlying: unanswered) : unanswered))
        }
        let work = Task {
            do {
                self.answer(.success(try await body()))
            } catch {
                self.answer(.failure(error))
            }
        }
        let (answered, cancelled) = state.withLock { state in
            state.work = work
            state.timer = timer
            return (state.continuation == nil, state.cancelled)
        }
        // An answer (or a cancellation) that came before the handles were kept could not stop them.
        if answered {
            timer.cancel()
            work.cancel()
        } else if cancelled {
            answer(.failure(CancellationError()))
        }
    }

    func cancel() {
        state.withLock { $0.cancelled = true }
        answer(.failure(CancellationError()))
    }

    /// Answers the caller once; the other side is cancelled.
    private func answer(_ result: Result<T, any Error>) {
        let (continuation, work, timer) = state.withLock { state in
            defer { state.continuation = nil }
            return (state.continuation, state.work, state.timer)
        }
        guard let continuation else { return }
        work?.cancel()
        timer?.cancel()
        continuation.resume(with: result)
    }
}
