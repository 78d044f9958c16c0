import Foundation
import Logging
import SluiceCore
import SluiceServer
import SluiceStore
import SluiceTesting
import Testing

/// History: a user's own jobs of every kind, kept after their streams, erasable; a tenant's for its admin.
@Suite struct HistoryTests {
    @Test func aUserPagesThroughTheirOwnHistoryOfEveryKindAndNobodyElses() async throws {
        try await TestNode.with { node in
            let alice = ["X-Sluice-User": "alice"]
            var mine: [String] = []
            mine.append(try await node.client.submit(chatBody("first question"), headers: alice))
            let chat = try await node.client.post("/v1/chat/completions", json: chatBody("second question"), headers: alice)
            mine.append(try #require(chat.headers["x-sluice-job-id"]))
            let response = try await node.client.post("/v1/responses", json: ["model": "default", "input": "third question", "metadata": ["unit": "3"]], headers: alice)
            mine.append(try #require(response.headers["x-sluice-job-id"]))
            let message = try await node.client.post(
                "/v1/messages", json: ["model": "default", "max_tokens": 20, "messages": [["role": "user", "content": "fourth question"]]], headers: alice)
            mine.append(try #require(message.headers["x-sluice-job-id"]))
            _ = try await node.client.submit(chatBody("bob asks"), headers: ["X-Sluice-User": "bob"])
            for id in mine { _ = try await node.client.waitForJob(id, states: ["succeeded"], headers: alice) }

            var listed: [[String: Any]] = []
            var after: String?
            repeat {
                let page = try await node.client.get("/v1/jobs?limit=3" + (after.map { "&after=\($0)" } ?? ""), headers: alice).json
                #expect(page["object"] as? String == "list")
                let data = try #require(page["data"] as? [[String: Any]])
                listed += data
                after = (page["has_more"] as? Bool == true) ? page["last_id"] as? String : nil
            } while after != nil
            #expect(listed.compactMap { $0["id"] as? String } == mine.reversed(), "newest first, alice's only")
            #expect(listed.compactMap { $0["kind"] as? String } == ["message", "response", "chat", "chat"])
            #expect(listed.compactMap { $0["question"] as? String } == ["fourth question", "third question", "second question", "first question"])
            #expect(listed.allSatisfy { ($0["result"] as? [String: Any])?["usage"] != nil && $0["state"] as? String == "succeeded" })
            #expect((listed[1]["metadata"] as? [String: String]) == ["unit": "3"])
            let bob = try await node.client.get("/v1/jobs", headers: ["X-Sluice-User": "bob"]).json
            #expect((bob["data"] as? [[String: Any]])?.count == 1)
            #expect(try await node.client.get("/v1/jobs?limit=0", headers: alice).status == 400)

            // Erased: every ended job of alice's, and only hers.
            let erased = try await node.client.delete("/v1/jobs", headers: alice).json
            #expect(erased["deleted"] as? Int == 4)
            #expect(try await node.client.get("/v1/jobs/\(mine[0])", headers: alice).status == 404)
            #expect(((try await node.client.get("/v1/jobs", headers: alice).json)["data"] as? [Any])?.isEmpty == true)
            #expect(((try await node.client.get("/v1/jobs", headers: ["X-Sluice-User": "bob"]).json)["data"] as? [Any])?.count == 1)
        }
    }

    @Test func aJobOutlivesItsStreamInTheHistory() async throws {
        try await TestNode.with(configure: { $0.retention.streamSeconds = 0.1; $0.retention.sweepSeconds = 0.1 }) { node in
            let id = try await node.client.submit(chatBody("kept"))
            _ = try await node.client.waitForJob(id, states: ["succeeded"])
            try await eventually("the stream is swept") { try await node.client.get("/v1/jobs/\(id)/stream").status == 204 }
            let job = try await node.client.get("/v1/jobs/\(id)")
            #expect(job.status == 200 && ((job.json["result"] as? [String: Any])?["text"] as? String)?.isEmpty == false)
            #expect(((try await node.client.get("/v1/jobs").json)["data"] as? [[String: Any]])?.first?["id"] as? String == id)
        }
    }

    @Test func aTenantsAdminListsItsTenantsHistoryAndNoOtherTenants() async throws {
        try await TrustTests.withNode { node, _, _ in
            let app = TrustTests.bearer("app-key-a")
            let id = try await node.client.submit(chatBody("a question at school a"), headers: app.merging(["X-Sluice-User": "carol"]) { $1 })
            _ = try await node.client.submit(chatBody("a question at school b"), headers: TrustTests.bearer("app-key-b"))
            _ = try await node.client.waitForJob(id, states: ["succeeded"], headers: app.merging(["X-Sluice-User": "carol"]) { $1 })
            let admin = try await node.client.get("/admin/api/jobs", headers: TrustTests.bearer("admin-key-a")).json
            #expect((admin["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [id])
            let carol = try await node.client.get("/admin/api/jobs?user=carol", headers: TrustTests.bearer("admin-key-a")).json
            #expect((carol["data"] as? [[String: Any]])?.first?["user"] as? String == "carol")
            // Another tenant's admin cannot name school a; an app key is no admin.
            let other = try await node.client.get("/admin/api/jobs?tenant=school-a", headers: TrustTests.bearer("admin-key-b")).json
            #expect((other["data"] as? [[String: Any]])?.contains { $0["id"] as? String == id } == false)
            #expect(try await node.client.get("/admin/api/jobs", headers: app).status == 403)
            let operatorView = try await node.client.get("/admin/api/jobs?tenant=school-a", headers: TrustTests.bearer("operator-key")).json
            #expect((operatorView["data"] as? [[String: Any]])?.count == 1)
        }
    }

    @Test func aTenantsHistoryIsExportedAsJSONLines() async throws {
        try await TestNode.with { node in
            var ids: [String] = []
            for index in 0..<3 { ids.append(try await node.client.submit(chatBody("export \(index)"), headers: ["X-Sluice-User": "u\(index)"])) }
            for (index, id) in ids.enumerated() { _ = try await node.client.waitForJob(id, states: ["succeeded"], headers: ["X-Sluice-User": "u\(index)"]) }
            var configuration = SluiceConfiguration()
            configuration.storage.directory = node.dataDirectory
            var lines: [String] = []
            let count = try await HistoryExport.run(configuration: configuration, tenant: "local", since: try HistoryExport.date("2020-01-01"), logger: Logger(label: "test")) {
                lines.append($0)
            }
            #expect(count == 3 && lines.count == 3)
            let objects = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(objects.compactMap { $0["id"] as? String } == ids.reversed())
            #expect(objects.allSatisfy { ($0["question"] as? String)?.hasPrefix("export") == true && $0["kind"] as? String == "chat" })
            let none = try await HistoryExport.run(configuration: configuration, tenant: "local", since: Date().addingTimeInterval(3600), logger: Logger(label: "test")) { _ in }
            #expect(none == 0)
            #expect(throws: SluiceError.self) { try HistoryExport.date("yesterday") }
        }
    }
}
