import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore

/// The routes the nodes of a cluster call on each other, for callers that show the cluster's secret: a
/// job's chunks as this node produces them (what another node relays to its clients), and cancel.
struct ClusterRoutes {
    let jobs: JobService
    let cluster: Cluster
    static let encoder = JSONEncoder()

    func register(on router: Router<SluiceRequestContext>) {
        let group = router.group("internal/v1")
        group.get("jobs/{id}/chunks") { request, context in
            try authorize(request)
            // What this node has and produces; a job not live here ends the stream at once.
            let chunks = try await jobs.hub.subscribe(try JobRoutes.id(context), after: try JobRoutes.resumePoint(request), following: false)
            let outlet = StreamOutlet(
                connection: context.connection, heartbeat: .milliseconds(Int(cluster.leaseSeconds * 1000 / 3)),
                maxStall: .milliseconds(Int(jobs.configuration.server.writeStallSeconds * 1000)), metrics: jobs.metrics)
            return Response(status: .ok, headers: JSONResponse.sseHeaders, body: ResponseBody { writer in
                try await ServerSentEvents.pump(chunks, to: outlet, into: &writer) { chunk in
                    ([ServerSentEvents.event(id: chunk.seq, name: nil, json: (try? Self.encoder.encode(chunk)) ?? Data())], chunk.event.isTerminal)
                }
                try await writer.finish(nil)
            })
        }
        group.delete("jobs/{id}") { request, context in
            try authorize(request)
            let stopped = try await jobs.cancelHere(try JobRoutes.id(context))
            return Response(status: stopped ? .ok : .notFound)
        }
    }

    private func authorize(_ request: Request) throws {
        guard cluster.authorizes(request.headers[.authorization]) else {
            throw SluiceError(.invalidAPIKey, details: ["reason": "internal routes are for the nodes of this cluster"])
        }
    }
}
