import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import SluiceServer
import SluiceTesting
import Testing

/// Connection hygiene: stalled connections are closed after the idle timeout, and past the caps new ones
/// are closed as they arrive, while a normal client goes on being served.
@Suite struct ConnectionTests {
    /// A raw TCP connection to the node on loopback, from `source` (another loopback address), with a
    /// receive buffer of `receiveBuffer` bytes when given, that has sent `request`.
    static func rawConnection(to port: Int, from source: String = "127.0.0.1", receiveBuffer: Int32? = nil, sending request: String) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed") }
        if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        func address(_ host: String, _ port: Int) -> sockaddr_in {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, host, &address.sin_addr)
            return address
        }
        var local = address(source, 0)
        var remote = address("127.0.0.1", port)
        let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        let connected = withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, connected == 0 else {
            close(fd)
            throw TestFailure("could not connect from \(source)")
        }
        _ = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        return fd
    }

    /// A connection from `source` that sent half a request and stalls.
    static func stalledConnection(to port: Int, from source: String) throws -> Int32 {
        let half = "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"model\""
        return try rawConnection(to: port, from: source, sending: half)
    }

    /// Whether the server closed the connection (a read finds its end, or it was reset).
    static func isClosed(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        let read = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
        return read == 0 || (read < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    static func waitUntil(seconds: Double, _ condition: () -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    @Test func stalledConnectionsAreClosedAndCappedWhileOthersAreServed() async throws {
        try await TestNode.with(configure: {
            $0.server.idleTimeoutSeconds = 1
            $0.server.maxConnectionsPerAddress = 100
            $0.server.maxConnections = 1000
        }) { node in
            var stalled: [Int32] = []
            defer { for fd in stalled { close(fd) } }
            for _ in 0..<150 { stalled.append(try Self.stalledConnection(to: node.port, from: "127.0.0.2")) }
            // Past the per-address cap, connections are closed as they arrive.
            #expect(try await Self.waitUntil(seconds: 10) { stalled.filter(Self.isClosed).count >= 50 })
            #expect(node.node.connections.open <= 101)
            // A client from another address is served meanwhile.
            let reply = try await node.client.post("/v1/chat/completions", json: chatBody("still served?"))
            #expect(reply.status == 200)
            // Half a request and then silence: closed after the idle timeout.
            #expect(try await Self.waitUntil(seconds: 15) { stalled.allSatisfy(Self.isClosed) })
            #expect(try await Self.waitUntil(seconds: 5) { node.node.connections.open <= 1 }, "open: \(node.node.connections.open)")
        }
    }
}

extension ConnectionTests {
    /// `server.backlog` is the listening socket's backlog, as the kernel reports it (`ss`: a listening
    /// socket's Send-Q is its backlog): a burst of reconnects waits there rather than in SYN retries.
    @Test func theListenBacklogIsTheConfiguredOne() async throws {
        try await TestNode.with(configure: { $0.server.backlog = 77 }) { node in
            let output = NSTemporaryDirectory() + "ss-\(UUID().uuidString).txt"
            defer { try? FileManager.default.removeItem(atPath: output) }
            let ss = try ChildProcess(["/usr/bin/env", "ss", "-Hltn", "sport = :\(node.port)"], outputPath: output)
            #expect(await ss.wait(seconds: 10) == 0)
            let columns = try String(contentsOfFile: output, encoding: .utf8).split(whereSeparator: \.isWhitespace)
            // State, Recv-Q, Send-Q (the backlog), local address, peer address.
            #expect(columns.count >= 3 && columns[2] == "77", "ss said: \(columns)")
        }
    }
}
