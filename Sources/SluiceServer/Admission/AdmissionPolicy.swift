import Foundation
public import SluiceCore

/// What admission control is told: plans, tiers, modes and the school calendar.
public struct AdmissionPolicy: Sendable {
    /// Plans by name. Default: `free` with 10 requests a minute (5 in tier high, 3 in peak).
    public var plans: [String: Plan] = ["free": Plan(name: "free")]
    /// The plan of callers who name none (default `free`).
    public var defaultPlan = "free"
    /// Tier thresholds and effects.
    public var tiers = TierPolicy()
    /// Modes by name.
    public var modes: [String: Mode] = [:]
    /// The school calendar that switches modes on.
    public var calendar = SchoolCalendar()
    /// Workers kept for teachers and admins (default: a tenth, at least one).
    public var reservedBypassWorkers: Int?

    /// Creates the defaults.
    public init() {}
}
