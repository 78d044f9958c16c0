import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCache
import SluiceCore
import SluiceProviders
import SluiceStore

/// `GET /metrics`: Prometheus text, for the operator (every tenant's numbers and the node's), or any
/// caller on this machine when no credentials are configured.
struct MetricsRoutes {
    let jobs: JobService

    func register(on group: RouterGroup<SluiceRequestContext>) {
        group.get { _, context in
            guard context.caller == .local || context.caller == .operator else {
                throw IdentityMiddleware.forbidden("this needs the operator's key", "үүнд операторын түлхүүр шаардлагатай")
            }
            let (queued, running) = jobs.scheduler.counts
            let now = jobs.admission.clock()
            jobs.metrics.state(tier: jobs.admission.tier(at: now), mode: jobs.admission.mode(at: now)?.name, modes: Array(jobs.admission.policy.modes.keys))
            let cache = jobs.cache.statistics
            jobs.metrics.cacheSize(entries: cache.entries, bytes: cache.bytes, evictions: cache.evictions)
            let text = jobs.metrics.render(
                router: jobs.router, queued: queued, running: running, dataDirectory: jobs.membership == nil ? jobs.configuration.storage.directory : nil)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }
}
