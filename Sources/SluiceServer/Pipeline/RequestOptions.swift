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
}
