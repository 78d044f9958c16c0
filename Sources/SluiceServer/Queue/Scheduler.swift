import DequeModule
import Foundation
import HeapModule
import SluiceCore
import Synchronization

/// Decides which queued job runs next: strict priority classes, fair across users within a class, a cap
/// on each user's running jobs. Idle workers wait for a wake-up, never poll. Also holds retries until
/// their backoff ends and finds jobs past their deadline.
final class Scheduler: Sendable {
    struct Timed: Comparable {
        var at: Date
        var id: String
        static func < (a: Self, b: Self) -> Bool { (a.at, a.id) < (b.at, b.id) }
    }

    struct State {
        var queue = FairQueue<Job>()
        var delayed: [String: Job] = [:]
        var timers = Heap<Timed>()
        var waiters: Deque<CheckedContinuation<(Job, RunControl)?, Never>> = []
        var running: [String: RunControl] = [:]
        var runningPerUser: [String: Int] = [:]
        var stopped = false
        var timerWake: CheckedContinuation<Void, Never>?
        var wakePending = false
        let limit: Int
    }

    /// What `cancel` found.
    enum CancelOutcome {
        /// The job was waiting; it is now out of the queue and the caller ends it.
        case dequeued(Job)
        /// The job is running; its worker was told to stop.
        case signalled
        /// The job is neither queued nor running here.
        case notHere
    }

    private let state: Mutex<State>

    init(maxRunningPerUser: Int) {
        state = Mutex(State(limit: max(1, maxRunningPerUser)))
    }

    /// Queues a job (after its backoff, when it has one) and wakes a worker.
    func enqueue(_ job: Job, now: Date = Date()) {
        let (handoffs, wake) = state.withLock { state in
            if let notBefore = job.notBefore, notBefore > now {
                state.delayed[job.id] = job
                state.timers.insert(Timed(at: notBefore, id: job.id))
            } else {
                state.queue.push(job, id: job.id, user: job.owner.userKey, priority: job.priority)
                state.timers.insert(Timed(at: job.deadline, id: job.id))
            }
            return (Self.dispatch(&state), Self.takeTimerWake(&state))
        }
        Self.run(handoffs)
        wake?.resume()
    }

    /// Wakes the timer loop, or makes its next wait return at once.
    private func wakeTimers() {
        let wake = state.withLock { Self.takeTimerWake(&$0) }
        wake?.resume()
    }

    /// The next job to run, marked running; nil once the scheduler is stopped.
    func next() async -> (Job, RunControl)? {
        await withCheckedContinuation { continuation in
            let handoffs = state.withLock { state in
                if state.stopped { return [(continuation, nil)] as [Handoff] }
                state.waiters.append(continuation)
                return Self.dispatch(&state)
            }
            Self.run(handoffs)
        }
    }

    /// Records that a job no longer runs here, which may let another of its user's jobs start.
    func finished(_ job: Job) {
        let handoffs = state.withLock { state in
            state.running[job.id] = nil
            let user = job.owner.userKey
            state.runningPerUser[user, default: 1] -= 1
            if state.runningPerUser[user] == 0 { state.runningPerUser[user] = nil }
            return Self.dispatch(&state)
        }
        Self.run(handoffs)
    }

    /// Takes a waiting job out of the queue, or tells its worker to stop.
    func cancel(_ id: String) -> CancelOutcome {
        let outcome = state.withLock { state -> (CancelOutcome, RunControl?) in
            if let job = state.queue.remove(id: id) ?? state.delayed.removeValue(forKey: id) { return (.dequeued(job), nil) }
            if let control = state.running[id] { return (.signalled, control) }
            return (.notHere, nil)
        }
        outcome.1?.stop(.cancelled)
        return outcome.0
    }

    /// The number of jobs that would start before this one, while it is queued.
    func position(of id: String) -> Int? {
        state.withLock { $0.queue.position(of: id) }
    }

    /// Queued jobs (waiting or in backoff) and running ones.
    var counts: (queued: Int, running: Int) {
        state.withLock { ($0.queue.count + $0.delayed.count, $0.running.count) }
    }

    /// Stops handing out work: idle workers get nil; running jobs are told `reason` when given.
    func stop(running reason: StopReason?) {
        let (waiters, controls, wake) = state.withLock { state in
            state.stopped = true
            defer { state.waiters.removeAll() }
            return (Array(state.waiters), Array(state.running.values), Self.takeTimerWake(&state))
        }
        for waiter in waiters { waiter.resume(returning: nil) }
        if let reason { for control in controls { control.stop(reason) } }
        wake?.resume()
    }

    /// Handles every timer due by `now`: retries whose backoff ended join the queue; queued jobs past their
    /// deadline leave it and are returned, for the caller to expire. Also returns the next timer's date.
    func fireTimers(now: Date) -> (expired: [Job], next: Date?) {
        let (expired, next, handoffs) = state.withLock { state in
            var expired: [Job] = []
            while let top = state.timers.min, top.at <= now {
                state.timers.removeMin()
                if let job = state.delayed.removeValue(forKey: top.id) {
                    state.queue.push(job, id: job.id, user: job.owner.userKey, priority: job.priority)
                    state.timers.insert(Timed(at: job.deadline, id: job.id))
                } else if state.queue.contains(id: top.id), let job = state.queue.remove(id: top.id) {
                    if job.deadline <= now { expired.append(job) } else { state.queue.push(job, id: job.id, user: job.owner.userKey, priority: job.priority) }
                }
            }
            return (expired, state.timers.min?.at, Self.dispatch(&state))
        }
        Self.run(handoffs)
        return (expired, next)
    }

    /// Waits until `date` or until a new timer may be earlier; returns at once when stopped.
    func waitForTimers(until date: Date?) async {
        await withTaskGroup(of: Void.self) { group in
            if let date {
                group.addTask {
                    guard (try? await Task.sleep(for: .seconds(max(0, date.timeIntervalSinceNow)))) != nil else { return }
                    self.wakeTimers()
                }
            }
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if state.stopped || state.wakePending {
                        state.wakePending = false
                        return true
                    }
                    state.timerWake = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
            group.cancelAll()
        }
    }

    var isStopped: Bool { state.withLock { $0.stopped } }

    typealias Handoff = (CheckedContinuation<(Job, RunControl)?, Never>, (Job, RunControl)?)

    private static func dispatch(_ state: inout State) -> [Handoff] {
        var handoffs: [Handoff] = []
        while !state.stopped, !state.waiters.isEmpty {
            let cap = state.runningPerUser
            let limit = state.limit
            guard let job = state.queue.pop(where: { (cap[$0] ?? 0) < limit }) else { break }
            let control = RunControl()
            state.running[job.id] = control
            state.runningPerUser[job.owner.userKey, default: 0] += 1
            handoffs.append((state.waiters.removeFirst(), (job, control)))
        }
        return handoffs
    }

    private static func takeTimerWake(_ state: inout State) -> CheckedContinuation<Void, Never>? {
        guard let wake = state.timerWake else {
            state.wakePending = true
            return nil
        }
        state.timerWake = nil
        return wake
    }

    private static func run(_ handoffs: [Handoff]) {
        for (waiter, value) in handoffs { waiter.resume(returning: value) }
    }
}
