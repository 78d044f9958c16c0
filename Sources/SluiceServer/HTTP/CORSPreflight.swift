import HTTPTypes
import Hummingbird

/// Answers browsers' CORS preflights (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) for
/// the origins some tenant allows (`tenants.<name>.corsOrigins`; none by default). A preflight carries no
/// credentials, so it is answered for any tenant's origin; the request itself gets
/// `Access-Control-Allow-Origin` only when its caller's tenant allows that origin (`IdentityMiddleware`),
/// or, for an error (no answer's content in it), when some tenant does, so that a page can read why.
/// Placed outside the error middleware, it sees errors as the responses they become.
struct CORSPreflight: RouterMiddleware {
    typealias Context = SluiceRequestContext
    /// Every origin some tenant allows (`*` for any).
    let origins: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], origins.contains("*") || origins.contains(origin.lowercased()) else {
            return try await next(request, context)
        }
        guard request.method == .options, request.headers[.accessControlRequestMethod] != nil else {
            var response = try await next(request, context)
            if response.status.code >= 400, response.headers[.accessControlAllowOrigin] == nil {
                response.headers[.accessControlAllowOrigin] = origin
                response.headers[.vary] = "Origin"
            }
            return response
        }
        return Response(status: .noContent, headers: [
            .accessControlAllowOrigin: origin,
            .accessControlAllowMethods: "GET, POST, PUT, DELETE, OPTIONS",
            .accessControlAllowHeaders: "Authorization, x-api-key, anthropic-version, Content-Type, Last-Event-ID, X-Sluice-User, X-Sluice-Role, X-Sluice-Plan, X-Sluice-Namespace, X-Sluice-Cache-Tags, X-Sluice-Tenant",
            .accessControlExposeHeaders: "X-Sluice-Job-Id, X-Sluice-Cache, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After",
            .accessControlMaxAge: "600",
            .vary: "Origin",
        ])
    }
}
