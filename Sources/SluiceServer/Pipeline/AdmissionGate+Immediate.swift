import Foundation
import SluiceCore
import SluiceStore

extension AdmissionGate {
    /// Runs provider work that is not a job (an embeddings call) under the admission a job gets: the
    /// plan's per-minute and daily limits, modes and tiers, the tenant's ceilings, on every node of a
    /// cluster. The prompt's tokens are reserved first, charged when `work` succeeds, and the request
    /// is given back when it fails. Returns what `work` made and the rate-limit headers.
    func immediately<T: Sendable>(
        prompt: [String], model: String, owner: Principal, _ work: () async throws -> T
    ) async throws -> (T, [String: String]) {
        let id = Job.newID()
        var probe = ChatRequest(model: model, messages: prompt.map { ChatMessage(role: "user", content: $0) }, maxTokens: 1)
        let admitted = try controller.admit(&probe, principal: owner, jobID: id)
        var job = Job(id: id, owner: owner, priority: owner.priorityClass, request: probe, createdAt: Date(), deadline: Date())
        job.reservation = admitted.reservation
        do {
            try await takeSharedWindows(admitted.limits, reservation: admitted.reservation, tenant: owner.tenant)
            try await count(admitted.delta, owner: owner)
            // The tenant's part, as a job stores it with its insert (settled below like a job's).
            if let tenant = controller.tenantDelta(of: admitted.reservation, tenant: owner.tenant) { try await store.addCounters([tenant]) }
        } catch {
            controller.release(admitted.reservation)
            throw error
        }
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await work())
            job.state = .succeeded
            job.result = JobResult(text: "", finishReason: "stop", usage: Usage(promptTokens: probe.estimatedPromptTokens, completionTokens: 0))
        } catch {
            outcome = .failure(error)
            job.state = .failed
        }
        // Settled like a job's end: the tokens to what was used, the message given back on a failure.
        let changes = controller.settle(job)
        try await store.addCounters(changes)
        return (try outcome.get(), admitted.headers)
    }
}
