public import Foundation
import Logging
import NIOCore
import PostgresNIO
public import SluiceCore

/// The queue the nodes share: claims, leases, rescues, holders, wake-ups.
extension PostgresStore {
    public func claim(node: String, limit: Int, leaseSeconds: Double, now: Date) async throws -> [Job] {
        guard limit > 0 else { return [] }
        // Bounded: a claim left unanswered would stop this node claiming for good. One that committed
        // unseen leaves jobs this node holds and does not run; the watchdog takes them up.
        return try await StatementDeadline.writes.run { [client, logger] in
            try await Self.jobs(client.query(
                """
                WITH picked AS (
                    SELECT id FROM sluice_job
                    WHERE state = 'queued' AND node IS NULL AND (not_before IS NULL OR not_before <= \(now.timeIntervalSince1970))
                    ORDER BY priority, created_at
                    LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE sluice_job AS j SET node = \(node), fence = j.fence + 1, lease_until = now() + make_interval(secs => \(leaseSeconds))
                FROM picked WHERE j.id = picked.id
                RETURNING j.data, j.node, j.fence
                """,
                logger: logger))
        }
    }

    public func renewLeases(node: String, address: String, leaseSeconds: Double) async throws -> Int {
        try await boundedTransaction { [logger] connection in
            try await connection.query(
                """
                INSERT INTO sluice_node (id, address, heartbeat_at) VALUES (\(node), \(address), now())
                ON CONFLICT (id) DO UPDATE SET address = EXCLUDED.address, heartbeat_at = now(),
                    heartbeat_since = CASE WHEN sluice_node.heartbeat_at < now() - make_interval(secs => \(leaseSeconds))
                                           THEN now() ELSE sluice_node.heartbeat_since END
                """,
                logger: logger)
            var renewed = 0
            let rows = try await connection.query(
                """
                UPDATE sluice_job SET lease_until = now() + make_interval(secs => \(leaseSeconds))
                WHERE node = \(node) AND state IN ('queued', 'running') RETURNING 1
                """,
                logger: logger)
            for try await _ in rows { renewed += 1 }
            return renewed
        }
    }

    public func liveNodes(leaseSeconds: Double) async throws -> [String] {
        try await StatementDeadline.reads.run { [client, logger] in
            var nodes: [String] = []
            let rows = try await client.query(
                "SELECT id FROM sluice_node WHERE heartbeat_at > now() - make_interval(secs => \(leaseSeconds)) ORDER BY id", logger: logger)
            for try await id in rows.decode(String.self) { nodes.append(id) }
            return nodes
        }
    }

    public func unfinishedCount() async throws -> Int {
        try await StatementDeadline.reads.run { [client, logger] in
            var count = 0
            for try await found in try await client.query("SELECT count(*) FROM sluice_job WHERE state IN ('queued', 'running')", logger: logger).decode(Int.self) {
                count = found
            }
            return count
        }
    }

    public func rescueExpired() async throws -> [String] {
        try await rescueExpired(condition: "TRUE")
    }

    public func rescueExpired(by node: String, leaseSeconds: Double) async throws -> [String] {
        // Only a node that has heartbeated without a break for two whole leases rescues, judged by the
        // database when the statement runs: after a stall that stopped every node's renewals (a
        // database outage), the first node back waits two leases, and every node alive renews its own
        // leases meanwhile — only a dead node's stay lapsed. (One lease was once not enough: a node's
        // connection pool backs off while the database is down, by up to seconds, and a loaded machine
        // adds its own delay, so the second node back could renew after the first had rescued its jobs.)
        var binds = PostgresBindings()
        binds.append(node)
        binds.append(leaseSeconds)
        return try await rescueExpired(condition: """
            EXISTS (SELECT 1 FROM sluice_node me WHERE me.id = $1 AND me.heartbeat_at > now() - make_interval(secs => $2)
                    AND me.heartbeat_since <= now() - make_interval(secs => $2 * 2))
            """, binds: binds)
    }

    func rescueExpired(condition: String, binds: PostgresBindings = PostgresBindings()) async throws -> [String] {
        // The state condition and the row lock make a rescue and a completion exclusive: a job that
        // ended is never put back, and the new fence refuses the old holder's later writes.
        // Bounded, each statement: a rescue left unanswered would stop this node rescuing for good.
        let ids = try await StatementDeadline.writes.run { [client, logger] in
            var ids: [String] = []
            let rows = try await client.query(
                PostgresQuery(unsafeSQL: """
                    UPDATE sluice_job SET state = 'queued', node = NULL, fence = fence + 1, lease_until = NULL
                    WHERE node IS NOT NULL AND state IN ('queued', 'running') AND lease_until < now() AND \(condition)
                    RETURNING id
                    """, binds: binds),
                logger: logger)
            for try await id in rows.decode(String.self) { ids.append(id) }
            return ids
        }
        if !ids.isEmpty { try await notifyQueued() }
        // Nodes gone for a day (every start is a new node), and open-stream counts of nodes gone for an
        // hour, or closed, are of no more use.
        _ = try await StatementDeadline.writes.run { [client, logger] in
            try await client.query(
                """
                WITH gone AS (DELETE FROM sluice_node WHERE heartbeat_at < now() - interval '1 day')
                DELETE FROM sluice_open_stream s WHERE s.count <= 0
                   OR NOT EXISTS (SELECT 1 FROM sluice_node n WHERE n.id = s.node AND n.heartbeat_at > now() - interval '1 hour')
                """,
                logger: logger)
        }
        return ids
    }

