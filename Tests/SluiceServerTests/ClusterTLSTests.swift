import AsyncHTTPClient
import Foundation
import SluiceCore
import NIOCore
import NIOHTTP1
import SluiceProviders
import SluiceTesting
import Testing

/// The cluster's own traffic on a listener of its own (`cluster.internalPort`), over TLS
/// (`cluster.tls`) with the committed test certificate: real `sluice serve` processes on a throwaway
/// PostgreSQL, sharing one configuration file (`internalPort: 0`: each node takes a free port and
/// advertises it).
@Suite struct ClusterTLSTests {
    static let certificate = FakeUpstream.certificateFile
    static let key = certificate.replacingOccurrences(of: ".cert.pem", with: ".key.pem")

    @Test func nodesRelayAndCancelOverTLSOnTheirOwnListenerAndNowhereElse() async throws {
        let url = try await TestPostgres.makeDatabase()
        let nodes = try await ClusterTests.nodes(2, on: url, config: """
            cluster:
              leaseSeconds: 2
              pollSeconds: 0.2
              internalPort: 0
              tls: {certFile: "\(Self.certificate)", keyFile: "\(Self.key)", caFile: "\(Self.certificate)"}
            """)
        defer { nodes.forEach { $0.kill() } }
        // Each node advertises its internal listener: https, on a port that is not its public one.
        var addresses: [String] = []
        try await eventually("both nodes advertise their internal listeners") {
            addresses = try await TestPostgres.query(url, "SELECT address FROM sluice_node ORDER BY id")
            return addresses.count == 2 && addresses.allSatisfy { $0.hasPrefix("https://127.0.0.1:") }
        }
        let internalPorts = addresses.compactMap { URLComponents(string: $0)?.port }
        #expect(internalPorts.count == 2)
        #expect(Set(internalPorts).isDisjoint(with: nodes.map(\.port)))

        // A job submitted on node A is streamed whole from node B, relayed from A over TLS.
        let id = try await nodes[0].client.submit(chatBody("light through a prism", mock: ["tokens": 120, "tokens_per_second": 40]))
        let stream = try await nodes[1].client.events("/v1/jobs/\(id)/stream")
        #expect(stream.events.last?.name == "done")
        #expect(stream.answer.split(separator: " ").count == 120)
        #expect(stream.ids == stream.ids.sorted() && Set(stream.ids).count == stream.ids.count)
        #expect(try await ClusterTests.relayedChunks(nodes[1]) > 0, "B had the chunks from A, not only A's checkpoints")

        // A cancel on B reaches the job running on A the same way.
        let long = try await nodes[0].client.submit(chatBody("a very long essay", mock: ["tokens": 400, "tokens_per_second": 20]))
        let started = try await nodes[1].client.events("/v1/jobs/\(long)/stream", limit: 3)
        #expect(started.ids.count == 3)
        let cancelled = try await nodes[1].client.delete("/v1/jobs/\(long)")
        #expect(cancelled.status == 200)
        #expect(cancelled.json["state"] as? String == "cancelled")

        // The public ports have no internal routes.
        for node in nodes {
            #expect(try await node.client.get("/internal/v1/jobs/\(id)/chunks").status == 404)
            #expect(try await node.client.delete("/internal/v1/jobs/\(long)").status == 404)
        }
        for port in internalPorts {
            // The internal listener speaks TLS only: a plain HTTP request gets no answer.
            await #expect(throws: (any Error).self) {
                _ = try await HTTPTestClient(baseURL: "http://127.0.0.1:\(port)").send(.GET, "/internal/v1/jobs/\(id)/chunks", timeout: .seconds(10))
            }
            // Over HTTPS, trusting the authority, it answers, and still wants the cluster's secret.
            #expect(try await Self.statusOverHTTPS("https://127.0.0.1:\(port)/internal/v1/jobs/\(id)/chunks") == 401)
        }
    }

    /// The status of a GET over HTTPS by a client that trusts the test certificate alone.
    static func statusOverHTTPS(_ url: String) async throws -> UInt {
        var settings = HTTPClient.Configuration()
        settings.trust(caFile: certificate)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: settings)
        do {
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 20)
            try await client.shutdown()
            return response.status.code
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
