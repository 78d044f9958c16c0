/// Maps model aliases to the provider that serves them.
public struct ModelRouter: Sendable {
    /// One served alias.
    public struct Route: Sendable {
        /// The provider.
        public var provider: any Provider
        /// The provider's own model name.
        public var upstreamModel: String

        /// - Parameters:
        ///   - provider: the provider.
        ///   - upstreamModel: its model name.
        public init(provider: any Provider, upstreamModel: String) {
            self.provider = provider
            self.upstreamModel = upstreamModel
        }
    }

    private var routes: [String: Route]

    /// - Parameter routes: alias → route.
    public init(routes: [String: Route]) {
        self.routes = routes
    }

    /// The route of an alias, if it is served.
    public func route(for alias: String) -> Route? { routes[alias] }

    /// Every alias, sorted.
    public var aliases: [String] { routes.keys.sorted() }
}
