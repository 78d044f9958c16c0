import SluiceCore
import SluiceStore
import Synchronization

/// The live streams of unfinished jobs: each event gets its sequence number here and reaches every
/// subscriber at once. What a stream said before this process started, or after its job ended, is read
/// from the store, so a subscriber resuming after chunk N gets exactly the chunks after N.
final class StreamHub: Sendable {
    struct Live {
        /// The sequence number this process's first chunk got; older chunks are in the store only.
        var firstSeq: Int
        var chunks: [StreamChunk] = []
        var subscribers: [Int: Subscription] = [:]
        var nextSeq: Int { firstSeq + chunks.count }
    }

    struct State {
        var live: [String: Live] = [:]
        var nextSubscriber = 0
    }

    private let state = Mutex(State())
    private let log: any StreamLog
    /// On a shared store: a job not live here may run on another node, whose stream this node relays.
    private let remote: (any RemoteStreams)?
    /// How long a subscriber to a job no node is running waits before looking again (store and holder).
    static let followInterval = Duration.milliseconds(200)

    init(log: any StreamLog, remote: (any RemoteStreams)? = nil) {
        self.log = log
        self.remote = remote
    }

    /// Opens the live stream of an unfinished job whose next chunk will be `nextSeq`.
    func open(_ jobID: String, nextSeq: Int = 1) {
        state.withLock { state in
            if state.live[jobID] == nil { state.live[jobID] = Live(firstSeq: nextSeq) }
        }
    }

    /// Gives `event` its sequence number without delivering it: for a terminal event that must be
    /// durable before anyone sees it. Deliver it with `deliver`.
    func number(_ event: StreamEvent, of jobID: String) -> StreamChunk {
        state.withLock { state in StreamChunk(seq: state.live[jobID]?.nextSeq ?? 1, event: event) }
    }

    /// Numbers and delivers an event to every subscriber.
    @discardableResult
    func publish(_ event: StreamEvent, to jobID: String) -> StreamChunk {
        let chunk = number(event, of: jobID)
        deliver(chunk, to: jobID)
        return chunk
    }

    /// Delivers a numbered chunk; a terminal chunk ends every subscription and closes the live stream.
    func deliver(_ chunk: StreamChunk, to jobID: String) {
        let subscribers = state.withLock { state -> [Subscription] in
            guard var live = state.live[jobID], chunk.seq == live.nextSeq else { return [] }
            live.chunks.append(chunk)
            let subscribers = Array(live.subscribers.values)
            state.live[jobID] = chunk.event.isTerminal ? nil : live
            return subscribers
        }
        for subscriber in subscribers { subscriber.put(chunk) }
    }

    /// Ends every subscription without a terminal event (shutdown): clients resume with `Last-Event-ID`.
    func closeAll() {
        let subscribers = state.withLock { state in
            state.live.values.flatMap { $0.subscribers.values }
        }
        for subscriber in subscribers { subscriber.finish() }
    }

    /// The chunks of a job after `seq`: what is already there, then what comes, ending after the terminal
    /// event (or at once when the job has ended). With `following` (on a shared store), a job that is not
    /// live here is followed wherever it runs; without it, the stream ends with what this node has.
    func subscribe(_ jobID: String, after seq: Int, following: Bool = true) async throws -> Subscription {
        let subscription = Subscription()
        if register(subscription, jobID: jobID, after: seq, stored: [], resumed: false) { return subscription }
        let stored = try await log.chunks(of: jobID, after: seq)
        if register(subscription, jobID: jobID, after: stored.last?.seq ?? seq, stored: stored, resumed: true) { return subscription }
        // The job ended meanwhile (its final chunks were durable before its live stream closed), or it
        // is not live here.
        let chunks = try await log.chunks(of: jobID, after: seq)
        for chunk in chunks { subscription.put(chunk) }
        guard following, let remote, !(chunks.last?.event.isTerminal ?? false) else {
            subscription.finish()
            return subscription
        }
        let follower = Task { await follow(jobID, after: chunks.last?.seq ?? seq, remote: remote, into: subscription) }
        subscription.whenEnded { follower.cancel() }
        return subscription
    }

