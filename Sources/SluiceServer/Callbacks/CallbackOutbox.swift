import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceStore

/// Tells callers that do not wait how their jobs ended: each `callback_url` becomes a durable delivery
/// (stored before the job is acknowledged, `waiting` until the job ends), POSTed signed (Standard
/// Webhooks) by whichever node takes it, retried with exponential backoff and full jitter for
/// `webhooks.maxAgeSeconds` on errors, timeouts, 408, 429 and 5xx, then kept in the dead-letter list
/// for a replay. A receiver's other 4xx is an answer: no retry.
final class CallbackOutbox: Sendable {
    let log: any DeliveryLog
    let jobs: any JobStore
    let settings: WebhookSettings
    /// Per tenant: its own secrets and allowed hosts, where it has them.
    let tenants: [String: (secrets: [String], allowedHosts: [String]?)]
    let metrics: SluiceMetrics
    let logger: Logger
    /// No redirects: a receiver must not send a callback on to an address it may not reach. Each attempt
    /// gets a client of its own, pinned to the address that was checked (`dnsOverride`: the name stays for
    /// TLS), so that a name cannot resolve to one address for the check and another for the connection.
    let clientConfiguration: HTTPClient.Configuration
    /// Wakes the delivery loop before its next look.
    let nudge = Nudge()
    /// The final object of a job, as its API shows it.
    let render: @Sendable (Job) -> [String: Any]

