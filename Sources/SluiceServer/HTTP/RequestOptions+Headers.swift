import Foundation
import HTTPTypes

/// How a front door reads a caller's options from its request's headers.
extension RequestOptions {
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
