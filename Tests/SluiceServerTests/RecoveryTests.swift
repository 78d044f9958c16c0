import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore
import SluiceTesting
import Testing

/// Kills and restarts real `sluice serve` processes on one data folder.
@Suite struct RecoveryTests {
    /// The events of a stream, read to its end; `served` hears when the first has come.
    static func follow(_ url: String, served: AsyncStream<Void>.Continuation) async throws -> [SSEEvent] {
        defer { served.finish() }
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(60))
        var parser = SSEParser()
        var events: [SSEEvent] = []
        for try await buffer in response.body {
            for case .event(let event) in parser.feed(buffer.readableBytesView) {
                events.append(event)
                if events.count == 1 { served.yield() }
            }
        }
        return events
    }

    @Test func aJobRunningAtKill9IsReRunAfterRestartAndTheClientResumesWithoutGapOrDuplicate() async throws {
        let data = TemporaryDirectory.make()
        let environment = ["SLUICE_QUEUE_WORKERS": "1", "SLUICE_QUEUE_BACKOFF_BASE_MS": "10"]
        let first = try await SluiceProcess(dataDirectory: data, environment: environment)
        let body = chatBody("a long answer about light", mock: ["tokens": 60, "tokens_per_second": 40])
        let running = try await first.client.submit(body)
        let queued = try await first.client.submit(chatBody("waiting behind it", mock: ["tokens": 5]))
        let seen = try await first.client.events("/v1/jobs/\(running)/stream", limit: 10)
        #expect(seen.ids == Array(1...10))
        first.kill()

        let second = try await SluiceProcess(dataDirectory: data, environment: environment)
        defer { second.kill() }
        let rest = try await second.client.events("/v1/jobs/\(running)/stream", headers: ["Last-Event-ID": "10"])
        // First what the crashed attempt had stored after chunk 10 (if anything), then one reset, then the re-run.
        let names = rest.events.map(\.name)
        let reset = try #require(names.firstIndex(of: "reset"))
        #expect(names.filter { $0 == "reset" }.count == 1)
        #expect(names.last == "done")
        #expect(names.filter { $0 != "delta" } == ["reset", "done"])
        #expect(rest.ids.allSatisfy { $0 > 10 })
        #expect(rest.ids == rest.ids.sorted() && Set(rest.ids).count == rest.ids.count)
        // The re-run is the whole answer; what the first attempt said, without gap or duplicate, is its prefix.
        let words = rest.answer.split(separator: " ")
        #expect(words.count == 60)
        let firstAttempt = seen.events + rest.events[..<reset]
        let spoken = firstAttempt.map { $0.json["text"] as? String ?? "" }.joined().split(separator: " ")
        #expect(spoken == Array(words.prefix(spoken.count)))
        let job = try await second.client.get("/v1/jobs/\(running)").json
        #expect(job["state"] as? String == "succeeded")
        #expect(job["attempt"] as? Int == 2)
        // The job that was waiting runs too.
        let other = try await second.client.waitForJob(queued, states: ["succeeded"])
        #expect(other["attempt"] as? Int == 1)
    }

    @Test func aJobFinishedBeforeTheCrashIsReadWholeAfterRestart() async throws {
        let data = TemporaryDirectory.make()
        let first = try await SluiceProcess(dataDirectory: data)
        let id = try await first.client.submit(chatBody("short", mock: ["tokens": 7]))
        let before = try await first.client.events("/v1/jobs/\(id)/stream")
        #expect(before.events.last?.name == "done")
        first.kill()

        let second = try await SluiceProcess(dataDirectory: data)
        defer { second.kill() }
        let after = try await second.client.events("/v1/jobs/\(id)/stream")
        #expect(after.events == before.events)
        let tail = try await second.client.events("/v1/jobs/\(id)/stream?after=3")
        #expect(tail.events == Array(before.events.dropFirst(3)))
    }

    @Test func gracefulShutdownCheckpointsARunningJobThatFinishesAfterRestart() async throws {
        let data = TemporaryDirectory.make()
        let environment = ["SLUICE_SERVER_SHUTDOWN_GRACE_SECONDS": "0.2"]
        let first = try await SluiceProcess(dataDirectory: data, environment: environment)
        let id = try await first.client.submit(chatBody("interrupted by a deploy", mock: ["tokens": 80, "tokens_per_second": 40]))
        let seen = try await first.client.events("/v1/jobs/\(id)/stream", limit: 4)
        #expect(seen.events.count == 4)
        // A client still following when the node stops sees its stream end, not an error: the node stops
        // once the client has had an event (it is being served).
        let (served, signal) = AsyncStream.makeStream(of: Void.self)
        async let follower = Self.follow(first.client.baseURL + "/v1/jobs/\(id)/stream?after=4", served: signal)
        var firstEvent = served.makeAsyncIterator()
        guard await firstEvent.next() != nil else { throw TestFailure("the follower had no event before the shutdown") }
        #expect(await first.terminate() == 0, "a graceful shutdown exits cleanly")
        let followed = try await follower
        #expect(!followed.contains { $0.name == "done" || $0.name == "error" })
        let lastSeen = followed.compactMap(\.seq).last ?? 4

        let second = try await SluiceProcess(dataDirectory: data, environment: environment)
        defer { second.kill() }
        let rest = try await second.client.events("/v1/jobs/\(id)/stream", headers: ["Last-Event-ID": String(lastSeen)])
        #expect(rest.events.filter { $0.name != "delta" }.map(\.name) == ["reset", "done"])
        #expect(rest.answer.split(separator: " ").count == 80)
        #expect(rest.ids.allSatisfy { $0 > lastSeen })
    }
}

@Suite struct QuotaPersistenceTests {
    @Test func dailyQuotasSurviveARestart() async throws {
        let data = TemporaryDirectory.make()
        let config = data + "/sluice.yaml"
        try """
            plans:
              names: [free]
              free:
                messagesPerDay: 2
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let body = chatBody("count me", mock: ["tokens": 3])
        let first = try await SluiceProcess(dataDirectory: data, arguments: ["--config", config])
        #expect(try await first.client.post("/v1/chat/completions", json: body).status == 200)
        #expect(try await first.client.post("/v1/chat/completions", json: body).status == 200)
        first.kill()
        let second = try await SluiceProcess(dataDirectory: data, arguments: ["--config", config])
        defer { second.kill() }
        let refused = try await second.client.post("/v1/chat/completions", json: body)
        #expect(refused.status == 429)
        #expect(refused.errorCode == "quota_exceeded")
        #expect(try await second.client.post("/v1/chat/completions", json: body, headers: ["X-Sluice-User": "someone-else"]).status == 200)
    }
}
