import Foundation
import NIOHTTP1
import SluiceCore
import SluiceProviders
@testable import SluiceServer
import SluiceStore
import SluiceTesting
import Testing

@Suite struct QueueTests {
    /// A job the store says is running here that no attempt runs (a write lost between two states) is
    /// found by the watchdog, which reads only where jobs stand, and runs to its end.
    @Test func aJobRunningWithNoAttemptIsTakenUpByTheWatchdog() async throws {
        try await TestNode.with { node in
            let store = node.node.jobs.store
            var job = storeJob("job_stuck", state: .running)
            (job.attempt, job.createdAt, job.startedAt, job.deadline) = (1, Date(), Date(), Date().addingTimeInterval(600))
            try await store.insert(job)
            try await eventually("the watchdog took the job up and it ended", seconds: 30) {
                try await store.job(id: "job_stuck")?.state == .succeeded
            }
            #expect(try await store.job(id: "job_stuck")?.attempt == 2)
        }
    }

    @Test func priorityFirstThenFairAcrossUsers() async throws {
        try await TestNode.with(configure: { $0.queue.workers = 1 }) { node in
            // The only worker is busy until the backlog is in place; cancelling the blocker frees it.
            let blocker = try await node.client.submit(chatBody("blocker", mock: ["tokens": 1, "ttft_ms": 60_000]), headers: ["X-Sluice-User": "x"])
            _ = try await node.client.waitForJob(blocker, states: ["running"], headers: ["X-Sluice-User": "x"])
            var names: [String: String] = [:]
            var owners: [String: String] = [:]
            func submit(_ name: String, user: String, role: String = "student") async throws {
                let id = try await node.client.submit(
                    chatBody(name, mock: ["tokens": 1, "ttft_ms": 15]), headers: ["X-Sluice-User": user, "X-Sluice-Role": role])
                names[id] = name
                owners[id] = user
            }
            for n in 1...4 { try await submit("alice\(n)", user: "alice") }
            try await submit("bob1", user: "bob")
            try await submit("teacher1", user: "tina", role: "teacher")
            _ = try await node.client.delete("/v1/jobs/\(blocker)", headers: ["X-Sluice-User": "x"])
            var started: [(Double, String)] = []
            for (id, name) in names {
                let job = try await node.client.waitForJob(id, states: ["succeeded"], headers: ["X-Sluice-User": owners[id]!])
                started.append((job["started_at"] as? Double ?? 0, name))
                if name == "teacher1" { #expect(job["priority"] as? String == "bypass") }
            }
            let order = started.sorted { $0.0 < $1.0 }.map(\.1)
            #expect(order == ["teacher1", "alice1", "bob1", "alice2", "alice3", "alice4"])
        }
    }

    @Test func queuedJobsReportTheirPosition() async throws {
        try await TestNode.with(configure: { $0.queue.workers = 1 }) { node in
            let blocker = try await node.client.submit(chatBody("blocker", mock: ["tokens": 1, "ttft_ms": 60_000]))
            _ = try await node.client.waitForJob(blocker, states: ["running"])
            let first = try await node.client.submit(chatBody("one"), headers: ["X-Sluice-User": "u1"])
            let second = try await node.client.submit(chatBody("two"), headers: ["X-Sluice-User": "u2"])
            #expect(try await node.client.get("/v1/jobs/\(first)", headers: ["X-Sluice-User": "u1"]).json["queue_position"] as? Int == 0)
            #expect(try await node.client.get("/v1/jobs/\(second)", headers: ["X-Sluice-User": "u2"]).json["queue_position"] as? Int == 1)
            _ = try await node.client.delete("/v1/jobs/\(blocker)")
        }
    }

    @Test func aUserRunsAtMostTheirCapAtOnce() async throws {
        try await TestNode.with(configure: { $0.queue.workers = 4; $0.queue.maxRunningPerUser = 1 }) { node in
            let alice = ["X-Sluice-User": "alice"]
            var ids: [String] = []
            for n in 1...3 { ids.append(try await node.client.submit(chatBody("a\(n)", mock: ["tokens": 1, "ttft_ms": 60_000]), headers: alice)) }
            let bob = try await node.client.submit(chatBody("b", mock: ["tokens": 1, "ttft_ms": 60_000]), headers: ["X-Sluice-User": "bob"])
            _ = try await node.client.waitForJob(bob, states: ["running"], headers: ["X-Sluice-User": "bob"])
            var states: [String] = []
            for id in ids { states.append(try await node.client.get("/v1/jobs/\(id)", headers: alice).json["state"] as? String ?? "") }
            #expect(states.filter { $0 == "running" }.count == 1)
            #expect(states.filter { $0 == "queued" }.count == 2)
            // When alice's running job ends, her next one starts.
            let runningID = ids[states.firstIndex(of: "running")!]
            _ = try await node.client.delete("/v1/jobs/\(runningID)", headers: alice)
            let next = ids[states.firstIndex(of: "queued")!]
            let other = ids.first { $0 != runningID && $0 != next }!
            _ = try await node.client.waitForJob(next, states: ["running"], headers: alice)
            #expect(try await node.client.get("/v1/jobs/\(other)", headers: alice).json["state"] as? String == "queued")
            for id in ids + [bob] {
                _ = try await node.client.delete("/v1/jobs/\(id)", headers: ["X-Sluice-User": id == bob ? "bob" : "alice"])
            }
        }
    }

    /// A plan may set its own cap (`maxRunning`): the user `sluice warm` asks as runs as many questions
    /// at once as its plan allows, while everyone else keeps `queue.maxRunningPerUser`.
    @Test func aPlansOwnCapReplacesTheQueuesForItsUsers() async throws {
        try await TestNode.with(configure: {
            $0.queue.workers = 8
            $0.queue.maxRunningPerUser = 1
            var warmer = Plan(name: "warmer")
            warmer.requestsPerMinute = nil
            warmer.maxStreams = 100
            warmer.maxRunning = 3
            $0.admission.plans["warmer"] = warmer
        }) { node in
            let warm = ["X-Sluice-User": "warmer", "X-Sluice-Plan": "warmer"]
            let alice = ["X-Sluice-User": "alice"]
            var warming: [String] = []
            for n in 1...4 { warming.append(try await node.client.submit(chatBody("w\(n)", mock: ["tokens": 1, "ttft_ms": 60_000]), headers: warm)) }
            var asked: [String] = []
            for n in 1...2 { asked.append(try await node.client.submit(chatBody("a\(n)", mock: ["tokens": 1, "ttft_ms": 60_000]), headers: alice)) }
            _ = try await node.client.waitForJob(asked[0], states: ["running"], headers: alice)
            func states(_ ids: [String], _ headers: [String: String]) async throws -> [String] {
                var states: [String] = []
                for id in ids { states.append(try await node.client.get("/v1/jobs/\(id)", headers: headers).json["state"] as? String ?? "") }
                return states
            }
            var running = 0
            for _ in 0..<100 where running < 3 {
                running = try await states(warming, warm).filter { $0 == "running" }.count
                if running < 3 { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(running == 3, "the warmer's plan runs 3 at once")
            #expect(try await states(warming, warm).filter { $0 == "queued" }.count == 1)
            #expect(try await states(asked, alice) == ["running", "queued"], "alice keeps the queue's cap of 1")
            for id in warming { _ = try await node.client.delete("/v1/jobs/\(id)", headers: warm) }
            for id in asked { _ = try await node.client.delete("/v1/jobs/\(id)", headers: alice) }
        }
    }

    @Test func aJobWaitingPastItsDeadlineExpiresWithAClearReason() async throws {
        try await TestNode.with(configure: { $0.queue.workers = 1; $0.queue.deadlineSeconds = 1.5 }) { node in
            let blocker = try await node.client.submit(chatBody("blocker", mock: ["tokens": 1, "ttft_ms": 60_000]))
            _ = try await node.client.waitForJob(blocker, states: ["running"])
            let reply = try await node.client.post("/v1/chat/completions", json: chatBody("too late"))
            #expect(reply.status == 504)
            #expect(reply.errorCode == "deadline_exceeded")
            let id = try #require(reply.headers["x-sluice-job-id"])
            let job = try await node.client.get("/v1/jobs/\(id)").json
            #expect(job["state"] as? String == "expired")
            #expect((job["error"] as? [String: Any])?["code"] as? String == "deadline_exceeded")
            let mongolian = try await node.client.post("/v1/chat/completions", json: chatBody("too late again"), headers: ["Accept-Language": "mn"])
            #expect(mongolian.errorCode == "deadline_exceeded")
            #expect(((mongolian.json["error"] as? [String: Any])?["message"] as? String)?.contains("секунд") == true)
            _ = try await node.client.delete("/v1/jobs/\(blocker)")
        }
    }

    @Test func aStreamCutAfterOutputIsRetriedWithAResetThenReportedIncomplete() async throws {
        try await TestNode.with(configure: { $0.queue.maxAttempts = 2 }) { node in
            let id = try await node.client.submit(chatBody("flaky", mock: ["tokens": 6, "fail": "after:3"]))
            let stream = try await node.client.events("/v1/jobs/\(id)/stream")
            #expect(stream.events.map(\.name) == ["delta", "delta", "delta", "reset", "delta", "delta", "delta", "error"])
            #expect(stream.ids == Array(1...8))
            #expect(stream.events.last?.json["code"] as? String == "stream_interrupted")
            let job = try await node.client.get("/v1/jobs/\(id)").json
            #expect(job["state"] as? String == "failed")
            #expect(job["attempt"] as? Int == 2)
            // The OpenAI stream never ends an incomplete answer with [DONE].
            let openai = try await node.client.events("/v1/chat/completions", method: .POST, json: chatBody("flaky", stream: true, mock: ["tokens": 6, "fail": "after:3"]))
            #expect(openai.events.contains { $0.data == "[DONE]" } == false)
            #expect((openai.events.last?.json["error"] as? [String: Any])?["code"] as? String == "stream_interrupted")
        }
    }

    @Test func aProviderErrorIsRetriedUpToTheAttemptLimit() async throws {
        try await TestNode.with(configure: { $0.queue.maxAttempts = 3 }) { node in
            let reply = try await node.client.post("/v1/chat/completions", json: chatBody("down", mock: ["fail": "status:500"]))
            #expect(reply.status == 502)
            #expect(reply.errorCode == "provider_error")
            #expect(node.node.mock.totalCalls == 3)
            let id = try #require(reply.headers["x-sluice-job-id"])
            let job = try await node.client.get("/v1/jobs/\(id)").json
            #expect(job["attempt"] as? Int == 3)
            #expect(job["state"] as? String == "failed")
        }
    }

    @Test func retentionSweepsFinishedJobs() async throws {
        try await TestNode.with(configure: { $0.retention.streamSeconds = 0.2; $0.retention.historyDays = 0.2 / 86400; $0.retention.sweepSeconds = 0.1 }) { node in
            let id = try await node.client.submit(chatBody("short-lived"))
            #expect(try await node.client.get("/v1/jobs/\(id)").status == 200)
            // Gone within a few sweeps after it ended: the job and its stream.
            var status = 200
            for _ in 0..<100 where status == 200 {
                try await Task.sleep(for: .milliseconds(50))
                status = try await node.client.get("/v1/jobs/\(id)").status
            }
            #expect(status == 404)
            // Its stream answers 204: an EventSource that reconnects after the end stops there.
            #expect(try await node.client.events("/v1/jobs/\(id)/stream").status == 204)
        }
    }

    @Test func aTeacherWhoJoinsAStudentsQueuedQuestionRaisesItToTheTeachersClass() async throws {
        try await TestNode.with(configure: {
            $0.queue.workers = 2
            $0.admission.reservedBypassWorkers = 1
        }) { node in
            // The one worker students may use is busy for seconds.
            let busy = try await node.client.post("/v1/jobs", json: chatBody("a long essay", mock: ["tokens": 40, "tokens_per_second": 8]), headers: ["X-Sluice-User": "s0"])
            let busyID = busy.json["id"] as? String ?? ""
            try await eventually("the long job runs") {
                try await node.client.get("/v1/jobs/\(busyID)", headers: ["X-Sluice-User": "s0"]).json["state"] as? String == "running"
            }
            let question = chatBody("why is the sky blue", mock: ["tokens": 4])
            let student = try await node.client.post("/v1/jobs", json: question, headers: ["X-Sluice-User": "s1"])
            let id = student.json["id"] as? String ?? ""
            #expect(try await node.client.get("/v1/jobs/\(id)", headers: ["X-Sluice-User": "s1"]).json["state"] as? String == "queued")
            // The teacher asks the same question: a follower of that job, which moves to the teachers' class
            // and runs on the worker kept for them, while the long job still runs.
            let teacher = try await node.client.post("/v1/jobs", json: question, headers: ["X-Sluice-User": "t1", "X-Sluice-Role": "teacher"])
            #expect(teacher.json["id"] as? String == id, "the teacher follows the student's job")
            try await eventually("the raised job ends", seconds: 10) {
                try await node.client.get("/v1/jobs/\(id)", headers: ["X-Sluice-User": "t1"]).json["state"] as? String == "succeeded"
            }
            let ended = try await node.client.get("/v1/jobs/\(id)", headers: ["X-Sluice-User": "s1"]).json
            #expect(ended["priority"] as? String == "bypass", "\(ended)")
            #expect(try await node.client.get("/v1/jobs/\(busyID)", headers: ["X-Sluice-User": "s0"]).json["state"] as? String == "running")
        }
    }
}


@Suite struct QueueBenchmarkTests {
    @Test func theQueueBenchmarkCompletesEveryJobAndTimesEveryStart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = SluiceConfiguration()
        configuration.storage = .init(directory: directory, synchronous: "normal")
        let result = try await QueueBenchmark.run(configuration: configuration, jobs: 300, submitters: 32, rate: 100, seconds: 0.3)
        #expect(result.jobsPerSecond > 0)
        #expect(result.startLatencies.count >= 20, "about 30 paced jobs, each timed")
        #expect(result.startLatencies.allSatisfy { $0 >= 0 })
    }
}
