import Hummingbird

/// The node's responder, each request answered in a child task of the connection's. A task keeps the
/// memory its deepest frames ever took for as long as it lives, and a connection's task lives as long as
/// the stream it writes: answering a request runs deep (the middlewares, decoding, the cache,
/// admission, the durable insert), so every open stream went on holding tens of kilobytes of frames it
/// would never use again (a heap profile at 1,000 waiting streams: ~73 KB of task memory each). The
/// child's memory is freed when it returns its response; the response's body — the stream — is then
/// written from the connection's shallow task. The child starts at once, on the calling thread, so a
/// request that never waits makes no thread hop; what it still costs is a task and fresh frames
/// (measured: about a tenth of `/healthz`'s requests per second, nothing visible on real requests).
struct ChildTaskResponder<Inner: HTTPResponder>: HTTPResponder, HTTPResponderBuilder where Inner.Context: Sendable {
    let inner: Inner

    func respond(to request: Request, context: Inner.Context) async throws -> Response {
        try await withThrowingTaskGroup(of: Response.self) { group in
            group.addImmediateTask { try await inner.respond(to: request, context: context) }
            guard let response = try await group.next() else { throw CancellationError() }
            return response
        }
    }

    func buildResponder() -> Self { self }
}
