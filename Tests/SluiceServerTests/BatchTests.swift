import Foundation
import NIOHTTP1
import SluiceCore
import SluiceServer
import SluiceTesting
import Testing

/// The Batch API run by Sluice: files, batches, their output and error files, cancellation, and batches
/// that survive the death of their node.
@Suite struct BatchTests {
    /// A batch file's line: a chat request with a scripted mock answer.
    static func line(_ id: String, _ content: String, tokens: Int = 5, perSecond: Double = 20) -> String {
        let body: [String: Any] = [
            "model": "default", "messages": [["role": "user", "content": content]], "mock": ["tokens": tokens, "tokens_per_second": perSecond],
        ]
        let object: [String: Any] = ["custom_id": id, "method": "POST", "url": "/v1/chat/completions", "body": body]
        return String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// A plan without per-minute limits, for tests that run processes (whose default plan has 10 a minute).
    static let unlimited = "plans:\n  names: [free]\n  free: {requestsPerMinute: 0}\n"

    /// Uploads lines as a batch file, as multipart/form-data; returns the reply.
    static func upload(_ lines: [String], to client: HTTPTestClient, headers: [String: String] = [:]) async throws -> HTTPTestClient.Reply {
        let boundary = "sluice-test-" + UUID().uuidString
        var body = Data()
        body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n".utf8))
        body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"lines.jsonl\"\r\n".utf8))
        body.append(Data("Content-Type: application/jsonl\r\n\r\n".utf8))
        body.append(Data((lines.joined(separator: "\n") + "\n").utf8))
        body.append(Data("\r\n--\(boundary)--\r\n".utf8))
        return try await client.send(.POST, "/v1/files", body: body, headers: headers.merging(["Content-Type": "multipart/form-data; boundary=\(boundary)"]) { $1 })
    }

    /// Polls a batch until it reaches one of `statuses`.
    static func wait(
        _ id: String, _ client: HTTPTestClient, for statuses: Set<String>, headers: [String: String] = [:], seconds: Double = 60
    ) async throws -> [String: Any] {
        var last: [String: Any] = [:]
        try await eventually("batch \(id) reaches \(statuses)", seconds: seconds, every: .milliseconds(100)) {
            last = try await client.get("/v1/batches/\(id)", headers: headers).json
            return statuses.contains(last["status"] as? String ?? "")
        }
        return last
    }

    /// The output file's lines, by custom id.
    static func output(of batch: [String: Any], _ client: HTTPTestClient, file key: String = "output_file_id") async throws -> [String: [String: Any]] {
        let id = try #require(batch[key] as? String)
        let text = try await client.get("/v1/files/\(id)/content").text
        var lines: [String: [String: Any]] = [:]
        for line in text.split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let custom = try #require(object["custom_id"] as? String)
            #expect(lines[custom] == nil, "custom_id \(custom) appears twice")
            lines[custom] = object
        }
        return lines
    }

    @Test func theOfficialSDKRunsABatchBesideInteractiveWork() async throws {
        try await TestNode.with(configure: {
            $0.queue.workers = 2
            $0.batches.concurrency = 2
            $0.admission.reservedBypassWorkers = 0
        }) { node in
            let (status, output) = try await OpenAISDKTests.python([OfficialClientTests.scripts + "/openai_batch_check.py", "http://127.0.0.1:\(node.port)/v1"])
            #expect(status == 0, "\(output)")
            #expect(output.contains("openai-batch-check: ok"), "\(output)")
        }
    }

    @Test func filesAndBatchesAreTheirOwnersAndBadRequestsAreRefusedByName() async throws {
        try await TestNode.with { node in
            let alice = ["X-Sluice-User": "alice"]
            let bob = ["X-Sluice-User": "bob"]
            let file = try await Self.upload([Self.line("a", "one"), Self.line("b", "two")], to: node.client, headers: alice)
            #expect(file.status == 200, "\(file.text)")
            let fileID = try #require(file.json["id"] as? String)
            #expect(try await node.client.get("/v1/files/\(fileID)", headers: bob).status == 404)
            #expect(try await node.client.get("/v1/files/\(fileID)/content", headers: bob).status == 404)
            let refused = try await node.client.post(
                "/v1/batches", json: ["input_file_id": fileID, "endpoint": "/v1/chat/completions", "completion_window": "24h"], headers: bob)
            #expect(refused.status == 400 && refused.text.contains("input_file_id"))
            for (body, field) in [
                (["input_file_id": fileID, "endpoint": "/v1/completions"], "endpoint"),
                (["input_file_id": fileID, "endpoint": "/v1/chat/completions", "completion_window": "forever"], "completion_window"),
                (["endpoint": "/v1/chat/completions"], "input_file_id"),
            ] as [([String: Any], String)] {
                let reply = try await node.client.post("/v1/batches", json: body, headers: alice)
                #expect(reply.status == 400 && reply.text.contains(field), "\(reply.text)")
            }
            let batch = try await node.client.post(
                "/v1/batches", json: ["input_file_id": fileID, "endpoint": "/v1/chat/completions", "metadata": ["k": "v"]], headers: alice)
            let batchID = try #require(batch.json["id"] as? String)
            #expect(try await node.client.get("/v1/batches/\(batchID)", headers: bob).status == 404)
            #expect((try await node.client.get("/v1/batches", headers: bob).json["data"] as? [Any])?.isEmpty == true)
            #expect(try await node.client.post("/v1/batches/\(batchID)/cancel", json: [:], headers: bob).status == 404)
            // Uploads: only batch files, only multipart, well-formed lines, unique ids, one API per file.
            let json = try await node.client.post("/v1/files", json: ["purpose": "batch"])
            #expect(json.status == 400 && json.text.contains("multipart"))
            let duplicate = try await Self.upload([Self.line("x", "1"), Self.line("x", "2")], to: node.client)
            #expect(duplicate.status == 400 && duplicate.text.contains("line 2") && duplicate.text.contains("unique"))
            let mixed = try await Self.upload([
                Self.line("x", "1"), #"{"custom_id":"y","method":"POST","url":"/v1/embeddings","body":{"model":"default","input":"a"}}"#,
            ], to: node.client)
            #expect(mixed.status == 400 && mixed.text.contains("one API"))
            let empty = try await Self.upload([], to: node.client)
            #expect(empty.status == 400)
            let mongolian = try await Self.upload(["{"], to: node.client, headers: ["Accept-Language": "mn"])
            #expect(mongolian.status == 400 && mongolian.text.contains("мөр"))
            // Nothing was stored for the refused uploads.
            #expect((try await node.client.get("/v1/files").json["data"] as? [Any])?.isEmpty == true)
            let done = try await Self.wait(batchID, node.client, for: ["completed"], headers: alice)
            #expect((done["request_counts"] as? [String: Int]) == ["total": 2, "completed": 2, "failed": 0])
            // A line's job is the owner's, in the batch class, and may wait as long as the batch's window (not
            // the two minutes a waiting person gets).
            let outputID = try #require(done["output_file_id"] as? String)
            let line = try #require(try await node.client.get("/v1/files/\(outputID)/content", headers: alice).text.split(separator: "\n").first)
            let response = try #require((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["response"] as? [String: Any])
            let job = try await node.client.get("/v1/jobs/\(response["request_id"] as? String ?? "")", headers: alice).json
            #expect(job["priority"] as? String == "batch")
            #expect(job["deadline"] as? Double ?? 0 >= Double(done["expires_at"] as? Int ?? .max) - 1)
        }
    }

    @Test func embeddingsAndResponsesRunInBatchesToo() async throws {
        try await TestNode.with { node in
            let embeddings = (0..<3).map { #"{"custom_id":"e\#($0)","method":"POST","url":"/v1/embeddings","body":{"model":"default","input":"text \#($0)"}}"# }
            let responses = (0..<3).map { #"{"custom_id":"r\#($0)","method":"POST","url":"/v1/responses","body":{"model":"default","input":"question \#($0)"}}"# }
            for (lines, endpoint, check) in [
                (embeddings, "/v1/embeddings", "list"), (responses, "/v1/responses", "response"),
            ] {
                let file = try await Self.upload(lines, to: node.client)
                let batch = try await node.client.post("/v1/batches", json: ["input_file_id": file.json["id"] as? String ?? "", "endpoint": endpoint])
                let done = try await Self.wait(batch.json["id"] as? String ?? "", node.client, for: ["completed", "failed"])
                #expect(done["status"] as? String == "completed")
                let output = try await Self.output(of: done, node.client)
                #expect(output.count == 3)
                for line in output.values {
                    let body = ((line["response"] as? [String: Any])?["body"] as? [String: Any]) ?? [:]
                    #expect(body["object"] as? String == check, "\(line)")
                }
            }
        }
    }

    @Test func aBatchSurvivesAKillOfItsNode() async throws {
        let data = TemporaryDirectory.make()
        let environment = ["SLUICE_QUEUE_WORKERS": "2", "SLUICE_BATCHES_CONCURRENCY": "2"]
        // The owner's plan has no per-minute limit (a batch's lines count against it like any request).
        let config = data + "-sluice.yaml"
        try Self.unlimited.write(toFile: config, atomically: true, encoding: .utf8)
        let first = try await SluiceProcess(dataDirectory: data, environment: environment, arguments: ["--config", config])
        let lines = (0..<24).map { Self.line("line-\($0)", "question \($0)", tokens: 5, perSecond: 20) }
        let file = try await Self.upload(lines, to: first.client)
        let batch = try await first.client.post("/v1/batches", json: ["input_file_id": file.json["id"] as? String ?? "", "endpoint": "/v1/chat/completions"])
        let id = try #require(batch.json["id"] as? String)
        try await eventually("some lines are answered") {
            ((try await first.client.get("/v1/batches/\(id)").json["request_counts"] as? [String: Int])?["completed"] ?? 0) >= 4
        }
        first.kill()
        let second = try await SluiceProcess(dataDirectory: data, environment: environment, arguments: ["--config", config])
        defer { second.kill() }
        let done = try await Self.wait(id, second.client, for: ["completed", "failed", "expired"])
        #expect(done["status"] as? String == "completed")
        #expect((done["request_counts"] as? [String: Int]) == ["total": 24, "completed": 24, "failed": 0])
        let output = try await Self.output(of: done, second.client)
        #expect(Set(output.keys) == Set((0..<24).map { "line-\($0)" }))
        let jobs = output.values.compactMap { ($0["response"] as? [String: Any])?["request_id"] as? String }
        #expect(Set(jobs).count == 24)
    }

    @Test func aBatchOnADeadNodeIsFinishedByAnotherOnPostgreSQL() async throws {
        let url = try await TestPostgres.makeDatabase()
        let config = "cluster: {leaseSeconds: 2, pollSeconds: 0.2}\n" + Self.unlimited
        let environment = ["SLUICE_QUEUE_WORKERS": "2", "SLUICE_BATCHES_CONCURRENCY": "2"]
        let nodes = try await ClusterTests.nodes(2, on: url, config: config, environment: environment)
        defer { nodes.forEach { $0.kill() } }
        let lines = (0..<20).map { Self.line("n-\($0)", "cluster question \($0)", tokens: 5, perSecond: 20) }
        let file = try await Self.upload(lines, to: nodes[0].client)
        #expect(file.status == 200, "\(file.text)")
        let batch = try await nodes[0].client.post("/v1/batches", json: ["input_file_id": file.json["id"] as? String ?? "", "endpoint": "/v1/chat/completions"])
        let id = try #require(batch.json["id"] as? String)
        try await eventually("some lines are answered") {
            ((try await nodes[1].client.get("/v1/batches/\(id)").json["request_counts"] as? [String: Int])?["completed"] ?? 0) >= 3
        }
        // Whichever node holds it dies; the other takes it over after the lease lapses.
        nodes[0].kill()
        nodes[1].kill()
        let survivor = try await ClusterTests.nodes(1, on: url, config: config, environment: environment)
        defer { survivor.forEach { $0.kill() } }
        let done = try await Self.wait(id, survivor[0].client, for: ["completed", "failed", "expired"])
        #expect(done["status"] as? String == "completed")
        let output = try await Self.output(of: done, survivor[0].client)
        #expect(Set(output.keys) == Set((0..<20).map { "n-\($0)" }))
    }

    @Test func aCancelledBatchThatNeverRanEndsCancelled() async throws {
        try await TestNode.with(configure: { $0.batches.batchesPerNode = 1 }) { node in
            // The node's one batch slot is busy with a slow batch; the second waits, and is cancelled while it waits.
            let slow = try await Self.upload((0..<40).map { Self.line("s\($0)", "slow \($0)", tokens: 10, perSecond: 20) }, to: node.client)
            let first = try await node.client.post("/v1/batches", json: ["input_file_id": slow.json["id"] as? String ?? "", "endpoint": "/v1/chat/completions"])
            let quick = try await Self.upload([Self.line("q", "quick")], to: node.client)
            let second = try await node.client.post("/v1/batches", json: ["input_file_id": quick.json["id"] as? String ?? "", "endpoint": "/v1/chat/completions"])
            let secondID = try #require(second.json["id"] as? String)
            let cancelling = try await node.client.post("/v1/batches/\(secondID)/cancel", json: [:])
            #expect(cancelling.json["status"] as? String == "cancelling")
            _ = try await node.client.post("/v1/batches/\(first.json["id"] as? String ?? "")/cancel", json: [:])
            let ended = try await Self.wait(secondID, node.client, for: ["cancelled", "completed"])
            #expect(ended["status"] as? String == "cancelled")
            #expect((ended["request_counts"] as? [String: Int])?["completed"] == 0)
            let errors = try await Self.output(of: ended, node.client, file: "error_file_id")
            #expect(((errors["q"]?["error"] as? [String: Any])?["code"] as? String) == "batch_cancelled")
        }
    }
}
