import Foundation
import SluiceCore
import SluiceStore

extension AdmissionController {
    /// On a store shared by a cluster, each poll: adopts the modes set by hand on any node, and stops
    /// counting against their tenant the jobs this node admitted that another node ran and ended.
    func catchUp(with store: any JobStore, now: Date = Date()) async {
        if let modes = try? await ForcedModes.load(from: store) { adopt(forced: modes) }
        for (tenant, id) in countedTenantJobs(olderThan: 5, limit: 50, now: now) {
            do {
                // Ended, or swept already.
                if try await store.job(id: id)?.state.isTerminal ?? true { forgetTenantJob(id, of: tenant) }
            } catch {
                continue
            }
        }
    }
}
