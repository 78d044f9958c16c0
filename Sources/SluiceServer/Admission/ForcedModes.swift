import Foundation
import SluiceStore

/// The modes set by hand, by tenant ("" for every tenant; a nil mode is "no mode"), kept in the store
/// so that they outlive a restart and reach every node of a cluster.
enum ForcedModes {
    static let setting = "forced_modes"

    /// The modes stored; empty when none was ever set.
    static func load(from store: any JobStore) async throws -> [String: String?] {
        guard let text = try await store.setting(setting),
              let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        else { return [:] }
        return object.mapValues { $0 as? String }
    }

    /// Stores the modes.
    static func save(_ modes: [String: String?], to store: any JobStore) async throws {
        let object = modes.mapValues { $0.map { $0 as Any } ?? NSNull() }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        try await store.setSetting(setting, to: String(decoding: data, as: UTF8.self))
    }
}

extension AdmissionController {
    /// Sets a tenant's mode by hand ("" for every tenant; `.some(nil)` for no mode, nil to give it back
    /// to the calendar), kept in `store`: it outlives a restart, and every node of a cluster reads it
    /// each poll (`catchUp(with:)`).
    func setMode(_ mode: String??, tenant: String, in store: any JobStore) async throws {
        var modes = forced
        switch mode {
        case .some(let name): modes[tenant] = .some(name)
        case .none: modes[tenant] = nil
        }
        try await ForcedModes.save(modes, to: store)
        force(mode: mode, tenant: tenant)
    }
}
