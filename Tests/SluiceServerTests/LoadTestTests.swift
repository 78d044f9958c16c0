import Foundation
import NIOHTTP1
import SluiceCore
import SluiceLoadTest
import SluiceProviders
import SluiceServer
import SluiceStore
import SluiceTesting
import Testing

@Suite struct LoadTestTests {
    @Test func virtualUsersAskStreamDropAndResumeWithNothingLost() async throws {
        try await TestNode.with(configure: { $0.mock = .init(ttftMs: 5, tokensPerSecond: 200, tokens: 12) }) { node in
            let test = try LoadTest(profile: LoadProfile(
                url: "http://127.0.0.1:\(node.port)", users: 8, rampSeconds: 0.3, durationSeconds: 2, thinkSeconds: 0.05, teacherShare: 0.25,
                questions: 100_000, dropShare: 0.5))
            let report = await test.run()
            #expect(report.completed >= 4)
            #expect(report.errors.isEmpty, "\(report.errors)")
            #expect(report.resumes > 0)
            #expect(report.lostAfterResume == 0)
            #expect(report.sent == report.completed)
            #expect(report.timeToFirstToken.count == report.completed)
            #expect(LoadReport.percentile(report.totalLatency, 0.5) >= LoadReport.percentile(report.timeToFirstToken, 0.5))
            #expect(report.markdown.contains("time to first token"))
            let waits = report.queueWait.values.joined()
            #expect(waits.count == report.completed - report.cacheHits, "the gateway reports every miss's queue wait")
            #expect(report.queueWait[.teacher] != nil)
            let summary = try JSONSerialization.jsonObject(with: report.json) as? [String: Any]
            #expect(summary?["completed"] as? Int == report.completed)
            #expect((summary?["timeline"] as? [[String: Any]])?.map { $0["answers"] as? Int ?? 0 }.reduce(0, +) == report.completed)
            #expect(report.svg.hasPrefix("<svg") && report.svg.contains("<polyline"))
        }
    }

    @Test func aReconnectStormDropsEveryOpenStreamAtOnceAndLosesNothing() async throws {
        // Answers take 10 s, so the streams asked for at the start are still open at the storm (5 s) even on a busy machine.
        try await TestNode.with(configure: { $0.mock = .init(ttftMs: 5, tokensPerSecond: 100, tokens: 1000) }) { node in
            let test = try LoadTest(profile: LoadProfile(
                url: "http://127.0.0.1:\(node.port)", kind: .reconnectStorm, users: 6, durationSeconds: 6, thinkSeconds: 0.01, questions: 0,
                dropShare: 0, stormAt: 5))
            let report = await test.run()
            #expect(report.resumes >= 1, "the streams open at the storm resumed")
            #expect(report.lostAfterResume == 0)
            #expect(report.errors.isEmpty, "\(report.errors)")
            #expect(report.completed == report.sent, "every question asked was answered, storm or not")
        }
    }

    @Test func anOpenLoopHoldsItsRateWhateverTheAnswersTake() async throws {
        try await TestNode.with(configure: { $0.mock = .init(ttftMs: 200, tokensPerSecond: 0, tokens: 4) }) { node in
            let test = try LoadTest(profile: LoadProfile(
                url: "http://127.0.0.1:\(node.port)", users: 1000, durationSeconds: 1.5, questions: 0, dropShare: 0, arrivalRate: 40))
            let report = await test.run()
            #expect(report.sent > 20 && report.sent < 120, "about 60 arrivals in 1.5 s: \(report.sent)")
            #expect(report.completed == report.sent)
            #expect(report.cacheHits == 0, "every question was new")
            #expect(report.peakOpenStreams > 2, "arrivals did not wait for earlier answers")
        }
    }

    @Test func cachedAnswersAreCountedAsHits() async throws {
        try await TestNode.with { node in
            let question = "Exam question number 0: please explain it step by step."
            _ = try await node.client.post("/v1/chat/completions", json: ["model": "default", "messages": [["role": "user", "content": question]]])
            let test = try LoadTest(profile: LoadProfile(url: "http://127.0.0.1:\(node.port)", users: 4, durationSeconds: 20, thinkSeconds: 0.05, questions: 1, maxRequests: 12))
            let report = await test.run()
            #expect(report.completed >= 1)
            #expect(report.cacheHits == report.completed)
        }
    }

    @Test func aRunSendsNoMoreThanItsRequestCount() async throws {
        try await TestNode.with(configure: { $0.mock = .init(ttftMs: 1, tokensPerSecond: 0, tokens: 2) }) { node in
            let test = try LoadTest(profile: LoadProfile(
                url: "http://127.0.0.1:\(node.port)", users: 1000, durationSeconds: 30, questions: 0, dropShare: 0, arrivalRate: 200, maxRequests: 25))
            let report = await test.run()
            #expect(report.sent == 25)
            #expect(report.completed == 25)
        }
    }

    @Test func loadIsOnlyEverAimedAtThisMachine() {
        #expect(throws: LoadTest.NotLoopback.self) { try LoadTest(profile: LoadProfile(url: "http://10.0.0.5:8080", users: 1, durationSeconds: 1)) }
        #expect(throws: LoadTest.NotLoopback.self) { try LoadTest(profile: LoadProfile(url: "http://example.com", users: 1, durationSeconds: 1)) }
    }
}
