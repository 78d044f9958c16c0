extension JobService {
    /// Sets a tenant's mode by hand ("" for every tenant; `.some(nil)` for no mode, nil to give it back
    /// to the calendar), kept in the store: it outlives a restart, and every node of a cluster reads
    /// it each poll.
    func setMode(_ mode: String??, tenant: String) async throws {
        var modes = admission.forced
        switch mode {
        case .some(let name): modes[tenant] = .some(name)
        case .none: modes[tenant] = nil
        }
        try await ForcedModes.save(modes, to: store)
        admission.force(mode: mode, tenant: tenant)
    }
}