    public func release(_ jobs: [Job]) async throws {
        for job in jobs {
            _ = try await StatementDeadline.writes.run { [client, logger] in try await client.query(
                """
                UPDATE sluice_job SET node = NULL, fence = fence + 1, lease_until = NULL
                WHERE id = \(job.id) AND fence = \(job.fence ?? 0) AND state = 'queued'
                """,
                logger: logger) }
        }
        if !jobs.isEmpty { try await notifyQueued() }
    }

    public func address(of node: String) async throws -> String? {
        let rows = try await client.query("SELECT address FROM sluice_node WHERE id = \(node)", logger: logger)
        for try await address in rows.decode(String.self) { return address }
        return nil
    }

    public func holders(of jobIDs: [String]) async throws -> [String: JobHolder] {
        guard !jobIDs.isEmpty else { return [:] }
        // Bounded: the one loop that wakes every waiting stream of this node asks this.
        var holders = try await StatementDeadline.reads.run { [client, logger] in
            let rows = try await client.query(
                "SELECT j.id, j.state, j.node, n.address FROM sluice_job j LEFT JOIN sluice_node n ON n.id = j.node WHERE j.id = ANY(\(jobIDs))",
                logger: logger)
            var holders: [String: JobHolder] = [:]
            for try await (id, state, node, address) in rows.decode((String, String, String?, String?).self) {
                if !(JobState(rawValue: state).map { !$0.isTerminal } ?? false) {
                    holders[id] = .ended
                } else if let node, let address, !address.isEmpty {
                    holders[id] = .node(id: node, address: address)
                } else {
                    holders[id] = JobHolder.none
                }
            }
            return holders
        }
        // A job not found has ended (deleted after its retention).
        for id in jobIDs where holders[id] == nil { holders[id] = .ended }
        return holders
    }

    public func claim(jobID: String, node: String, leaseSeconds: Double) async throws -> Job? {
        try await StatementDeadline.writes.run { [client, logger] in
            try await Self.jobs(client.query(
                """
                UPDATE sluice_job SET node = \(node), fence = fence + 1, lease_until = now() + make_interval(secs => \(leaseSeconds))
                WHERE id = \(jobID) AND state = 'queued' AND node IS NULL
                RETURNING data, node, fence
                """,
                logger: logger)).first
        }
    }

    public func clusterSecret() async throws -> String {
        var random = SystemRandomNumberGenerator()
        let candidate = (0..<4).map { _ in String(random.next() as UInt64, radix: 16) }.joined(separator: "-")
        try await client.query(
            "INSERT INTO sluice_setting (name, value) VALUES ('cluster_secret', \(candidate)) ON CONFLICT (name) DO NOTHING", logger: logger)
        let rows = try await client.query("SELECT value FROM sluice_setting WHERE name = 'cluster_secret'", logger: logger)
        for try await secret in rows.decode(String.self) { return secret }
        throw BadURL(description: "the cluster secret could not be read")
    }

    public func coolDown(deployment: String, until: Date) async throws {
        try await client.query(
            """
            INSERT INTO sluice_cooldown (deployment, until_at) VALUES (\(deployment), \(until.timeIntervalSince1970))
            ON CONFLICT (deployment) DO UPDATE SET until_at = GREATEST(sluice_cooldown.until_at, EXCLUDED.until_at)
            """,
            logger: logger)
    }

    public func coolDowns() async throws -> [String: Date] {
        try await StatementDeadline.reads.run { [client, logger] in
            let rows = try await client.query(
                "SELECT deployment, until_at FROM sluice_cooldown WHERE until_at > extract(epoch FROM now())", logger: logger)
            var found: [String: Date] = [:]
            for try await (deployment, until) in rows.decode((String, Double).self) { found[deployment] = Date(timeIntervalSince1970: until) }
            return found
        }
    }

    public func setting(_ name: String) async throws -> String? {
        let rows = try await client.query("SELECT value FROM sluice_setting WHERE name = \(name)", logger: logger)
        for try await value in rows.decode(String.self) { return value }
        return nil
    }

    public func setSetting(_ name: String, to value: String) async throws {
        try await client.query(
            "INSERT INTO sluice_setting (name, value) VALUES (\(name), \(value)) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
            logger: logger)
    }

    /// Tells idle nodes that work is waiting.
    private func notifyQueued() async throws {
        try await StatementDeadline.writes.run { [client, logger] in _ = try await client.query("SELECT pg_notify(\(Self.workChannel), '')", logger: logger) }
    }

    public func listenForWork(onListening: @escaping @Sendable () -> Void, onLost: @escaping @Sendable () -> Void, wake: @escaping @Sendable () -> Void) async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: Self.workChannel) { notifications in
                        onListening()
                        // Work may have arrived while no one listened.
                        wake()
                        for try await _ in notifications { wake() }
                    }
                }
            } catch {
                if !Task.isCancelled {
                    onLost()
                    logger.warning("the work notifications stopped; listening again", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                }
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }
}
