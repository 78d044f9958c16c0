public import Foundation

/// A `sluice` executable running as its own process, for tests that kill it.
public final class SluiceProcess: Sendable {
    let process: ChildProcess
    /// The port it listens on.
    public let port: Int
    /// A client for it.
    public var client: HTTPTestClient { HTTPTestClient(baseURL: "http://127.0.0.1:\(port)") }

    /// The built `sluice` executable, next to the test bundle.
    public static func executable() throws -> URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("sluice")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        throw TestFailure("the sluice executable is not built next to the tests; run `swift build` first")
    }

    /// A free loopback port (bound and released).
    public static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Starts `sluice serve` and waits until `/healthz` answers.
    /// - Parameters:
    ///   - dataDirectory: the data folder.
    ///   - port: the port; by default the server binds a free one itself (port 0) and the log says which,
    ///     so that no other test can take it between choosing and binding.
    ///   - environment: extra environment variables.
    ///   - arguments: extra arguments.
    ///   - logFile: a file that receives its output (a temporary one when nil).
    public init(dataDirectory: String, port: Int? = nil, environment: [String: String] = [:], arguments: [String] = [], logFile: String? = nil) async throws {
        let log = logFile ?? TemporaryDirectory.make() + "/sluice.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process = try ChildProcess(
            [try Self.executable().path, "serve", "--port", String(port ?? 0), "--data-dir", dataDirectory] + arguments,
            environment: ChildProcess.environment(environment), outputPath: log)
        var bound = port
        for _ in 0..<400 where bound == nil {
            if let status = process.exitStatus { throw TestFailure("sluice serve exited with status \(status): \(process.output)") }
            bound = Self.listeningPort(in: process.output)
            if bound == nil { try await Task.sleep(for: .milliseconds(25)) }
        }
        guard let bound else {
            process.kill()
            throw TestFailure("sluice serve did not say where it listens: \(process.output)")
        }
        self.port = bound
        for _ in 0..<200 {
            if let status = process.exitStatus { throw TestFailure("sluice serve exited with status \(status): \(process.output)") }
            if let reply = try? await client.get("/healthz"), reply.status == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        kill()
        throw TestFailure("sluice serve did not become healthy")
    }

    /// The port in the log line that says `sluice is listening`.
    static func listeningPort(in log: String) -> Int? {
        for line in log.split(separator: "\n") where line.contains("sluice is listening") {
            // Text logs say `sluice.address=http://…`, JSON logs `"sluice.address":"http://…"`.
            guard let range = line.range(of: "sluice.address=http://") ?? line.range(of: "\"sluice.address\":\"http://") else { continue }
            let address = line[range.upperBound...].prefix { !$0.isWhitespace && $0 != "\"" }
            if let port = address.split(separator: ":").last.flatMap({ Int($0) }) { return port }
        }
        return nil
    }

    /// Runs `sluice` with arguments and returns its exit status and output, for start-up checks; stopped
    /// with SIGKILL after `timeout` seconds.
    public static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 10) async throws -> (Int32, String) {
        let output = TemporaryDirectory.make() + "/output"
        let process = try ChildProcess(
            [try executable().path] + arguments, environment: ChildProcess.environment(environment), outputPath: output)
        let status = await process.wait(seconds: timeout)
        return (status, process.output)
    }

    /// What it has written to its log so far.
    public var log: String { process.output }

    /// Whether it still runs.
    public var isRunning: Bool { process.isRunning }

    /// `kill -9`.
    public func kill() { process.kill() }

    /// SIGTERM, then waits for the exit — a minute at most, then SIGKILL (a node whose graceful shutdown
    /// hangs fails its test instead of stalling the whole run).
    public func terminate() async -> Int32 {
        process.signal(SIGTERM)
        return await process.wait(seconds: 60)
    }

    deinit { kill() }
}
