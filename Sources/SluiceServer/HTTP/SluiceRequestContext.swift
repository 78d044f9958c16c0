import Hummingbird
import NIOCore
import SluiceCore

/// The context of one request: who sent it, once the identity middleware has run.
struct SluiceRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The caller; set by `IdentityMiddleware` on every `/v1` route.
    var principal: Principal?
    /// The peer's address (the proxy's, when there is one).
    var remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The caller, or `invalid_api_key` when no identity was established.
    func requirePrincipal() throws -> Principal {
        guard let principal else { throw SluiceError(.invalidAPIKey) }
        return principal
    }
}
