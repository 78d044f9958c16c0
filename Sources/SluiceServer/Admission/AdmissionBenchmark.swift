import Foundation
import SluiceCore

/// Measures admission's own cost: `admit` then `settle` for a request, with the default plan
/// (10 a minute, reservations and settlement), across many users. For `sluice bench-admission`.
public enum AdmissionBenchmark {
    /// Nanoseconds per admitted-and-settled request, one figure per run.
    /// - Parameters:
    ///   - users: distinct users the requests spread over.
    ///   - requests: requests per run.
    ///   - runs: runs.
    public static func run(users: Int, requests: Int, runs: Int) -> [Double] {
        var policy = AdmissionPolicy()
        policy.plans["free"]?.tokensPerDay = 1_000_000_000
        policy.plans["free"]?.messagesPerDay = 1_000_000
        let template = ChatRequest(model: "default", messages: [ChatMessage(role: "user", content: "Why does light bend when it enters water?")])
        let principals = (0..<users).map { Principal(tenant: "bench", user: "student-\($0)") }
        return (0..<runs).map { run in
            let controller = AdmissionController(policy: policy, metrics: SluiceMetrics(), clock: { Date() }, load: { 0 })
            var jobs: [Job] = []
            jobs.reserveCapacity(requests)
            let clock = ContinuousClock()
            let elapsed = clock.measure {
                for n in 0..<requests {
                    var request = template
                    let principal = principals[(n &* 7919 &+ run) % users]
                    guard let admitted = try? controller.admit(&request, principal: principal, jobID: "j\(n)") else { continue }
                    var job = Job(id: "j\(n)", owner: principal, priority: .interactive, request: request, createdAt: Date(), deadline: Date())
                    job.reservation = admitted.reservation
                    job.state = .succeeded
                    job.result = JobResult(text: "", finishReason: "stop", usage: Usage(promptTokens: 10, completionTokens: 40))
                    _ = controller.settle(job)
                }
            }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            return seconds * 1e9 / Double(requests)
        }
    }
}
