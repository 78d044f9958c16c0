import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCache
import SluiceCore
import SluiceProviders
import SluiceStore

/// `GET /healthz`, `GET /readyz`.
struct HealthRoutes {
    let jobs: JobService

    func register(on router: Router<SluiceRequestContext>) {
        router.get("healthz") { _, _ in JSONResponse.make(["status": "ok"]) }
        router.get("readyz") { _, _ in
            let (queued, running) = jobs.scheduler.counts
            let ready = !jobs.scheduler.isStopped
            return JSONResponse.make(
                ["status": ready ? "ready" : "stopping", "queued": queued, "running": running],
                status: ready ? .ok : .serviceUnavailable)
        }
    }
}
