import DequeModule
import Foundation
import HeapModule
import SluiceCore
import SluiceProviders
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
        var waiters: Deque<CheckedContinuation<Claim?, Never>> = []
        var capacityTimer: Date?
        var running: [String: RunControl] = [:]
        /// Running attempts by `PriorityClass.rawValue`.
        var runningByClass = Array(repeating: 0, count: PriorityClass.allCases.count)
        var runningPerUser: [String: Int] = [:]
        var stopped = false
        var timerWake: CheckedContinuation<Void, Never>?
        var wakePending = false
        let limit: Int
        /// The running jobs' cap of each plan that sets its own (`Plan.maxRunning`), instead of `limit`.
        let planLimits: [String: Int]
        /// Workers that jobs other than bypass may use.
        let sharedWorkers: Int
        var runningShared = 0
        /// Queued jobs by alias, so that a dispatch pass can stop once every alias is out of capacity.
        var queuedAliases: [String: Int] = [:]

        mutating func push(_ job: Job) {
            guard !queue.contains(id: job.id) else { return }
            queue.push(job, id: job.id, user: job.owner.userKey, priority: job.priority)
            queuedAliases[job.request.model, default: 0] += 1
        }

        mutating func remove(id: String) -> Job? {
            guard let job = queue.remove(id: id) else { return nil }
            forget(job)
            return job
        }

        mutating func forget(_ job: Job) {
            queuedAliases[job.request.model, default: 1] -= 1
            if queuedAliases[job.request.model] == 0 { queuedAliases[job.request.model] = nil }
        }
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

    /// A job handed to a worker: its run control and its provider slot.
    typealias Claim = (job: Job, control: RunControl, lease: ProviderRouter.Lease)

    private let state: Mutex<State>
    let router: ProviderRouter
    static let capacityTimerID = "\u{0}capacity"

    /// - Parameters:
    ///   - maxRunningPerUser: jobs of one user that run at once, unless their plan sets its own.
    ///   - maxRunningByPlan: the plans that set their own (plan name: jobs).
    init(maxRunningPerUser: Int, maxRunningByPlan: [String: Int] = [:], workers: Int = .max, reservedForBypass: Int = 0, router: ProviderRouter) {
        state = Mutex(State(
            limit: max(1, maxRunningPerUser), planLimits: maxRunningByPlan.mapValues { max(1, $0) },
            sharedWorkers: max(1, workers - max(0, reservedForBypass))))
        self.router = router
    }

    /// Hands waiting work to idle workers: called when provider capacity frees.
    func poke() {
        let handoffs = state.withLock { Self.dispatch(&$0, router: router) }
        Self.run(handoffs)
    }

    /// Queues a job (after its backoff, when it has one) and wakes a worker; true when a worker took
    /// the job at once.
    @discardableResult
    func enqueue(_ job: Job, now: Date = Date()) -> Bool {
        let (handoffs, wake) = state.withLock { state in
            if let notBefore = job.notBefore, notBefore > now {
                state.delayed[job.id] = job
                state.timers.insert(Timed(at: notBefore, id: job.id))
            } else {
                state.push(job)
                state.timers.insert(Timed(at: job.deadline, id: job.id))
            }
            return (Self.dispatch(&state, router: router), Self.takeTimerWake(&state))
        }
        Self.run(handoffs)
        wake?.resume()
        return handoffs.handoffs.contains { $0.1?.job.id == job.id }
    }

    /// Moves a job waiting here to a more urgent class (a teacher joined a student's question in flight):
    /// it then waits as a job of that class would. False when it does not wait here, or is already as urgent.
    func raise(_ id: String, to priority: PriorityClass) -> Bool {
        let (raised, handoffs) = state.withLock { state -> (Bool, Actions) in
            if var job = state.delayed[id], priority < job.priority {
                job.priority = priority
                state.delayed[id] = job
                return (true, Actions())
            }
            guard state.queue.contains(id: id), var job = state.remove(id: id) else { return (false, Actions()) }
            let higher = priority < job.priority
            if higher { job.priority = priority }
            state.push(job)
            return (higher, higher ? Self.dispatch(&state, router: router) : Actions())
        }
        Self.run(handoffs)
        return raised
    }

    /// Wakes the timer loop, or makes its next wait return at once.
    private func wakeTimers() {
        let wake = state.withLock { Self.takeTimerWake(&$0) }
        wake?.resume()
    }

    /// The next job to run, marked running, with a reserved provider slot; nil once the scheduler is stopped.
    func next() async -> Claim? {
        await withCheckedContinuation { continuation in
            let (handoffs, idle) = state.withLock { state in
                if state.stopped { return (Actions(handoffs: [(continuation, nil)]), false) }
                state.waiters.append(continuation)
                let actions = Self.dispatch(&state, router: router)
                return (actions, state.queue.isEmpty && !state.waiters.isEmpty)
            }
            Self.run(handoffs)
            if idle { onIdle.withLock { $0 }?() }
        }
    }

    /// Called when a worker finds nothing to do here (a node sharing a queue then claims more).
    let onIdle = Mutex<(@Sendable () -> Void)?>(nil)

    /// Workers that would start a job at once: idle ones less the jobs already waiting here.
    var idleCapacity: Int {
        state.withLock { max(0, $0.waiters.count - $0.queue.count) }
    }

    /// Records that an attempt of a job no longer runs here, which may let another of its user's jobs
    /// start. Only that attempt's entry goes: a retry already dispatched keeps its own (so that it can be
    /// cancelled, and the watchdog sees it running).
    func finished(_ job: Job, control: RunControl) {
        let handoffs = state.withLock { state in
            if state.running[job.id] === control { state.running[job.id] = nil }
            if job.priority != .bypass { state.runningShared -= 1 }
            state.runningByClass[job.priority.rawValue] -= 1
            let user = job.owner.userKey
            state.runningPerUser[user, default: 1] -= 1
            if state.runningPerUser[user] == 0 { state.runningPerUser[user] = nil }
            return Self.dispatch(&state, router: router)
        }
        Self.run(handoffs)
    }

    /// Takes a waiting job out of the queue, or tells its worker to stop.
    func cancel(_ id: String) -> CancelOutcome {
        let outcome = state.withLock { state -> (CancelOutcome, RunControl?) in
            if let job = state.remove(id: id) ?? state.delayed.removeValue(forKey: id) { return (.dequeued(job), nil) }
            if let control = state.running[id] { return (.signalled, control) }
            return (.notHere, nil)
        }
        outcome.1?.stop(.cancelled)
        return outcome.0
    }

    /// The number of jobs that would start before this one, while it is queued.
    /// Whether a worker here runs the job now.
    func isRunning(_ id: String) -> Bool { state.withLock { $0.running[id] != nil } }

    /// Whether the job waits, backs off or runs here.
    func holds(_ id: String) -> Bool {
        state.withLock { $0.running[id] != nil || $0.queue.contains(id: id) || $0.delayed[id] != nil }
    }

    func position(of id: String) -> Int? {
        state.withLock { $0.queue.position(of: id) }
    }

    /// The queue as pages show it: every waiting job's position, and queued and running jobs by class
    /// (jobs in backoff count as queued, without a position).
    func snapshot() -> QueueSnapshot {
        state.withLock { state in
            var queued = state.queue.countsByClass
            for job in state.delayed.values { queued[job.priority.rawValue] += 1 }
            return QueueSnapshot(positions: state.queue.positions(), queued: queued, running: state.runningByClass, delayed: Set(state.delayed.keys))
        }
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
                if top.id == Self.capacityTimerID {
                    state.capacityTimer = nil
                } else if let job = state.delayed.removeValue(forKey: top.id) {
                    state.push(job)
                    state.timers.insert(Timed(at: job.deadline, id: job.id))
                } else if state.queue.contains(id: top.id), let job = state.remove(id: top.id) {
                    if job.deadline <= now { expired.append(job) } else { state.push(job) }
                }
            }
            return (expired, state.timers.min?.at, Self.dispatch(&state, router: router))
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

    typealias Handoff = (CheckedContinuation<Claim?, Never>, Claim?)

    /// What a dispatch decided, to carry out after the lock is released.
    struct Actions {
        var handoffs: [Handoff] = []
        var wake: CheckedContinuation<Void, Never>?
    }

    /// Matches idle workers with the next jobs whose user is under their cap (their plan's `maxRunning`, or
    /// `maxRunningPerUser`) and whose model has a provider slot free. When work waits only for provider
    /// capacity that frees with time (a breaker's cool-down, a `Retry-After`), a timer wakes the scheduler then.
    private static func dispatch(_ state: inout State, router: ProviderRouter) -> Actions {
        var actions = Actions()
        while !state.stopped, !state.waiters.isEmpty {
            let cap = state.runningPerUser
            let limit = state.limit
            let planLimits = state.planLimits
            let sharedFull = state.runningShared >= state.sharedWorkers
            let now = Date()
            // Aliases with no capacity left for any job: the rest of the queue is skipped for them in
            // this pass, so a full provider costs a set lookup per waiting user, not a reservation.
            var exhausted: Set<String> = []
            var refused: Set<String> = []
            let aliases = state.queuedAliases.count
            var outOfWorkers = false
            guard let (job, lease) = state.queue.pop(claim: { user, job -> ProviderRouter.Lease? in
                // Lanes go bypass first, so a job refused for want of a shared worker means every later one is too.
                guard job.priority == .bypass || !sharedFull else {
                    outOfWorkers = true
                    return nil
                }
                guard (cap[user] ?? 0) < planLimits[job.owner.plan] ?? limit, !exhausted.contains(job.request.model) else { return nil }
                let tried = job.tried ?? []
                if let lease = router.reserve(alias: job.request.model, avoiding: Set(tried), now: now) { return lease }
                if tried.isEmpty { exhausted.insert(job.request.model) }
                refused.insert(job.request.model)
                return nil
            }, hopeless: { outOfWorkers || exhausted.count == aliases }) else {
                if !refused.isEmpty, state.capacityTimer == nil {
                    if let next = refused.compactMap({ router.nextAvailability(for: $0, now: now) }).min() {
                        state.capacityTimer = next
                        state.timers.insert(Timed(at: next, id: capacityTimerID))
                        actions.wake = takeTimerWake(&state)
                    }
                }
                break
            }
            state.forget(job)
            let control = RunControl()
            state.running[job.id] = control
            if job.priority != .bypass { state.runningShared += 1 }
            state.runningByClass[job.priority.rawValue] += 1
            state.runningPerUser[job.owner.userKey, default: 0] += 1
            actions.handoffs.append((state.waiters.removeFirst(), (job, control, lease)))
        }
        return actions
    }

    private static func takeTimerWake(_ state: inout State) -> CheckedContinuation<Void, Never>? {
        guard let wake = state.timerWake else {
            state.wakePending = true
            return nil
        }
        state.timerWake = nil
        return wake
    }

    private static func run(_ actions: Actions) {
        for (waiter, value) in actions.handoffs { waiter.resume(returning: value) }
        actions.wake?.resume()
    }
}
