import Foundation
import NIOCore
import PostgresNIO
import SluiceCore

/// The batched statements of a job's life: inserting jobs, and saving them with their chunks and (for
/// those that end) their usage rollup — each one statement for any number of jobs.
extension PostgresStore {
    /// Inserts jobs, one statement for any number (a lease for those a node holds). When one of them is
    /// left to the shared queue (no node holds it), the statement also tells the idle nodes: the
    /// notification leaves with the commit, so no node looks before the job is there.
    static func insertQuery(_ jobs: [Job], leaseSeconds: Double) throws -> PostgresQuery {
        let ids = jobs.map(\.id)
        let states = jobs.map(\.state.rawValue)
        let finished = jobs.map { $0.finishedAt?.timeIntervalSince1970 ?? .nan }
        let priorities = jobs.map(\.priority.rawValue)
        let created = jobs.map(\.createdAt.timeIntervalSince1970)
        let notBefore = jobs.map { $0.notBefore?.timeIntervalSince1970 ?? .nan }
        let nodes = jobs.map { $0.node ?? "" }
        let fences = jobs.map { $0.fence ?? 0 }
        let data = try jobs.map { ByteBuffer(bytes: try encoder.encode($0)) }
        let users = jobs.map(\.owner.userKey)
        let tenants = jobs.map(\.owner.tenant)
        let plans = jobs.map(\.owner.plan)
        // Arrays cannot hold NULL here: NaN and "" stand for it.
        return """
            WITH inserted AS (
                INSERT INTO sluice_job (id, state, finished_at, priority, created_at, not_before, node, fence, lease_until, data, user_key, tenant, plan)
                SELECT i, s, NULLIF(f, 'NaN'), p, c, NULLIF(nb, 'NaN'), NULLIF(n, ''), fe,
                       CASE WHEN n = '' THEN NULL ELSE now() + make_interval(secs => \(leaseSeconds)) END, d, u, t, pl
                FROM unnest(\(ids)::text[], \(states)::text[], \(finished)::float8[], \(priorities)::int[], \(created)::float8[],
                            \(notBefore)::float8[], \(nodes)::text[], \(fences)::bigint[], \(data)::bytea[], \(users)::text[], \(tenants)::text[],
                            \(plans)::text[]) AS t (i, s, f, p, c, nb, n, fe, d, u, t, pl)
                RETURNING node, state
            )
            SELECT pg_notify(\(workChannel), '') FROM (SELECT 1 FROM inserted WHERE node IS NULL AND state = 'queued' LIMIT 1) AS unheld
            """
    }

    /// Saves jobs with their chunks, one statement for any number; returns the ids it wrote. A job whose
    /// fence no longer matches (its lease moved on) is not written, and neither are its chunks.
    static func saveQuery(_ saves: [Save]) throws -> PostgresQuery {
        let ids = saves.map(\.job.id)
        let states = saves.map(\.job.state.rawValue)
        let finished = saves.map { $0.job.finishedAt?.timeIntervalSince1970 ?? .nan }
        let notBefore = saves.map { $0.job.notBefore?.timeIntervalSince1970 ?? .nan }
        let fences = saves.map { $0.job.fence ?? -1 }
        let data = try saves.map { ByteBuffer(bytes: try encoder.encode($0.job)) }
        let chunkJobs = saves.flatMap { save in save.chunks.map { _ in save.job.id } }
        let seqs = saves.flatMap { $0.chunks.map(\.seq) }
        let bodies = try saves.flatMap { try $0.chunks.map { ByteBuffer(bytes: try encoder.encode($0.event)) } }
        let usage = UsageColumns(saves.compactMap { save in UsageRow(ended: save.job).map { (save.job.id, $0) } })
        // A job's use is counted in the usage rollup in the commit that first stores it ended (its row
        // was still queued or running), and only then.
        return """
            WITH input AS (
                SELECT * FROM unnest(\(ids)::text[], \(states)::text[], \(finished)::float8[], \(notBefore)::float8[], \(fences)::bigint[],
                                     \(data)::bytea[]) AS t (id, state, finished_at, not_before, fence, data)
            ), locked AS (
                -- The rows' states as committed, under their locks (in id order): a concurrent save of the
                -- same job waits here, then sees it ended and adds nothing to the rollup.
                SELECT id, state FROM sluice_job WHERE id IN (SELECT id FROM input) ORDER BY id FOR UPDATE
            ), updated AS (
                UPDATE sluice_job j SET state = i.state, finished_at = NULLIF(i.finished_at, 'NaN'), not_before = NULLIF(i.not_before, 'NaN'),
                    data = i.data
                FROM input i, locked o WHERE j.id = i.id AND o.id = i.id AND (i.fence < 0 OR j.fence = i.fence)
                RETURNING j.id, o.state AS old_state
            ), rolled AS (
                INSERT INTO sluice_usage (day, tenant, user_name, model, deployment, requests, failures, prompt_tokens, completion_tokens,
                                          cost_micros, cache_hits, saved_tokens)
                SELECT u.day, u.tenant, u.user_name, u.model, u.deployment, sum(u.requests), sum(u.failures), sum(u.pt), sum(u.ct),
                       sum(u.cost), sum(u.hits), sum(u.saved)
                FROM unnest(\(usage.ids)::text[], \(usage.days)::text[], \(usage.tenants)::text[], \(usage.users)::text[], \(usage.models)::text[],
                            \(usage.deployments)::text[], \(usage.requests)::bigint[], \(usage.failures)::bigint[], \(usage.prompt)::bigint[],
                            \(usage.completion)::bigint[], \(usage.cost)::bigint[], \(usage.hits)::bigint[], \(usage.saved)::bigint[])
                     AS u (id, day, tenant, user_name, model, deployment, requests, failures, pt, ct, cost, hits, saved)
                WHERE u.id IN (SELECT id FROM updated WHERE old_state IN ('queued', 'running'))
                GROUP BY u.day, u.tenant, u.user_name, u.model, u.deployment
                ON CONFLICT (tenant, day, user_name, model, deployment) DO UPDATE SET
                    requests = sluice_usage.requests + EXCLUDED.requests, failures = sluice_usage.failures + EXCLUDED.failures,
                    prompt_tokens = sluice_usage.prompt_tokens + EXCLUDED.prompt_tokens,
                    completion_tokens = sluice_usage.completion_tokens + EXCLUDED.completion_tokens,
                    cost_micros = sluice_usage.cost_micros + EXCLUDED.cost_micros, cache_hits = sluice_usage.cache_hits + EXCLUDED.cache_hits,
                    saved_tokens = sluice_usage.saved_tokens + EXCLUDED.saved_tokens
            ), appended AS (
                INSERT INTO sluice_chunk (job_id, seq, data)
                SELECT c.j, c.s, c.d FROM unnest(\(chunkJobs)::text[], \(seqs)::bigint[], \(bodies)::bytea[]) AS c (j, s, d)
                WHERE c.j IN (SELECT id FROM updated)
                ON CONFLICT (job_id, seq) DO UPDATE SET data = EXCLUDED.data
            )
            SELECT id FROM updated
            """
    }
}
