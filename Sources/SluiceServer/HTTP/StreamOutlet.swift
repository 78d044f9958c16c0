import Dispatch
import NIOCore
import Synchronization

/// One client's end of a stream of events: its connection, how often it hears a heartbeat, and how long
/// it may leave a write unaccepted before it is dropped.
struct StreamOutlet: Sendable {
    /// The connection the stream is written to.
    let connection: any Channel
    /// Time between heartbeat comments.
    let heartbeat: Duration
    /// How long one write may wait (`server.writeStallSeconds`): the connection buffers a bounded amount
    /// (NIO's write watermark, then the kernel's), so a write waits only when the client stopped reading.
    let maxStall: Duration
    /// Counts a dropped slow reader.
    let metrics: SluiceMetrics?

    init(connection: any Channel, heartbeat: Duration, maxStall: Duration, metrics: SluiceMetrics?) {
        self.connection = connection
        self.heartbeat = heartbeat
        self.maxStall = maxStall
        self.metrics = metrics
    }

    /// The outlet of a client stream on `context`'s connection, with the server's settings.
    init(_ context: SluiceRequestContext, server: SluiceConfiguration.Server, metrics: SluiceMetrics) {
        self.init(
            connection: context.connection, heartbeat: .milliseconds(Int(server.heartbeatSeconds * 1000)),
            maxStall: .milliseconds(Int(server.writeStallSeconds * 1000)), metrics: metrics)
    }

    /// The client stopped reading: its connection is closed (it resumes from its last event).
    func slowReader() {
        metrics?.streamDropped(reason: "slow_reader")
        connection.close(promise: nil)
    }

    /// Runs a write of a stream made in advance (a piece of a cached answer's events): the client is
    /// dropped as a slow reader when the write has not been taken within `maxStall`, as a live stream's
    /// client is when one of its writes waits that long.
    func withinStall<T>(_ write: () async throws -> T) async rethrows -> T {
        let drop = connection.eventLoop.scheduleTask(in: TimeAmount(maxStall)) { slowReader() }
        defer { drop.cancel() }
        return try await write()
    }
}

/// When the write in progress began (0: none in progress), watched from another task.
final class WriteWatch: Sendable {
    private let since = Atomic<UInt64>(0)

    /// Runs a write, marked as in progress.
    func during<T>(_ write: () async throws -> T) async rethrows -> T {
        since.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
        defer { since.store(0, ordering: .relaxed) }
        return try await write()
    }

    /// Whether a write has been in progress for longer than `limit`.
    func stalled(longerThan limit: Duration) -> Bool {
        let start = since.load(ordering: .relaxed)
        guard start > 0 else { return false }
        let (seconds, attoseconds) = limit.components
        let limitNanos = UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
        return DispatchTime.now().uptimeNanoseconds - start > limitNanos
    }
}