    init(
        log: any DeliveryLog, jobs: any JobStore, configuration: SluiceConfiguration, metrics: SluiceMetrics, logger: Logger,
        render: @escaping @Sendable (Job) -> [String: Any]
    ) {
        self.log = log
        self.jobs = jobs
        settings = configuration.webhooks
        tenants = Dictionary(
            configuration.tenants.map { ($0.name, (secrets: $0.webhookSecrets, allowedHosts: $0.webhookAllowedHosts)) },
            uniquingKeysWith: { first, _ in first })
        self.metrics = metrics
        self.logger = logger
        self.render = render
        clientConfiguration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(
            connect: .milliseconds(Int64(min(settings.timeoutSeconds, 5) * 1000)), read: .milliseconds(Int64(settings.timeoutSeconds * 1000))))
    }

    /// The secrets that sign a tenant's callbacks: its own, else the global ones.
    func signer(tenant: String) -> WebhookSigner? {
        let own = tenants[tenant]?.secrets ?? []
        return WebhookSigner(secrets: own.isEmpty ? settings.secrets : own)
    }

    /// Where a tenant's callbacks may go.
    func target(tenant: String) -> CallbackTarget {
        CallbackTarget(allowedHosts: tenants[tenant]?.allowedHosts ?? settings.allowedHosts)
    }

    /// Checks a callback URL before anything is stored: a 400 when it may not be used.
    func check(_ url: String, tenant: String) throws {
        guard signer(tenant: tenant) != nil else {
            throw CallbackTarget.refusal(
                "callbacks are not enabled here: the operator sets webhooks.secret (whsec_…) to sign them",
                "callback идэвхгүй: оператор гарын үсэг зурах webhooks.secret (whsec_…) тохируулаагүй байна")
        }
        _ = try target(tenant: tenant).check(url)
    }

    /// Stores the delivery of a job's end, durably, before the job is acknowledged: due now when the
    /// job already ended (a cache hit), else waiting for its end.
    func register(_ job: Job, url: String, now: Date = Date()) async throws {
        // Looked at again after its deadline even if its end is never announced (a crash in between).
        let fallback = max(job.deadline, now).addingTimeInterval(60)
        let delivery = Delivery(
            id: Delivery.newID(), jobID: job.id, tenant: job.owner.tenant, url: url, state: job.state.isTerminal ? .pending : .waiting,
            nextAt: job.state.isTerminal ? now : fallback, createdAt: now)
        try await log.addDelivery(delivery)
        // It may have ended while the delivery was written.
        if !job.state.isTerminal, let current = try await jobs.job(id: job.id), current.state.isTerminal {
            try await log.jobEnded(job.id, now: now)
        }
        wake()
    }

    /// A job with a callback ended: its delivery is due now. A failure here is not lost: the waiting
    /// delivery is looked at after the job's deadline anyway.
    func jobEnded(_ job: Job) async {
        do {
            if try await log.jobEnded(job.id, now: Date()) > 0 { wake() }
        } catch {
            logger.warning("could not mark a callback due; it is sent after the job's deadline", metadata: ["sluice.job": "\(job.id)", "error": "\(error)"])
        }
    }

    /// Puts a dead (or delivered) delivery back to be sent now, with a fresh window of retries.
    func replay(_ id: String, tenant: String?) async throws -> Delivery {
        guard var delivery = try await log.delivery(id: id), tenant == nil || delivery.tenant == tenant else {
            throw SluiceError(.objectNotFound, details: ["object": "callback delivery", "object_mn": "callback", "id": String(id.prefix(64))])
        }
        guard delivery.state == .dead || delivery.state == .delivered else { return delivery }
        delivery.state = .pending
        delivery.nextAt = Date()
        delivery.createdAt = Date()
        try await log.updateDelivery(delivery)
        wake()
        return delivery
    }

    func wake() { nudge.wake() }

    /// Delivers due callbacks until the task is cancelled: at least once a second, and at once when woken.
    func run() async {
        while !Task.isCancelled {
            do {
                let due = try await log.takeDueDeliveries(now: Date(), limit: 32, leaseSeconds: settings.timeoutSeconds * 2 + 30)
                await withDiscardingTaskGroup { group in
                    for delivery in due { group.addTask { await self.attempt(delivery) } }
                }
                if due.count == 32 { continue }
            } catch {
                logger.warning("could not read the callbacks due", metadata: ["error": "\(error)"])
            }
            await nudge.wait(seconds: 1)
        }
    }

    /// One attempt at one delivery, and what it leaves behind.
    func attempt(_ taken: Delivery) async {
        var delivery = taken
        let now = Date()
        do {
            guard let job = try await jobs.job(id: delivery.jobID) else {
                delivery.state = .dead
                delivery.lastError = "the job no longer exists"
                metrics.callbackAttempt(outcome: "dead")
                return try await log.updateDelivery(delivery)
            }
            guard job.state.isTerminal else {
                // Its end was not announced yet: look again later.
                delivery.nextAt = now.addingTimeInterval(60)
                return try await log.updateDelivery(delivery)
            }
            delivery.attempts += 1
            let outcome = await send(job, delivery: delivery)
            delivery.lastStatus = outcome.status
            delivery.lastError = outcome.error
            switch outcome.verdict {
            case .delivered:
                delivery.state = .delivered
                delivery.deliveredAt = Date()
                metrics.callbackAttempt(outcome: "delivered")
            case .refused:
                delivery.state = .dead
                metrics.callbackAttempt(outcome: "refused")
            case .final:
                delivery.state = .dead
                metrics.callbackAttempt(outcome: "dead")
            case .retry:
                let backoff = Backoff(base: settings.backoffBaseMs / 1000, cap: settings.backoffMaxMs / 1000)
                let next = Date().addingTimeInterval(backoff.delay(retry: delivery.attempts))
                if next.timeIntervalSince(delivery.createdAt) > settings.maxAgeSeconds {
                    delivery.state = .dead
                    metrics.callbackAttempt(outcome: "dead")
                } else {
                    delivery.state = .pending
                    delivery.nextAt = next
                    metrics.callbackAttempt(outcome: "retrying")
                }
            }
            try await log.updateDelivery(delivery)
            if delivery.state == .dead {
                logger.warning("a callback went to the dead-letter list", metadata: [
                    "sluice.delivery": "\(delivery.id)", "sluice.job": "\(delivery.jobID)", "sluice.attempts": "\(delivery.attempts)",
                    "sluice.reason": "\(delivery.lastError ?? delivery.lastStatus.map { "HTTP \($0)" } ?? "")",
                ])
            }
        } catch {
            // Not lost: the delivery stays due and is taken again once its lease lapses.
            logger.warning("could not record a callback attempt; it is tried again", metadata: ["sluice.delivery": "\(delivery.id)", "error": "\(error)"])
        }
    }

    enum Verdict { case delivered, retry, final, refused }

    /// POSTs the job's final object, signed.
    func send(_ job: Job, delivery: Delivery) async -> (verdict: Verdict, status: Int?, error: String?) {
        guard let signer = signer(tenant: delivery.tenant) else {
            return (.final, nil, "no webhook secret is configured for tenant \(delivery.tenant)")
        }
        let target = target(tenant: delivery.tenant)
        guard let url = URL(string: delivery.url), let host = url.host?.lowercased() else { return (.refused, nil, "not a URL") }
        let addresses = (try? await CallbackTarget.resolve(host)) ?? []
        // A name that resolves to nothing is not judged (and so not let through): tried again later.
        guard let address = addresses.first else { return (.retry, nil, "could not resolve \(host.prefix(100))") }
        if let problem = target.problem(host: host, addresses: addresses) {
            return (.refused, nil, problem.details["reason"] ?? "refused")
        }
        let timestamp = Int(Date().timeIntervalSince1970)
        let body: Data
        do {
            body = try JSONSerialization.data(withJSONObject: Self.payload(job, object: render(job)), options: [.sortedKeys, .withoutEscapingSlashes])
        } catch {
            return (.final, nil, "the job's object could not be written as JSON")
        }
        var request = HTTPClientRequest(url: delivery.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Sluice-Webhooks/1")
        request.headers.add(name: "webhook-id", value: delivery.id)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(name: "webhook-signature", value: signer.signature(id: delivery.id, timestamp: timestamp, body: body))
        request.body = .bytes(ByteBuffer(bytes: body))
        var configuration = clientConfiguration
        if AddressRange(cidr: host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))) == nil { configuration.dnsOverride = [host: address] }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        defer { Task { try? await client.shutdown() } }
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(settings.timeoutSeconds * 1000)))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            let status = Int(response.status.code)
            switch status {
            case 200..<300: return (.delivered, status, nil)
            case 408, 429, 500...: return (.retry, status, nil)
            default: return (.final, status, "the receiver answered \(status)")
            }
        } catch {
            return (.retry, nil, Self.describe(error))
        }
    }

    /// The event: its type, when, and the job's final object (Standard Webhooks' `type`, `timestamp`, `data`).
    static func payload(_ job: Job, object: [String: Any]) -> [String: Any] {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let type: String
        if job.origin?.response != nil {
            let status = object["status"] as? String ?? job.state.rawValue
            type = "response." + status
        } else {
            type = "job." + job.state.rawValue
        }
        return ["type": type, "timestamp": formatter.string(from: job.finishedAt ?? Date()), "data": object]
    }

    /// An error in words for the list, without URLs' secrets (none are kept: only the kind of failure).
    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            if error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout { return "timed out" }
            return "could not connect or send (\(error))".prefix(200).description
        }
        return "could not connect or send".description
    }
}
