import Foundation
import NIOHTTP1
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore
import SluiceTesting
import Testing

/// `sluice warm FILE.jsonl` against a live node.
@Suite struct WarmTests {
    @Test func warmingImportsAnswersAsksTheRestInBatchAndResumesAfterAnInterruption() async throws {
        let directory = TemporaryDirectory.make()
        let file = directory + "/physics.jsonl"
        var lines = [
            #"{"question": "What is refraction?", "namespace": "physics:10", "answer": "Light bending as it changes medium.", "tags": ["ch1"]}"#,
            #"{"question": "Гэрэл яагаад хугардаг вэ?", "namespace": "physics:10", "answer": "Орчин солигдохдоо хурд нь өөрчлөгддөг."}"#,
            "not json",
        ]
        for n in 1...6 { lines.append(#"{"question": "Unanswered question \#(n)?", "namespace": "physics:10"}"#) }
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        try await TestNode.with(configure: { $0.mock.ttftMs = 600 }) { node in
            let url = "http://127.0.0.1:\(node.port)"
            // Interrupted once a few lines are done, with questions still to ask…
            let warm = try ChildProcess([try SluiceProcess.executable().path, "warm", file, "--url", url, "--concurrency", "1"])
            var partial = 0
            for _ in 0..<400 where partial < 3 {
                try await Task.sleep(for: .milliseconds(50))
                partial = ((try? String(contentsOfFile: file + ".progress", encoding: .utf8)) ?? "").split(separator: "\n").count
            }
            warm.signal(SIGTERM)
            _ = await warm.wait(seconds: 30)
            partial = try String(contentsOfFile: file + ".progress", encoding: .utf8).split(separator: "\n").count
            #expect(partial >= 3 && partial < 8)
            // …then run again: it finishes, asking nothing twice.
            let (status, output) = try await SluiceProcess.run(["warm", file, "--url", url, "--concurrency", "3"], timeout: 30)
            #expect(status == 0, "\(output)")
            #expect(output.contains("invalid line"))
            let done = try String(contentsOfFile: file + ".progress", encoding: .utf8).split(separator: "\n").map { Int($0)! }
            #expect(Set(done) == Set([1, 2] + Array(4...9)))
            #expect(node.node.mock.totalCalls == 6)
            let namespace = ["X-Sluice-Namespace": "physics:10"]
            for question in ["What is refraction?", "Гэрэл яагаад хугардаг вэ?", "Unanswered question 4?"] {
                let reply = try await node.client.post(
                    "/v1/chat/completions", json: ["model": "default", "messages": [["role": "user", "content": question]]], headers: namespace)
                #expect(reply.headers["x-sluice-cache"] == "exact", "\(question)")
            }
            // Running it once more does nothing.
            let (again, _) = try await SluiceProcess.run(["warm", file, "--url", url], timeout: 30)
            #expect(again == 0)
            #expect(node.node.mock.totalCalls == 6)
        }
    }
}
