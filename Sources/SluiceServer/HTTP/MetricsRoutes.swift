import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCache
import SluiceCore
import SluiceProviders
import SluiceStore

/// `GET /metrics`: Prometheus text.
struct MetricsRoutes {
    let jobs: JobService

    func register(on router: Router<SluiceRequestContext>) {
        router.get("metrics") { _, _ in
            let (queued, running) = jobs.scheduler.counts
            let now = jobs.admission.clock()
            jobs.metrics.state(tier: jobs.admission.tier(at: now), mode: jobs.admission.mode(at: now)?.name, modes: Array(jobs.admission.policy.modes.keys))
            let cache = jobs.cache.statistics
            jobs.metrics.cacheSize(entries: cache.entries, bytes: cache.bytes, evictions: cache.evictions)
            let text = jobs.metrics.render(router: jobs.router, queued: queued, running: running)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }
}
