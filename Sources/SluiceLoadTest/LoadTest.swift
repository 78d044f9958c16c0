import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore
import Synchronization

/// Runs virtual students and teachers against a gateway on loopback: each thinks, asks a question
/// drawn by Zipf popularity, reads the streamed answer, and now and then drops the connection and
/// resumes it with `Last-Event-ID` after a jittered backoff. Bounded by the profile's duration.
public final class LoadTest: Sendable {
    let profile: LoadProfile
    let report = Mutex(LoadReport())
    let zipf: [Double]
    /// A client with a connection per user: the shared client keeps 8 per host, which queues users
    /// behind each other and measures the load generator instead of the gateway.
    let client: HTTPClient

    /// A refusal to aim load anywhere but this machine.
    public struct NotLoopback: Error, CustomStringConvertible {
        public var description: String { "load tests target loopback only (127.0.0.0/8, localhost, [::1])" }
    }

    /// - Parameter profile: the load.
    public init(profile: LoadProfile) throws {
        let host = URL(string: profile.url)?.host ?? ""
        guard host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]" else { throw NotLoopback() }
        self.profile = profile
        var cumulative: [Double] = []
        var total = 0.0
        for rank in 1...max(1, profile.questions) {
            total += 1 / Double(rank)
            cumulative.append(total)
        }
        zipf = cumulative.map { $0 / total }
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: profile.users * 2 + 16)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Runs the test; `progress` is called about once a second with the report so far.
    public func run(progress: @escaping @Sendable (LoadReport) -> Void = { _ in }) async -> LoadReport {
        let start = Date()
        let end = start.addingTimeInterval(profile.durationSeconds)
        await withTaskGroup(of: Void.self) { group in
            for user in 0..<profile.users {
                let joinAt = profile.users > 1 ? profile.rampSeconds * Double(user) / Double(profile.users - 1) : 0
                group.addTask { await self.user(user, joinAt: start.addingTimeInterval(joinAt), end: end) }
            }
            group.addTask {
                while Date() < end {
                    guard (try? await Task.sleep(for: .seconds(1))) != nil else { return }
                    progress(self.report.withLock { $0 })
                }
            }
        }
        try? await client.shutdown()
        return report.withLock { report in
            report.seconds = Date().timeIntervalSince(start)
            return report
        }
    }

    func question(_ random: Double) -> Int {
        var low = 0
        var high = zipf.count - 1
        while low < high {
            let middle = (low + high) / 2
            if zipf[middle] < random { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private func user(_ number: Int, joinAt: Date, end: Date) async {
        let teacher = Double(number % 1000) / 1000 < profile.teacherShare
        try? await Task.sleep(for: .seconds(max(0, joinAt.timeIntervalSinceNow)))
        while Date() < end {
            let think = -log(Double.random(in: 0.0001..<1)) * profile.thinkSeconds
            guard (try? await Task.sleep(for: .seconds(min(think, max(0, end.timeIntervalSinceNow))))) != nil, Date() < end else { return }
            await ask(user: "vu-\(number)", teacher: teacher, question: question(Double.random(in: 0..<1)), end: end)
        }
    }

    private func headers(user: String, teacher: Bool) -> [(String, String)] {
        [("X-Sluice-User", user), ("X-Sluice-Role", teacher ? "teacher" : "student")]
    }

    private func ask(user: String, teacher: Bool, question: Int, end: Date) async {
        var body: [String: Any] = [
            "model": profile.model, "stream": true,
            "messages": [["role": "user", "content": "Exam question number \(question): please explain it step by step."]],
        ]
        if let tokens = profile.mockTokens {
            var mock: [String: Any] = ["tokens": tokens]
            if let rate = profile.mockTokensPerSecond { mock["tokens_per_second"] = rate }
            body["mock"] = mock
        }
        var request = HTTPClientRequest(url: profile.url + "/v1/chat/completions")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers(user: user, teacher: teacher) { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: (try? JSONSerialization.data(withJSONObject: body)) ?? Data()))
        report.withLock { $0.sent += 1 }
        let started = Date()
        do {
            let response = try await client.execute(request, timeout: .seconds(Int64(max(5, end.timeIntervalSinceNow + 30))))
            guard response.status == .ok else {
                let data = try await response.body.collect(upTo: 1 << 20)
                let code = ((try? JSONSerialization.jsonObject(with: Data(data.readableBytesView))) as? [String: Any])
                    .flatMap { ($0["error"] as? [String: Any])?["code"] as? String } ?? "?"
                report.withLock { $0.errors["\(response.status.code) \(code)", default: 0] += 1 }
                return
            }
            let jobID = response.headers.first(name: "x-sluice-job-id")
            let cached = ["exact", "semantic"].contains(response.headers.first(name: "x-sluice-cache") ?? "")
            let drop = jobID != nil && Double.random(in: 0..<1) < profile.dropShare
            var parser = SSEParser()
            var firstToken: Date?
            var lastID = 0
            var events = 0
            reading: for try await buffer in response.body {
                for case .event(let event) in parser.feed(buffer.readableBytesView) {
                    if let id = event.id.flatMap({ Int($0) }) { lastID = id }
                    if event.data == "[DONE]" {
                        record(started: started, firstToken: firstToken ?? Date(), cached: cached)
                        return
                    }
                    if event.data.contains("\"error\"") {
                        report.withLock { $0.errors["stream error", default: 0] += 1 }
                        return
                    }
                    if firstToken == nil { firstToken = Date() }
                    events += 1
                    if drop, events == 3 { break reading }
                }
            }
            guard drop, let jobID else {
                report.withLock { $0.errors["stream ended early", default: 0] += 1 }
                return
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 50...500)))
            await resume(jobID: jobID, after: lastID, user: user, teacher: teacher, started: started, firstToken: firstToken ?? Date())
        } catch {
            report.withLock { $0.errors["network", default: 0] += 1 }
        }
    }

    private func resume(jobID: String, after: Int, user: String, teacher: Bool, started: Date, firstToken: Date) async {
        var request = HTTPClientRequest(url: profile.url + "/v1/jobs/\(jobID)/stream")
        request.headers.add(name: "Last-Event-ID", value: String(after))
        for (name, value) in headers(user: user, teacher: teacher) { request.headers.add(name: name, value: value) }
        report.withLock { $0.resumes += 1 }
        do {
            let response = try await client.execute(request, timeout: .seconds(120))
            var parser = SSEParser()
            for try await buffer in response.body {
                for case .event(let event) in parser.feed(buffer.readableBytesView) where event.name == "done" || event.name == "error" {
                    if event.name == "done" {
                        record(started: started, firstToken: firstToken, cached: false)
                    } else {
                        report.withLock { $0.lostAfterResume += 1 }
                    }
                    return
                }
            }
            report.withLock { $0.lostAfterResume += 1 }
        } catch {
            report.withLock { $0.lostAfterResume += 1 }
        }
    }

    private func record(started: Date, firstToken: Date, cached: Bool) {
        let now = Date()
        report.withLock { report in
            report.completed += 1
            if cached { report.cacheHits += 1 }
            report.timeToFirstToken.append(firstToken.timeIntervalSince(started) * 1000)
            report.totalLatency.append(now.timeIntervalSince(started) * 1000)
        }
    }
}
