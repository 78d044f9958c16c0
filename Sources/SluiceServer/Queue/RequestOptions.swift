import Foundation
import HTTPTypes
import SluiceCore

/// How a caller asks the cache and the queue to treat its request, beside the request itself: read
/// from its headers (`Cache-Control`, `X-Sluice-Namespace`, `X-Sluice-Cache-Tags`, `X-Sluice-Priority`),
/// or set by Sluice for its own work (a batch's lines).
struct RequestOptions: Sendable {
    /// Skip the cache lookup (`Cache-Control: no-cache`).
    var noCache = false
    /// Do not store the answer (`no-store`).
    var noStore = false
    /// The cache namespace; empty for the default one.
    var namespace = ""
    /// Tags for invalidation.
    var tags: [String] = []
    /// Run in the batch class (a caller may lower its priority, never raise it).
    var batch = false

    init() {}

    /// Reads the options from a request's headers; a malformed namespace or tag is a 400.
    init(_ headers: HTTPFields) throws {
        let cacheControl = (headers[.cacheControl] ?? "").lowercased()
        noCache = cacheControl.contains("no-cache")
        noStore = cacheControl.contains("no-store")
        namespace = try IdentityMiddleware.identifier(headers[.sluiceNamespace], field: "X-Sluice-Namespace", limit: 256) ?? ""
        tags = try (IdentityMiddleware.identifier(headers[.sluiceCacheTags], field: "X-Sluice-Cache-Tags", limit: 1024) ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        batch = headers[.sluicePriority] == "batch"
    }
}
