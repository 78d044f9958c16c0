public import Foundation
import Logging
import ServiceLifecycle
public import SluiceServer
import SluiceStore
import SluiceCore
import SluiceProviders

/// A Sluice node running in this process on a free loopback port with a throwaway data folder.
public struct TestNode: Sendable {
    /// The node (for its mock provider's counters).
    public var node: SluiceNode
    /// The bound port.
    public var port: Int
    /// A client for it.
    public var client: HTTPTestClient
    /// The data folder.
    public var dataDirectory: String

    /// Runs `body` against a fresh node, then shuts the node down gracefully.
    /// - Parameters:
    ///   - dataDirectory: a data folder to reuse; a new temporary one when nil.
    ///   - configure: changes to the default test configuration.
    ///   - clock: the node's clock.
    ///   - body: the test.
    public static func with<T: Sendable>(
        dataDirectory: String? = nil,
        configure: (inout SluiceConfiguration) -> Void = { _ in },
        clock: @escaping @Sendable () -> Date = { Date() },
        _ body: (TestNode) async throws -> T
    ) async throws -> T {
        var configuration = SluiceConfiguration()
        configuration.server.port = 0
        configuration.storage.directory = dataDirectory ?? TemporaryDirectory.make()
        configuration.storage.synchronous = "normal"
        configuration.mock = .init(ttftMs: 0, tokensPerSecond: 0, tokens: 12)
        configuration.queue.backoffBaseMs = 10
        configuration.queue.backoffMaxMs = 50
        // Tests of other things send many requests from one user: no per-minute limits unless a test sets them.
        var plan = Plan(name: "free")
        plan.requestsPerMinute = nil
        plan.tierRequestsPerMinute = [:]
        plan.maxStreams = 1000
        plan.reconnectsPerMinute = 10000
        configuration.admission.plans = ["free": plan]
        configure(&configuration)
        var logger = Logger(label: "sluice.test")
        logger.logLevel = ProcessInfo.processInfo.environment["SLUICE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        let node = try await SluiceNode(configuration: configuration, logger: logger, clock: clock)
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let services = try await node.services { port in portContinuation.yield(port) }
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw TestFailure("the test node did not start") }
            let test = TestNode(
                node: node, port: port, client: HTTPTestClient(baseURL: "http://127.0.0.1:\(port)"),
                dataDirectory: configuration.storage.directory)
            do {
                let result = try await body(test)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
        }
    }
}

/// A failure a test helper reports.
public struct TestFailure: Error, CustomStringConvertible {
    /// What went wrong.
    public var description: String
    /// - Parameter description: what went wrong.
    public init(_ description: String) { self.description = description }
}

/// Throwaway folders.
public enum TemporaryDirectory {
    /// A new empty folder under the system's temporary folder.
    public static func make() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-test-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
