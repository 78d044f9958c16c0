import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import SluiceServer
import SluiceCore
import SluiceProviders
import SluiceTesting
import Testing

/// Stream clients that misbehave: one that stops reading is dropped once it falls a bounded number of
/// events behind (and resumes where it was); one that leaves is noticed when its connection closes, not at
/// the next heartbeat; one that half-closes after an ordinary request still gets its answer.
@Suite struct StreamClientTests {
    /// A raw connection to the node with a small receive buffer (so a client that does not read pushes
    /// back at once), that has sent `request`.
    static func connection(to port: Int, sending request: String) throws -> Int32 {
        try ConnectionTests.rawConnection(to: port, receiveBuffer: 4096, sending: request)
    }

    /// Everything the server sends until it closes the connection (at most `seconds`). Polls without
    /// blocking: a blocked read would hold one of the few threads the server's tasks run on.
    static func readToEnd(_ fd: Int32, seconds: Double = 60) async throws -> Data {
        let deadline = Date().addingTimeInterval(seconds)
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while Date() < deadline {
            let read = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if read > 0 {
                data.append(contentsOf: buffer[0..<read])
            } else if read == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                return data
            } else {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        return data
    }

    static func dropped(_ node: TestNode) async throws -> Bool {
        try await node.client.get("/metrics").text.contains(#"sluice_stream_clients_dropped_total{reason="slow_reader"} 1"#)
    }

    @Test func aReaderThatStopsReadingIsDroppedAndResumesWhereItWas() async throws {
        try await FakeUpstream.with { fake in
            fake.answer(containing: "[endless]", with: .endless(chunkBytes: 16 << 10))
            try await TestNode.with(configure: {
                ProviderTests.configure(&$0, [ProviderTests.deployment("only", fake) { $0.maxAnswerBytes = 48 << 20 }])
                $0.queue.maxAttempts = 1
                $0.server.writeStallSeconds = 1
            }) { node in
                let id = try await node.client.submit(["model": "gpt", "messages": [["role": "user", "content": "answer [endless]"]]])
                let fd = try Self.connection(to: node.port, sending: "GET /v1/jobs/\(id)/stream HTTP/1.1\r\nHost: localhost\r\n\r\n")
                defer { close(fd) }
                let opened = Date()
                // It reads nothing: once the socket's buffers and 16 events are full, the server drops it.
                var waited = 0
                while try await !Self.dropped(node) {
                    waited += 1
                    guard waited < 600 else { throw TestFailure("a reader that stopped reading was never dropped") }
                    try await Task.sleep(for: .milliseconds(100))
                }
                print("slow reader: dropped \(Int(Date().timeIntervalSince(opened) * 1000)) ms after it stopped reading (write stall limit 1 s, after the socket buffers filled)")
                // Meanwhile, and after, others are served.
                #expect(try await node.client.get("/healthz").status == 200)
                // What it was sent before the drop is whole and in order, and ends without a last event.
                var parser = SSEParser()
                let text = try await Self.readToEnd(fd)
                let events = parser.feed(text).compactMap { item -> SSEEvent? in
                    if case .event(let event) = item { return event }
                    return nil
                }
                let seqs = events.compactMap(\.seq)
                #expect(!seqs.isEmpty)
                #expect(seqs == Array(1...(seqs.last ?? 1)))
                #expect(!events.contains { $0.name == "done" || $0.name == "error" })
                // It resumes where it was.
                let resumed = try await node.client.events("/v1/jobs/\(id)/stream?after=\(seqs.last ?? 0)", limit: 1)
                #expect(resumed.status == 200)
                #expect(resumed.events.first?.seq == (seqs.last ?? 0) + 1)
                _ = try await node.client.delete("/v1/jobs/\(id)")
            }
        }
    }

    @Test func aClientThatLeavesIsNoticedWhenItsConnectionCloses() async throws {
        // No heartbeat for a minute and a first token in 30 s: nothing is written that could fail, so only
        // the connection's close can tell the server.
        try await TestNode.with(configure: { $0.server.heartbeatSeconds = 60 }) { node in
            let id = try await node.client.submit(AdmissionTests.job("slow", extra: ["mock": ["ttft_ms": 20_000, "tokens": 2]]))
            let user = Principal(tenant: "local", user: "anonymous").userKey
            let fd = try Self.connection(to: node.port, sending: "GET /v1/jobs/\(id)/stream HTTP/1.1\r\nHost: localhost\r\n\r\n")
            // The response has started.
            #expect(try await ConnectionTests.waitUntil(seconds: 10) { node.node.jobs.admission.openStreams(of: user) == 1 })
            // Read what came, so that closing sends an orderly end (FIN), not a reset.
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT)) > 0 {}
            close(fd)
            let closed = Date()
            let left = try await ConnectionTests.waitUntil(seconds: 10) { node.node.jobs.admission.openStreams(of: user) == 0 }
            print("departed client: its stream released \(Int(Date().timeIntervalSince(closed) * 1000)) ms after it closed (heartbeat every 60 s)")
            #expect(left, "the stream was still counted open after its client left")
            // The subscription ends as the response does, next to the count and not in the same step: a loaded
            // machine (the whole suite on 2 cores) showed it a moment later.
            #expect(try await ConnectionTests.waitUntil(seconds: 10) { node.node.jobs.hub.subscriberCount(id) == 0 })
            _ = try await node.client.delete("/v1/jobs/\(id)")
        }
    }

    @Test func aClientThatHalfClosesAfterAnOrdinaryRequestStillGetsItsAnswer() async throws {
        try await TestNode.with { node in
            let body = #"{"model": "default", "messages": [{"role": "user", "content": "half"}], "mock": {"tokens": 3}}"#
            let fd = try Self.connection(
                to: node.port,
                sending: "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            defer { close(fd) }
            shutdown(fd, Int32(SHUT_WR))
            let reply = String(decoding: try await Self.readToEnd(fd, seconds: 30), as: UTF8.self)
            #expect(reply.hasPrefix("HTTP/1.1 200"), "\(reply.prefix(200))")
            #expect(reply.contains("chat.completion"))
        }
    }
}