    /// Follows a job that is not live here until its end: straight from the node running it, chunk by
    /// chunk, and from the store's checkpoints for what was said before, or while no node runs it (after
    /// its node died, until another takes it). Becomes a local subscriber if the job comes to run here.
    private func follow(_ jobID: String, after seq: Int, remote: any RemoteStreams, into subscription: Subscription) async {
        var last = seq
        var ended = false
        // Each source may repeat what another gave: only what comes after the last chunk passes.
        let emit = { (chunk: StreamChunk) in
            guard chunk.seq > last, !ended else { return }
            subscription.put(chunk)
            last = chunk.seq
            ended = chunk.event.isTerminal
        }
        while !Task.isCancelled, !ended {
            if let stored = try? await log.chunks(of: jobID, after: last) {
                if !stored.contains(where: \.event.isTerminal),
                   register(subscription, jobID: jobID, after: stored.last?.seq ?? last, stored: stored.filter { $0.seq > last }, resumed: true)
                {
                    // Live here now: the hub delivers the rest (and ends the subscription).
                    return
                }
                stored.forEach(emit)
                if ended { break }
            }
            switch await remote.relay(jobID, after: last, emit: emit) {
            case .relayed where ended:
                break
            case .relayed:
                try? await Task.sleep(for: Self.followInterval)
            case .notHeld:
                // Nobody holds it yet: one query of the store, every interval, serves every such stream.
                await remote.untilHeld(jobID)
            case .ended:
                // Its last chunks may have landed since the store was read.
                (try? await log.chunks(of: jobID, after: last))?.forEach(emit)
                subscription.finish()
                return
            }
        }
        subscription.finish()
    }

    /// Tells the current subscribers of a job something that is not part of its stream (an unnumbered
    /// event: `store_unavailable` while its ending cannot be saved), then ends their subscriptions; the
    /// job's stream stays live, so a client that resumes gets what comes after.
    func interrupt(_ jobID: String, notice: StreamEvent) {
        let subscribers = state.withLock { state -> [Subscription] in
            guard var live = state.live[jobID] else { return [] }
            defer { live.subscribers = [:]; state.live[jobID] = live }
            return Array(live.subscribers.values)
        }
        for subscriber in subscribers {
            subscriber.put(StreamChunk(seq: 0, event: notice))
            subscriber.finish()
        }
    }

    /// Ends the subscriptions to a job this node no longer holds (its lease moved to another node),
    /// without a terminal event: clients resume with `Last-Event-ID` and follow the new holder.
    func abandon(_ jobID: String) {
        let subscribers = state.withLock { state in state.live.removeValue(forKey: jobID).map { Array($0.subscribers.values) } ?? [] }
        for subscriber in subscribers { subscriber.finish() }
    }

    /// Registers a subscriber to a live stream. Without `resumed`, only when everything after `seq` is
    /// in memory; with it, `stored` holds what the store had, which reaches at least to the memory's start.
    private func register(
        _ subscription: Subscription, jobID: String, after seq: Int, stored: [StreamChunk], resumed: Bool
    ) -> Bool {
        let registered = state.withLock { state -> Int? in
            guard var live = state.live[jobID], resumed || seq >= live.firstSeq - 1 else { return nil }
            for chunk in stored { subscription.put(chunk) }
            for chunk in live.chunks where chunk.seq > seq { subscription.put(chunk) }
            let id = state.nextSubscriber
            state.nextSubscriber += 1
            live.subscribers[id] = subscription
            state.live[jobID] = live
            return id
        }
        guard let id = registered else { return false }
        // Outside the lock: a subscription that already ended runs this at once.
        subscription.whenEnded { [weak self] in
            self?.state.withLock { state in _ = state.live[jobID]?.subscribers.removeValue(forKey: id) }
        }
        return true
    }

    /// How many subscribers follow a job right now.
    func subscriberCount(_ jobID: String) -> Int {
        state.withLock { $0.live[jobID]?.subscribers.count ?? 0 }
    }
}

/// The streams of jobs other nodes run (a cluster's relays).
protocol RemoteStreams: Sendable {
    /// Passes the chunks after `seq` of a job another node runs to `emit` as that node produces them,
    /// until the job ends or that node stops serving it; returns at once when no other node holds it.
    func relay(_ jobID: String, after seq: Int, emit: (StreamChunk) -> Void) async -> RelayOutcome
    /// Returns once a node holds the job (this one included) or it has ended, or when the calling task
    /// is cancelled.
    func untilHeld(_ jobID: String) async
}

/// How following a job through another node went.
enum RelayOutcome: Sendable {
    /// Its holder streamed what it had, until the end or until it stopped serving the job.
    case relayed
    /// No other node holds it now (it waits for a node, or this node holds it).
    case notHeld
    /// It ended (or is gone): nothing more will come.
    case ended
}
