import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The pages people look at, every byte in the binary (`Sources/SluiceServer/Web/`, no CDN): the chat
/// page at `/`, the operator's dashboard at `/admin`, the client library at `/sluice.js`, their scripts
/// and styles under `/assets/`; and `GET /openapi.json`, the document of every public route
/// (`docs/openapi.json`, a link to `Web/openapi.json`, compiled in like the pages). Public:
/// pages hold no data, they ask the API with the visitor's own credentials. Served with a strict
/// Content-Security-Policy (scripts and styles from this origin only, no inline code, no framing).
struct WebRoutes {
    /// One embedded file.
    struct Asset: Sendable {
        let bytes: [UInt8]
        let contentType: String
        /// A strong validator: the SHA-256 of the bytes.
        let etag: String

        init(_ bytes: [UInt8], _ contentType: String) {
            self.bytes = bytes
            self.contentType = contentType
            etag = "\"" + SHA256.hash(data: bytes).prefix(12).map { String(format: "%02x", $0) }.joined() + "\""
        }
    }

    static let assets: [String: Asset] = [
        "/": Asset(PackageResources.chat_html, "text/html; charset=utf-8"),
        "/admin": Asset(PackageResources.admin_html, "text/html; charset=utf-8"),
        "/sluice.js": Asset(PackageResources.sluice_js, "text/javascript; charset=utf-8"),
        "/assets/chat.js": Asset(PackageResources.chat_js, "text/javascript; charset=utf-8"),
        "/assets/admin.js": Asset(PackageResources.admin_js, "text/javascript; charset=utf-8"),
        "/assets/i18n.js": Asset(PackageResources.i18n_js, "text/javascript; charset=utf-8"),
        "/assets/sluice.css": Asset(PackageResources.sluice_css, "text/css; charset=utf-8"),
        "/assets/admin.css": Asset(PackageResources.admin_css, "text/css; charset=utf-8"),
    ]

    static let contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

    func register(on router: Router<SluiceRequestContext>) {
        router.get("openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.openapi_json)))
        }
        for (path, asset) in Self.assets {
            router.get(RouterPath(path)) { request, _ in Self.response(asset, path: path, request: request) }
        }
    }

    static func response(_ asset: Asset, path: String, request: Request) -> Response {
        var headers: HTTPFields = [
            .contentType: asset.contentType, .eTag: asset.etag, .cacheControl: "no-cache",
            .contentSecurityPolicy: contentSecurityPolicy, .xContentTypeOptions: "nosniff", .referrerPolicy: "no-referrer",
        ]
        // The client library is imported by apps on other origins (a module script is fetched with CORS).
        if path == "/sluice.js" { headers[.accessControlAllowOrigin] = "*" }
        if request.headers[.ifNoneMatch]?.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == asset.etag }) == true {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }
}
