public import Foundation
import SluiceCore

/// One callback to deliver: a job's final object, POSTed to the URL its owner gave, until the receiver
/// takes it or the delivery gives up (then it waits in the dead-letter list for a replay).
public struct Delivery: Sendable, Hashable {
    /// Where a delivery is in its life.
    public enum State: String, Sendable, CaseIterable {
        /// Its job has not ended yet.
        case waiting
        /// Its job ended: to be sent at `nextAt`.
        case pending
        /// The receiver answered 2xx.
        case delivered
        /// Given up (a 4xx, a refused address, or a day of failures): listed for a replay.
        case dead
    }

    /// The message id (`msg_…`), the same on every attempt (Standard Webhooks' `webhook-id`).
    public var id: String
    /// The job whose end it tells.
    public var jobID: String
    /// The job owner's tenant: whose secret signs it, and whose admins see it.
    public var tenant: String
    /// The receiver.
    public var url: String
    public var state: State
    /// Attempts made so far.
    public var attempts: Int
    /// When it is next due (for a waiting one: when to look at its job again, in case its end was missed).
    public var nextAt: Date
    public var createdAt: Date
    /// The last attempt's outcome: an HTTP status, or nil when none came back.
    public var lastStatus: Int?
    /// The last attempt's error, in words (never a secret).
    public var lastError: String?
    /// When it was delivered.
    public var deliveredAt: Date?

    /// - Parameters:
    ///   - id: the message id.
    ///   - jobID: the job.
    ///   - tenant: the owner's tenant.
    ///   - url: the receiver.
    ///   - state: its state.
    ///   - nextAt: when it is due.
    ///   - createdAt: when it was made.
    public init(id: String, jobID: String, tenant: String, url: String, state: State, nextAt: Date, createdAt: Date) {
        self.id = id
        self.jobID = jobID
        self.tenant = tenant
        self.url = url
        self.state = state
        self.attempts = 0
        self.nextAt = nextAt
        self.createdAt = createdAt
    }

    /// A new random message id.
    public static func newID() -> String {
        RandomID.make("msg_", words: 2)
    }
}

/// Durable storage of callbacks to deliver, shared by a cluster's nodes: each due delivery is taken by
/// one node at a time (its `nextAt` moves past a lease while it is tried).
public protocol DeliveryLog: Sendable {
    /// Stores a new delivery.
    func addDelivery(_ delivery: Delivery) async throws
    /// Makes a job's waiting deliveries due now (the job ended); returns how many.
    @discardableResult
    func jobEnded(_ jobID: String, now: Date) async throws -> Int
    /// Takes up to `limit` deliveries (waiting or pending) due at `now`, moving each one's `nextAt` to
    /// `now + leaseSeconds` so that no other node takes it meanwhile; the returned ones carry that time.
    func takeDueDeliveries(now: Date, limit: Int, leaseSeconds: Double) async throws -> [Delivery]
    /// Stores a delivery's new state (after an attempt, or a replay).
    func updateDelivery(_ delivery: Delivery) async throws
    /// One delivery.
    func delivery(id: String) async throws -> Delivery?
    /// Deliveries newest first, in one state and one tenant when given.
    func deliveries(state: Delivery.State?, tenant: String?, limit: Int) async throws -> [Delivery]
    /// Forgets delivered and dead deliveries made before `date`.
    func pruneDeliveries(before date: Date) async throws
}
