import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// `sluice warm FILE.jsonl`: fills a running Sluice's cache before peak hours. Answered lines are
/// imported; unanswered ones are asked through the normal provider path in the batch class, a few at a
/// time. Progress is kept in `FILE.jsonl.progress`, so an interrupted run resumes where it stopped.
struct WarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warm",
        abstract: "Warm the cache from a JSONL file of {question, namespace, answer?, tags?, model?} lines.")

    @Argument(help: "The JSONL file.")
    var file: String

    @Option(help: "The Sluice to warm.")
    var url = "http://127.0.0.1:8080"

    @Option(name: .customLong("api-key"), help: "An app key (default: $SLUICE_API_KEY).")
    var apiKey: String?

    @Option(help: "The model alias for lines that name none.")
    var model = "default"

    @Option(help: "Questions asked at once.")
    var concurrency = 4

    @Option(help: "The plan the warming user is on (give it generous limits, and a maxRunning as large as --concurrency).")
    var plan: String?

    @Option(help: "The end user the questions are asked as.")
    var user = "cache-warmer"

    struct Line: Sendable {
        var number: Int
        var body: [String: String]
        var tags: [String]
    }

    func run() async throws {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let progressPath = file + ".progress"
        let done = Set(((try? String(contentsOfFile: progressPath, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int($0) })
        var lines: [Line] = []
        var invalid = 0
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !done.contains(index + 1) else { continue }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [String: Any],
                  let question = object["question"] as? String, !question.isEmpty
            else {
                invalid += 1
                FileHandle.standardError.write(Data("line \(index + 1): not a JSON object with a question; skipped\n".utf8))
                continue
            }
            var body = ["question": question, "namespace": object["namespace"] as? String ?? "", "model": object["model"] as? String ?? model]
            if let answer = object["answer"] as? String, !answer.isEmpty { body["answer"] = answer }
            lines.append(Line(number: index + 1, body: body, tags: object["tags"] as? [String] ?? []))
        }
        if !FileManager.default.fileExists(atPath: progressPath) {
            _ = FileManager.default.createFile(atPath: progressPath, contents: nil)
        }
        let progress = try FileHandle(forWritingTo: URL(fileURLWithPath: progressPath))
        progress.seekToEndOfFile()
        let total = lines.count
        var finished = 0
        var failed = 0
        let key = apiKey ?? ProcessInfo.processInfo.environment["SLUICE_API_KEY"]
        print("warming \(total) question(s) from \(file) (\(done.count) already done)")
        try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            var next = 0
            func launch() {
                guard next < lines.count else { return }
                let line = lines[next]
                next += 1
                group.addTask { (line.number, await self.warm(line, key: key)) }
            }
            for _ in 0..<max(1, concurrency) { launch() }
            while let (number, ok) = try await group.next() {
                if ok {
                    progress.write(Data("\(number)\n".utf8))
                    finished += 1
                } else {
                    failed += 1
                }
                Self.bar(done: finished + failed, total: total, failed: failed)
                launch()
            }
        }
        try progress.synchronize()
        FileHandle.standardError.write(Data("\n".utf8))
        print("warmed \(finished) of \(total); \(failed) failed; \(invalid) invalid line(s)")
        if failed > 0 { throw ExitCode(1) }
    }

    /// Warms one line; retries what the server asks to retry (429, 503) a few times.
    func warm(_ line: Line, key: String?) async -> Bool {
        let answered = line.body["answer"] != nil
        var payload: [String: Any]
        var request = HTTPClientRequest(url: url + (answered ? "/admin/api/cache" : "/v1/chat/completions"))
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Sluice-User", value: user)
        if let key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let plan { request.headers.add(name: "X-Sluice-Plan", value: plan) }
        if answered {
            request.headers.add(name: "X-Sluice-Role", value: "admin")
            payload = ["question": line.body["question"]!, "namespace": line.body["namespace"]!, "answer": line.body["answer"]!, "model": line.body["model"]!, "tags": line.tags]
        } else {
            request.headers.add(name: "X-Sluice-Priority", value: "batch")
            if !line.body["namespace"]!.isEmpty { request.headers.add(name: "X-Sluice-Namespace", value: line.body["namespace"]!) }
            if !line.tags.isEmpty { request.headers.add(name: "X-Sluice-Cache-Tags", value: line.tags.joined(separator: ",")) }
            payload = ["model": line.body["model"]!, "messages": [["role": "user", "content": line.body["question"]!]]]
        }
        guard let data = try? JSONSerialization.data(withJSONObject: payload) else { return false }
        request.body = .bytes(ByteBuffer(bytes: data))
        for _ in 0..<6 {
            do {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(300))
                _ = try await response.body.collect(upTo: 16 << 20)
                let status = Int(response.status.code)
                if (200..<300).contains(status) { return true }
                guard status == 429 || status == 503, let wait = response.headers.first(name: "retry-after").flatMap(Double.init) else {
                    FileHandle.standardError.write(Data("\nline \(line.number): the server answered \(status)\n".utf8))
                    return false
                }
                try await Task.sleep(for: .seconds(min(wait, 60)))
            } catch {
                FileHandle.standardError.write(Data("\nline \(line.number): \(error)\n".utf8))
                return false
            }
        }
        return false
    }

    static func bar(done: Int, total: Int, failed: Int) {
        let width = 30
        let filled = total == 0 ? width : done * width / total
        let percent = total == 0 ? 100 : done * 100 / total
        let line = "\r[" + String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled) + "] \(done)/\(total) \(percent)%"
            + (failed > 0 ? " (\(failed) failed)" : "")
        FileHandle.standardError.write(Data(line.utf8))
    }
}
