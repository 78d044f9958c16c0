import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore

/// `/admin/session`: the dashboard signs in with an admin key (`POST {"key"}`), learns who it is and its
/// CSRF token again after a reload (`GET`), and signs out (`DELETE`, with the token). With no credentials
/// configured, only a caller on this machine signs in, with any key or none (local development).
struct SessionRoutes {
    let directory: TenantDirectory
    let anonymous: Bool
    let sessions: AdminSessionSigner
    let audit: AuditTrail

    func register(on router: Router<SluiceRequestContext>) {
        router.post("admin/session") { request, context in
            let caller: Caller
            let body = try await RequestBody.object(of: request, limit: 16 * 1024)
            let address = IdentityMiddleware.clientAddress(request, peer: context.remoteAddress, trusting: [])
            let key = body["key"]?.string ?? ""
            if anonymous {
                guard IdentityMiddleware.isLocal(request, peer: context.remoteAddress) else { throw SluiceError(.localOnly) }
                caller = .local
            } else {
                switch directory.holder(ofKey: key) {
                case .operator?: caller = .operator
                case .admin(let tenant)?: caller = .tenantAdmin(tenant: tenant)
                default:
                    audit.refused(code: SluiceError.Code.invalidAPIKey.rawValue + " at the dashboard's sign-in", from: address)
                    throw SluiceError(.invalidAPIKey)
                }
            }
            guard let session = sessions.issue(for: caller, digest: anonymous ? nil : Credentials.digest(key)) else { throw SluiceError(.invalidAPIKey) }
            await audit.record(action: "dashboard sign-in", caller: caller.description, tenant: caller.adminTenant, from: address, detail: "session")
            var headers = HTTPFields()
            headers[.setCookie] = AdminSessionSigner.setCookie(sessions.cookieValue(session), secure: Self.secure(request))
            headers[.cacheControl] = "no-store"
            return JSONResponse.make(object(session, caller: caller), headers: headers)
        }
        router.get("admin/session") { request, context in
            let (session, caller) = try signedIn(request, context: context)
            return JSONResponse.make(object(session, caller: caller), headers: [.cacheControl: "no-store"])
        }
        router.delete("admin/session") { request, context in
            let (session, _) = try signedIn(request, context: context)
            guard sessions.checksCSRF(request.headers[.csrfToken], for: session) else {
                throw IdentityMiddleware.forbidden("signing out needs the page's X-CSRF-Token", "гарахад хуудасны X-CSRF-Token шаардлагатай")
            }
            return Response(status: .noContent, headers: [.setCookie: AdminSessionSigner.setCookie(nil, secure: Self.secure(request))])
        }
    }

    func signedIn(_ request: Request, context: SluiceRequestContext) throws -> (AdminSession, Caller) {
        guard let cookie = AdminSessionSigner.cookie(in: request.headers), let session = sessions.session(fromCookie: cookie),
              let caller = session.caller(in: directory.credentials, anonymous: anonymous),
              caller != .local || IdentityMiddleware.isLocal(request, peer: context.remoteAddress)
        else { throw SluiceError(.invalidAPIKey) }
        return (session, caller)
    }

    func object(_ session: AdminSession, caller: Caller) -> [String: Any] {
        [
            "caller": caller.description, "tenant": caller.adminTenant as Any? ?? NSNull(),
            "csrf_token": sessions.csrfToken(for: session), "expires_at": session.expires.timeIntervalSince1970,
        ]
    }

    /// Whether the page was reached over HTTPS (through a proxy that says so): the cookie is then `Secure`.
    static func secure(_ request: Request) -> Bool {
        request.headers[.xForwardedProto]?.lowercased() == "https"
    }
}
