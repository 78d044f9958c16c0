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
            let store = switch jobs.health.status {
            case .up: "up"
            case .down: "down"
            case .full: "full"
            }
            let status = jobs.scheduler.isStopped ? "stopping" : store == "up" ? "ready" : "store_unavailable"
            return JSONResponse.make(
                ["status": status, "store": store, "queued": queued, "running": running],
                status: status == "ready" ? .ok : .serviceUnavailable)
        }
    }
}
