import Synchronization

/// Single-flight: which job answers each exact key now. A follower that arrives while the leader's job
/// is still being written waits for that write, instead of finding no job and calling the provider again.
final class FlightBoard: Sendable {
    private struct Flight {
        var leader: String
        var stored = false
        var waiters: [CheckedContinuation<Bool, Never>] = []
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

    /// The leader's job is durable: followers may join it.
    func stored(_ key: String, leader: String) {
        let waiters = flights.withLock { flights -> [CheckedContinuation<Bool, Never>] in
            guard var flight = flights[key], flight.leader == leader else { return [] }
            flight.stored = true
            defer { flight.waiters = []; flights[key] = flight }
            return flight.waiters
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    /// Waits until the leader's job is durable (true), or the flight ended without it (false).
    func waitUntilStored(_ key: String, leader: String) async -> Bool {
        await withCheckedContinuation { continuation in
            let now = flights.withLock { flights -> Bool? in
                guard var flight = flights[key], flight.leader == leader else { return false }
                if flight.stored { return true }
                flight.waiters.append(continuation)
                flights[key] = flight
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    /// Forgets the job answering `key`, if it is `leader`; followers still waiting for it lead themselves.
    func release(_ key: String, leader: String) {
        let waiters = flights.withLock { flights -> [CheckedContinuation<Bool, Never>] in
            guard let flight = flights[key], flight.leader == leader else { return [] }
            flights[key] = nil
            return flight.waiters
        }
        for waiter in waiters { waiter.resume(returning: false) }
    }
}
