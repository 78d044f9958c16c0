import Foundation
import Synchronization
import SluiceCore
import SluiceServer
import SluiceTesting
import Testing

/// A clock the test moves by hand, shared by the nodes it starts.
final class HandClock: Sendable {
    private let time: Mutex<Date>
    init(_ start: Date) { time = Mutex(start) }
    var now: Date { time.withLock { $0 } }
    func set(_ date: Date) { time.withLock { $0 = date } }
}

/// Schedules: fired at their cron time in their tenant's time zone, once per cluster, each run recorded.
@Suite struct ScheduleTests {
    static let ulaanbaatar = TimeZone(identifier: "Asia/Ulaanbaatar")!

    /// A wall-clock time in Ulaanbaatar.
    static func local(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int = 0) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = ulaanbaatar
        return calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second))!
    }

    /// The anonymous tenant (`local`) with an Ulaanbaatar calendar, an exam period, and `schedules`.
    static func configure(_ configuration: inout SluiceConfiguration, _ schedules: [ScheduleSettings]) {
        var tenant = SluiceConfiguration.Tenant(name: "local")
        tenant.calendar = SchoolCalendar(
            timeZone: ulaanbaatar, periods: [SchoolCalendar.Period(first: "2026-12-10", last: "2026-12-12", mode: "exam")])
        tenant.schedules = schedules
        configuration.tenants = [tenant]
    }

    static let admin = ["X-Sluice-Role": "admin"]

    static func schedules(_ client: HTTPTestClient) async throws -> [[String: Any]] {
        try await client.get("/admin/api/schedules", headers: admin).json["data"] as? [[String: Any]] ?? []
    }

    @Test func aScheduleFiresAtItsTimeOnceAcrossThreeNodes() async throws {
        let url = try await TestPostgres.makeDatabase()
        // Monday 2026-12-07, ten seconds before 14:00 in Ulaanbaatar; the exams start on Thursday.
        let clock = HandClock(Self.local(2026, 12, 7, 13, 59, 50))
        var keep = ScheduleSettings(tenant: "local", name: "keep-exam-topics", cron: "0 14 * * 1-5", kind: .extendTTL)
        keep.namespaces = ["math"]
        keep.daysBeforeExam = 7
        let configure: (inout SluiceConfiguration) -> Void = { configuration in
            configuration.databaseURL = url
            configuration.cluster.pollSeconds = 0.2
            Self.configure(&configuration, [keep])
        }
        try await TestNode.with(configure: configure, clock: { clock.now }) { a in
            try await TestNode.with(configure: configure, clock: { clock.now }) { b in
                try await TestNode.with(configure: configure, clock: { clock.now }) { c in
                    let nodes = [a, b, c]
                    let answer = try await a.client.post(
                        "/v1/chat/completions", json: chatBody("what is a derivative"), headers: ["X-Sluice-Namespace": "math"])
                    #expect(answer.status == 200)
                    let listed = try #require(try await Self.schedules(a.client).first)
                    #expect(listed["name"] as? String == "keep-exam-topics")
                    #expect(listed["time_zone"] as? String == "Asia/Ulaanbaatar")
                    #expect(listed["next_run_at"] as? Double == Self.local(2026, 12, 7, 14, 0).timeIntervalSince1970)
                    #expect(listed["last_run"] is NSNull)
                    // Nothing fires before its time.
                    try await Task.sleep(for: .milliseconds(1500))
                    #expect(try await Self.schedules(b.client).first?["last_run"] is NSNull)
                    clock.set(Self.local(2026, 12, 7, 14, 0, 2))
                    try await eventually("the 14:00 run is recorded and ends") {
                        (try await Self.schedules(c.client).first?["last_run"] as? [String: Any])?["outcome"] as? String == "ok"
                    }
                    // Every node has looked by now (each looks every second); still one run.
                    try await Task.sleep(for: .milliseconds(2500))
                    for node in nodes {
                        let runs = try #require(try await Self.schedules(node.client).first?["recent_runs"] as? [[String: Any]])
                        #expect(runs.count == 1)
                        #expect(runs.first?["fire_at"] as? Double == Self.local(2026, 12, 7, 14, 0).timeIntervalSince1970)
                        let detail = runs.first?["detail"] as? String
                        #expect(detail?.contains("kept 1 cached answers") == true, "\(runs)")
                    }
                    // The next weekday's run is a run of its own.
                    clock.set(Self.local(2026, 12, 8, 14, 0, 1))
                    try await eventually("Tuesday's run is recorded") {
                        (try await Self.schedules(a.client).first?["recent_runs"] as? [Any])?.count == 2
                    }
                    try await Task.sleep(for: .milliseconds(1500))
                    #expect((try await Self.schedules(b.client).first?["recent_runs"] as? [Any])?.count == 2)
                }
            }
        }
    }

    @Test func aWarmScheduleAsksItsQuestionBankAndTheAnswersAreCached() async throws {
        let bank = TemporaryDirectory.make() + "/bank.jsonl"
        try """
            {"question": "what is a prime number", "namespace": "algebra"}
            {"question": "how do I factor x^2 - 1", "namespace": "algebra"}
            not a question
            """.write(toFile: bank, atomically: true, encoding: .utf8)
        var warm = ScheduleSettings(tenant: "local", name: "before-school", cron: "30 6 * * *", kind: .warm)
        warm.file = bank
        let clock = HandClock(Self.local(2026, 12, 7, 6, 29, 58))
        try await TestNode.with(configure: { Self.configure(&$0, [warm]) }, clock: { clock.now }) { node in
            clock.set(Self.local(2026, 12, 7, 6, 30, 1))
            var detail = ""
            try await eventually("the warm run ends") {
                let run = try await Self.schedules(node.client).first?["last_run"] as? [String: Any]
                detail = run?["detail"] as? String ?? ""
                return run?["outcome"] as? String == "ok"
            }
            #expect(detail.contains("asking 2 questions") && detail.contains("1 lines skipped"), "\(detail)")
            try await eventually("the schedule's user has asked both questions") {
                let page = try await node.client.get("/admin/api/jobs?tenant=local&user=schedule:before-school", headers: Self.admin)
                    .json["data"] as? [[String: Any]] ?? []
                return page.count == 2 && page.allSatisfy { $0["state"] as? String == "succeeded" }
            }
            // Asked as the bank asked it (no mock script: the script is part of what the cache compares).
            let reply = try await node.client.post(
                "/v1/chat/completions", json: ["model": "default", "messages": [["role": "user", "content": "what is a prime number"]]],
                headers: ["X-Sluice-Namespace": "algebra"])
            #expect(reply.headers["x-sluice-cache"] == "exact")
        }
    }

    @Test func aBatchScheduleSubmitsItsFileAndTheBatchRuns() async throws {
        let file = TemporaryDirectory.make() + "/essays.jsonl"
        try (0..<3).map { BatchTests.line("essay-\($0)", "grade essay \($0)") }.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        var essays = ScheduleSettings(tenant: "local", name: "essays", cron: "0 1 * * *", kind: .batch)
        essays.file = file
        let clock = HandClock(Self.local(2026, 12, 8, 0, 59, 59))
        try await TestNode.with(configure: { Self.configure(&$0, [essays]) }, clock: { clock.now }) { node in
            clock.set(Self.local(2026, 12, 8, 1, 0, 0))
            var detail = ""
            try await eventually("the batch schedule runs") {
                let run = try await Self.schedules(node.client).first?["last_run"] as? [String: Any]
                detail = run?["detail"] as? String ?? ""
                return run?["outcome"] as? String == "ok"
            }
            #expect(detail.hasPrefix("submitted batch_"), "\(detail)")
            try await eventually("the schedule's user ran the file's three requests") {
                let page = try await node.client.get("/admin/api/jobs?tenant=local&user=schedule:essays", headers: Self.admin).json["data"] as? [[String: Any]] ?? []
                return page.count == 3 && page.allSatisfy { $0["state"] as? String == "succeeded" && $0["priority"] as? String == "batch" }
            }
        }
    }

    @Test func aTrendingScheduleAsksTheMostAskedQuestionsAnew() async throws {
        var rewarm = ScheduleSettings(tenant: "local", name: "rewarm", cron: "0 14 * * *", kind: .warm)
        rewarm.trendingHours = 24 * 400
        rewarm.top = 1
        let clock = HandClock(Self.local(2026, 12, 7, 13, 59, 59))
        try await TestNode.with(configure: { Self.configure(&$0, [rewarm]) }, clock: { clock.now }) { node in
            for user in ["a", "b", "c"] {
                _ = try await node.client.submit(
                    chatBody("what causes the seasons"), headers: ["X-Sluice-User": user, "X-Sluice-Namespace": "geo", "Cache-Control": "no-cache"])
            }
            _ = try await node.client.submit(chatBody("name a river"), headers: ["X-Sluice-Namespace": "geo", "Cache-Control": "no-cache"])
            try await eventually("the questions are answered") {
                let page = try await node.client.get("/admin/api/jobs?tenant=local", headers: Self.admin).json["data"] as? [[String: Any]] ?? []
                return page.count == 4 && page.allSatisfy { $0["state"] as? String == "succeeded" }
            }
            clock.set(Self.local(2026, 12, 7, 14, 0, 1))
            try await eventually("the re-warm run ends") {
                (try await Self.schedules(node.client).first?["last_run"] as? [String: Any])?["outcome"] as? String == "ok"
            }
            let detail = (try await Self.schedules(node.client).first?["last_run"] as? [String: Any])?["detail"] as? String ?? ""
            #expect(detail.contains("the 1 most-asked questions"), "\(detail)")
            // The most-asked question is asked again (not answered from the cache) by the schedule's own user.
            try await eventually("the schedule's user asked the question anew") {
                let page = try await node.client.get("/admin/api/jobs?tenant=local&user=schedule:rewarm", headers: Self.admin).json["data"] as? [[String: Any]] ?? []
                return page.count == 1 && page.first?["question"] as? String == "what causes the seasons" && page.first?["state"] as? String == "succeeded"
                    && page.first?["cache"] as? String != "exact"
            }
        }
    }
}
