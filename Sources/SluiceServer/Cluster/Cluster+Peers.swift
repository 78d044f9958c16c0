import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceStore
import Synchronization

/// What nodes ask of each other: the chunks of a job as the node running it produces them (so that a
/// client connected to any node streams without one store row or notification per token), and cancels.
extension Cluster: RemoteStreams {
    static let internalPath = "/internal/v1/jobs"

    /// Reads the cluster's secret from the store (made by the first node that asks).
    func loadSecret() async throws {
        let value = try await queue.clusterSecret()
        secret.withLock { $0 = value }
    }

    /// Whether an `Authorization` header shows the cluster's secret (compared in constant time).
    func authorizes(_ header: String?) -> Bool {
        guard let expected = secret.withLock({ $0 }), let header, header.hasPrefix("Bearer ") else { return false }
        let given = Array(header.utf8.dropFirst(7))
        let wanted = Array(expected.utf8)
        guard given.count == wanted.count else { return false }
        return zip(given, wanted).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    func relay(_ jobID: String, after seq: Int, emit: (StreamChunk) -> Void) async -> RelayOutcome {
        let holder: String
        switch try? await queue.holder(of: jobID) {
        case .node(let id, let address) where id != nodeID: holder = address
        case .ended: return .ended
        default: return .notHeld
        }
        do {
            let response = try await peers.execute(
                request("\(holder)\(Self.internalPath)/\(jobID)/chunks?after=\(seq)", method: .GET), deadline: .distantFuture)
            guard response.status == .ok else { return .relayed }
            var parser = SSEParser()
            let decoder = JSONDecoder()
            for try await buffer in response.body {
                var count = 0
                for item in parser.feed(buffer.readableBytesView) {
                    guard case .event(let event) = item, let chunk = try? decoder.decode(StreamChunk.self, from: Data(event.data.utf8)) else { continue }
                    emit(chunk)
                    count += 1
                }
                if count > 0 { metrics.relayed(chunks: count) }
            }
        } catch {
            // The node died or went quiet: the store has its checkpoints, and the job's next holder the rest.
            logger.debug("a relayed stream broke", metadata: ["sluice.job": "\(jobID)", "error": "\(String(reflecting: type(of: error)))"])
        }
        return .relayed
    }

    func untilHeld(_ jobID: String) async { await holderWatch.untilHeld(jobID) }

    /// Cancels a job this node does not hold: takes it when nobody holds it, otherwise asks its holder;
    /// tries again while the job is between nodes (its holder died and its lease has not yet lapsed).
    func cancelElsewhere(_ jobID: String, work jobs: any ClusterWork) async throws {
        let deadline = ContinuousClock.now + .seconds(leaseSeconds * 2 + 5)
        while ContinuousClock.now < deadline {
            switch try await queue.holder(of: jobID) {
            case .ended:
                return
            case .none:
                if let claimed = try await queue.claim(jobID: jobID, node: nodeID, leaseSeconds: leaseSeconds) {
                    try await jobs.take(claimed)
                    if try await jobs.cancelHere(jobID) { return }
                }
            case .node(let id, _) where id == nodeID:
                if try await jobs.cancelHere(jobID) { return }
            case .node(_, let address):
                let response = try? await peers.execute(request("\(address)\(Self.internalPath)/\(jobID)", method: .DELETE), timeout: .seconds(30))
                if response?.status == .ok { return }
            }
            try await Task.sleep(for: StreamHub.followInterval)
        }
        throw SluiceError(.internalError, details: ["reason": "the node running the job could not be reached to cancel it; try again"])
    }

    private func request(_ url: String, method: HTTPMethod) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(secret.withLock { $0 } ?? "")")
        return request
    }
}
