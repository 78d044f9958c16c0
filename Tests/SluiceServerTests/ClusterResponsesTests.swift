import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceTesting
import Testing

/// A Responses stream across the nodes of a cluster: real `sluice serve` processes on one PostgreSQL.
@Suite struct ClusterResponsesTests {
    @Test func aBackgroundResponseSurvivesAKillOfItsNodeAndResumesOnAnotherWithStartingAfter() async throws {
        let nodes = try await ClusterTests.nodes(2)
        defer { nodes.forEach { $0.kill() } }
        let body: [String: Any] = [
            "model": "default", "input": "the water cycle, slowly", "background": true, "stream": true,
            "mock": ["tokens": 300, "tokens_per_second": 40],
        ]
        // The client reads a few events from the node that runs it, then loses that node (SIGKILL).
        let seen = try await nodes[0].client.events("/v1/responses", method: .POST, json: body, limit: 12)
        let id = try #require((seen.events.first?.json["response"] as? [String: Any])?["id"] as? String)
        let last = try #require(seen.events.last?.seq)
        nodes[0].kill()
        let rest = try await nodes[1].client.events("/v1/responses/\(id)?stream=true&starting_after=\(last)", timeout: .seconds(90))
        #expect(rest.status == 200)
        #expect(rest.events.last?.name == "response.completed", "\(rest.events.suffix(3).map(\.name))")
        let numbers = rest.events.compactMap { $0.json["sequence_number"] as? Int }
        #expect(numbers.first.map { $0 > last } == true && numbers == numbers.sorted() && Set(numbers).count == numbers.count)
        // Exactly what follows `last` in the response's stream, as any node replays it.
        let whole = try await nodes[1].client.events("/v1/responses/\(id)?stream=true")
        let after = whole.events.filter { ($0.json["sequence_number"] as? Int ?? -1) > last }
        #expect(after.map(\.name) == rest.events.map(\.name) && after.map(\.data) == rest.events.map(\.data))
        let completed = try #require(rest.events.last?.json["response"] as? [String: Any])
        let text = ((completed["output"] as? [[String: Any]])?.first?["content"] as? [[String: Any]])?.first?["text"] as? String
        #expect(text?.split(separator: " ").count == 300)
        let read = try await nodes[1].client.get("/v1/responses/\(id)").json
        #expect(read["status"] as? String == "completed" && read["background"] as? Bool == true)
    }
}
