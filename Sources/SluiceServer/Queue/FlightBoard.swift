import SluiceCore
import Synchronization

/// Single-flight: which job answers each exact key now. A follower that arrives while the leader's job
/// is still being written waits for that write, instead of finding no job and calling the provider again.
final class FlightBoard: Sendable {
    private struct Flight {
        var leader: String
        /// The leader's job as it was stored, once it is durable.
        var stored: Job?
        var waiters: [CheckedContinuation<Job?, Never>] = []
    }

    private let flights = Mutex<[String: Flight]>([:])

    /// Registers `id` as the job answering `key`, or returns the job already answering it.
    func claim(_ key: String, for id: String) -> String? {
        flights.withLock { flights in
            if let flight = flights[key] { return flight.leader }
            flights[key] = Flight(leader: id)
            return nil
        }
    }

    /// The leader's job is durable: followers may join it. The board keeps it until the job ends, so
    /// that a follower joins without reading (and decoding) the job from the store.
    func stored(_ key: String, leader job: Job) {
        let waiters = flights.withLock { flights -> [CheckedContinuation<Job?, Never>] in
            guard var flight = flights[key], flight.leader == job.id else { return [] }
            flight.stored = job
            defer { flight.waiters = []; flights[key] = flight }
            return flight.waiters
        }
        for waiter in waiters { waiter.resume(returning: job) }
    }

    /// Waits until the leader's job is durable and returns it as stored, or nil when the flight ended
    /// without it or the job has ended since (its end releases the flight).
    func waitUntilStored(_ key: String, leader: String) async -> Job? {
        await withCheckedContinuation { continuation in
            let now = flights.withLock { flights -> Job?? in
                guard var flight = flights[key], flight.leader == leader else { return .some(nil) }
                if let job = flight.stored { return job }
                flight.waiters.append(continuation)
                flights[key] = flight
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    /// Forgets the job answering `key`, if it is `leader`; followers still waiting for it lead themselves.
    func release(_ key: String, leader: String) {
        let waiters = flights.withLock { flights -> [CheckedContinuation<Job?, Never>] in
            guard let flight = flights[key], flight.leader == leader else { return [] }
            flights[key] = nil
            return flight.waiters
        }
        for waiter in waiters { waiter.resume(returning: nil) }
    }
}
