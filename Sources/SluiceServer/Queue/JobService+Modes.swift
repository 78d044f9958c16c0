extension JobService {
    /// Sets a tenant's mode by hand ("" for every tenant; `.some(nil)` for no mode, nil to give it back
    /// to the calendar), on every node: a cluster keeps the modes in its store, where each node reads
    /// them every poll.
    func setMode(_ mode: String??, tenant: String) async throws {
        var modes = admission.forced
        switch mode {
        case .some(let name): modes[tenant] = .some(name)
        case .none: modes[tenant] = nil
        }
        if let cluster { try await cluster.saveForcedModes(modes) }
        admission.force(mode: mode, tenant: tenant)
    }
}
