import Foundation
import Hummingbird
import NIOCore
import SluiceCore

/// The context of one request: who sent it, once the identity middleware has run.
struct SluiceRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The end user and what they assert; set by `IdentityMiddleware` on every `/v1` and admin route.
    var principal: Principal?
    /// What the request proved (an app key, an admin key, a token…); set with `principal`.
    var caller: Caller?
    /// The peer's address (the proxy's, when there is one).
    var remoteAddress: SocketAddress?
    /// The client's address: the peer's, or the one a trusted proxy forwarded (`server.trustedProxies`).
    var clientAddress: String?
    /// When the dashboard's session a request came with ends (nil: not a session); a dashboard's stream
    /// ends then too.
    var sessionExpires: Date?
    /// The connection the request came on (a stream watches it close, and closes it on a slow reader).
    let connection: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        connection = source.channel
    }

    /// The caller, or `invalid_api_key` when no identity was established.
    func requirePrincipal() throws -> Principal {
        guard let principal else { throw SluiceError(.invalidAPIKey) }
        return principal
    }
}
