import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore
import Synchronization

/// Runs virtual students and teachers against a gateway on loopback: each thinks, asks a question
/// drawn by Zipf popularity, reads the streamed answer, and now and then drops the connection and
/// resumes it with `Last-Event-ID` after a jittered backoff. Bounded by the profile's duration.
/// With an arrival rate, requests arrive on their own schedule instead (open loop), which is how a
/// fixed rate is held and how an exam night of many students is replayed.
public final class LoadTest: Sendable {
    let profile: LoadProfile
    let report = Mutex(LoadReport())
    let zipf: [Double]
    let counter = Atomic<Int>(0)
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
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 1 << 20)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Runs the test; `progress` is called about once a second with the report so far.
    public func run(progress: @escaping @Sendable (LoadReport) -> Void = { _ in }) async -> LoadReport {
        let start = ContinuousClock.now
        let end = start + .seconds(profile.durationSeconds)
        let storm = profile.stormAt.map { start + .seconds($0) }
        await withDiscardingTaskGroup { group in
            if let rate = profile.arrivalRate {
                group.addTask { await self.arrivals(rate: rate, start: start, end: end, storm: storm) }
            } else {
                for user in 0..<profile.users {
                    let joinAt = profile.users > 1 ? profile.rampSeconds * Double(user) / Double(profile.users - 1) : 0
                    group.addTask { await self.user(user, joinAt: start + .seconds(joinAt), end: end, storm: storm, start: start) }
                }
            }
            group.addTask {
                while ContinuousClock.now < end {
                    guard (try? await Task.sleep(for: .seconds(1))) != nil else { return }
                    progress(self.report.withLock { $0 })
                }
            }
        }
        try? await client.shutdown()
        return report.withLock { report in
            report.seconds = (ContinuousClock.now - start).seconds
            return report
        }
    }

    func question(_ random: Double) -> Int {
        guard profile.questions > 0 else { return counter.wrappingAdd(1, ordering: .relaxed).oldValue }
        var low = 0
        var high = zipf.count - 1
        while low < high {
            let middle = (low + high) / 2
            if zipf[middle] < random { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private func arrivals(rate: Double, start: ContinuousClock.Instant, end: ContinuousClock.Instant, storm: ContinuousClock.Instant?) async {
        let asking = OpenTasks()
        var next = ContinuousClock.now
        while next < end {
            guard (try? await Task.sleep(until: next)) != nil else { break }
            let user = Int.random(in: 0..<max(1, profile.users))
            asking.start {
                await self.ask(user: user, question: self.question(Double.random(in: 0..<1)), end: end, storm: storm, start: start)
            }
            next = next + .seconds(-log(Double.random(in: 0.0001..<1)) / rate)
        }
        await asking.allEnded()
    }

    private func user(_ number: Int, joinAt: ContinuousClock.Instant, end: ContinuousClock.Instant, storm: ContinuousClock.Instant?, start: ContinuousClock.Instant) async {
        let thinkSeconds = profile.thinkSeconds * (profile.role(of: number) == .background ? 10 : 1)
        try? await Task.sleep(until: joinAt)
        while ContinuousClock.now < end {
            let think = ContinuousClock.now + .seconds(-log(Double.random(in: 0.0001..<1)) * thinkSeconds)
            guard (try? await Task.sleep(until: min(think, end))) != nil, ContinuousClock.now < end else { return }
            await ask(user: number, question: question(Double.random(in: 0..<1)), end: end, storm: storm, start: start)
        }
    }

    private func request(_ path: String, user: Int) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: profile.url + path)
        let role = profile.role(of: user)
        request.headers.add(name: "X-Sluice-User", value: "vu-\(user)")
        request.headers.add(name: "X-Sluice-Role", value: role == .teacher ? "teacher" : "student")
        if role == .background { request.headers.add(name: "X-Sluice-Priority", value: "batch") }
        return request
    }

    private func ask(user: Int, question: Int, end: ContinuousClock.Instant, storm: ContinuousClock.Instant?, start: ContinuousClock.Instant) async {
        var body: [String: Any] = [
            "model": profile.model, "stream": true,
            "messages": [["role": "user", "content": "Exam question number \(question): please explain it step by step."]],
        ]
        if let tokens = profile.mockTokens(for: question) {
            var mock: [String: Any] = ["tokens": tokens]
            if let rate = profile.mockTokensPerSecond { mock["tokens_per_second"] = rate }
            body["mock"] = mock
        }
        var request = request("/v1/chat/completions", user: user)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: (try? JSONSerialization.data(withJSONObject: body)) ?? Data()))
        guard report.withLock({ report in
            guard report.sent < profile.maxRequests ?? .max else { return false }
            report.sent += 1
            return true
        }) else { return }
        let started = ContinuousClock.now
        let answer = Answer(started: started, role: profile.role(of: user))
        do {
            let response = try await client.execute(request, deadline: patience(end))
            guard response.status == .ok else {
                let data = try await response.body.collect(upTo: 1 << 20)
                let code = ((try? JSONSerialization.jsonObject(with: Data(data.readableBytesView))) as? [String: Any])
                    .flatMap { ($0["error"] as? [String: Any])?["code"] as? String } ?? "?"
                report.withLock { $0.errors["\(response.status.code) \(code)", default: 0] += 1 }
                return
            }
            answer.cached = ["exact", "semantic"].contains(response.headers.first(name: "x-sluice-cache") ?? "")
            let jobID = response.headers.first(name: "x-sluice-job-id")
            let dropAfter = jobID != nil && Double.random(in: 0..<1) < profile.dropShare ? 3 : nil
            switch await follow(response, answer: answer, dropAfter: dropAfter, storm: jobID == nil ? nil : storm) {
            case .done: record(answer, start: start)
            case .failed(let code): report.withLock { $0.errors["stream \(code)", default: 0] += 1 }
            case .dropped where jobID != nil:
                await resume(jobID: jobID ?? "", user: user, answer: answer, end: end, storm: storm, start: start)
            case .dropped, .ended: report.withLock { $0.errors["stream ended early", default: 0] += 1 }
            }
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            report.withLock { $0.errors["timeout (the user gave up)", default: 0] += 1 }
        } catch {
            report.withLock { $0.errors["network (\(Self.kind(of: error)))", default: 0] += 1 }
        }
    }

    /// What kind of network failure an error is, short enough for a report's key: a refused or timed
    /// out connection and a connection closed mid-answer call for different fixes.
    static func kind(of error: any Error) -> String {
        if let error = error as? HTTPClientError { return String(describing: error).replacingOccurrences(of: "HTTPClientError.", with: "") }
        return String(String(describing: error).prefix(60))
    }

    /// How long a user waits for an answer to start: until the run ends, and five minutes more (a
    /// request sent late, when arrivals fell behind, gets the five minutes too).
    private func patience(_ end: ContinuousClock.Instant) -> NIODeadline {
        .now() + .seconds(Int64(max(0, (end - .now).seconds)) + 300)
    }

    /// Resumes a dropped answer from its last event, retrying with jittered exponential backoff
    /// (a refused connection while the gateway restarts included) until the test ends.
    private func resume(jobID: String, user: Int, answer: Answer, end: ContinuousClock.Instant, storm: ContinuousClock.Instant?, start: ContinuousClock.Instant) async {
        report.withLock { $0.resumes += 1 }
        var failures = 0
        while ContinuousClock.now < end + .seconds(60) {
            let ceiling = min(5000, 100 << min(failures, 6))
            try? await Task.sleep(for: .milliseconds(Int.random(in: ceiling / 4...ceiling)))
            var request = request("/v1/jobs/\(jobID)/stream", user: user)
            request.headers.add(name: "Last-Event-ID", value: String(answer.lastID))
            do {
                let response = try await client.execute(request, deadline: patience(end))
                if response.status == .ok {
                    switch await follow(response, answer: answer, dropAfter: nil, storm: storm) {
                    case .done:
                        record(answer, start: start)
                        return
                    case .failed(let code):
                        report.withLock {
                            $0.errors["stream \(code)", default: 0] += 1
                            $0.lostAfterResume += 1
                        }
                        return
                    case .dropped, .ended: break
                    }
                } else if response.status == .notFound {
                    break
                }
            } catch {}
            failures += 1
        }
        report.withLock { $0.lostAfterResume += 1 }
    }

    /// What reading a stream came to.
    enum Outcome { case done, failed(String), dropped, ended }

    /// What one answer has shown so far, shared between its first stream and its resumes.
    final class Answer: @unchecked Sendable {
        let started: ContinuousClock.Instant
        let role: LoadReport.Role
        var firstToken: ContinuousClock.Instant?
        var lastID = 0
        var cached = false
        var queueMs: Double?
        init(started: ContinuousClock.Instant, role: LoadReport.Role) {
            self.started = started
            self.role = role
        }
    }

    /// Reads an OpenAI-format or jobs stream until its end, a planned drop after `dropAfter` events,
    /// or the storm, whichever comes first.
    private func follow(_ response: HTTPClientResponse, answer: Answer, dropAfter: Int?, storm: ContinuousClock.Instant?) async -> Outcome {
        report.withLock {
            $0.openStreams += 1
            $0.peakOpenStreams = max($0.peakOpenStreams, $0.openStreams)
        }
        defer { report.withLock { $0.openStreams -= 1 } }
        guard let storm, storm > .now else { return await read(response, answer: answer, dropAfter: dropAfter) }
        return await withTaskGroup(of: Outcome?.self) { group in
            group.addTask { await self.read(response, answer: answer, dropAfter: dropAfter) }
            group.addTask { (try? await Task.sleep(until: storm)) == nil ? nil : .dropped }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .dropped
        }
    }

    private func read(_ response: HTTPClientResponse, answer: Answer, dropAfter: Int?) async -> Outcome {
        var parser = SSEParser()
        var events = 0
        do {
            for try await buffer in response.body {
                for case .event(let event) in parser.feed(buffer.readableBytesView) {
                    if let id = event.id.flatMap({ Int($0) }) { answer.lastID = id }
                    switch event.name {
                    case "done":
                        answer.queueMs = Self.number(in: event.data, key: "queue_ms")
                        return .done
                    case "error": return .failed(Self.string(in: event.data, key: "code") ?? "error")
                    case "reset", "delta": break
                    default:
                        if event.data == "[DONE]" { return .done }
                        if Self.has(Self.errorField, in: event.data) { return .failed(Self.string(in: event.data, key: "code") ?? "error") }
                        if Self.has(Self.sluiceField, in: event.data) { answer.queueMs = Self.number(in: event.data, key: "queue_ms") }
                    }
                    if answer.firstToken == nil { answer.firstToken = .now }
                    events += 1
                    if let dropAfter, events == dropAfter { return .dropped }
                }
            }
            return .ended
        } catch {
            return .dropped
        }
    }

    private static let errorField = Array("\"error\"".utf8)
    private static let sluiceField = Array("\"sluice\"".utf8)

    /// Whether `text` holds `field`, searched in its bytes. Every chunk is searched twice: `String.contains`
    /// (Foundation's, through `NSString`) took a fifth of this process's CPU, and the standard library's
    /// generic collection search more.
    private static func has(_ field: [UInt8], in text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            guard bytes.count >= field.count else { return false }
            return (0...(bytes.count - field.count)).contains { start in
                bytes[start] == field[0] && bytes[start..<start + field.count].elementsEqual(field)
            }
        }
    }

    private static func number(in json: String, key: String) -> Double? {
        guard let range = json.range(of: "\"\(key)\":") else { return nil }
        return Double(json[range.upperBound...].prefix { $0.isNumber || $0 == "." })
    }

    private static func string(in json: String, key: String) -> String? {
        guard let range = json.range(of: "\"\(key)\":\"") else { return nil }
        return String(json[range.upperBound...].prefix { $0 != "\"" })
    }

    private func record(_ answer: Answer, start: ContinuousClock.Instant) {
        let now = ContinuousClock.now
        let firstToken = answer.firstToken ?? now
        report.withLock { report in
            report.completed += 1
            if answer.cached { report.cacheHits += 1 }
            let ttft = (firstToken - answer.started).milliseconds
            let total = (now - answer.started).milliseconds
            report.timeToFirstToken.append(ttft)
            report.totalLatency.append(total)
            report.samples.append(.init(at: (now - start).seconds, timeToFirstToken: ttft, total: total))
            // The job's wait; an answer that followed a job already waiting (single-flight) waited at most
            // its own time to first token, not the job's whole wait from before it joined.
            if !answer.cached, let wait = answer.queueMs { report.queueWait[answer.role, default: []].append(min(wait, ttft)) }
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var milliseconds: Double { seconds * 1000 }
}
