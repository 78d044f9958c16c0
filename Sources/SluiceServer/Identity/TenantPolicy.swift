public import SluiceCore

/// What a tenant's callers may assert and use, across all of its users: the roles and plans its keys
/// and tokens may claim, the plan of callers who claim none, its ceilings, the browser origins that may
/// call it, and its own calendar.
public struct TenantPolicy: Sendable, Hashable {
    /// Limits on a whole tenant, summed over all of its users (so that naming a new `X-Sluice-User` on
    /// every request escapes none of them). nil: no ceiling; 0: none allowed at all.
    public struct Ceilings: Sendable, Hashable {
        /// Requests per sliding minute.
        public var requestsPerMinute: Int?
        /// Jobs running at once.
        public var runningJobs: Int?
        /// Tokens per day (in the tenant's calendar's time zone).
        public var tokensPerDay: Int?
        /// Spend per calendar month, in US dollars (from the deployments' prices).
        public var spendPerMonthUSD: Double?

        /// - Parameters:
        ///   - requestsPerMinute: requests per minute; nil for no ceiling.
        ///   - runningJobs: jobs running at once; nil for no ceiling.
        ///   - tokensPerDay: tokens per day; nil for no ceiling.
        ///   - spendPerMonthUSD: US dollars per month; nil for no ceiling.
        public init(requestsPerMinute: Int? = nil, runningJobs: Int? = nil, tokensPerDay: Int? = nil, spendPerMonthUSD: Double? = nil) {
            self.requestsPerMinute = requestsPerMinute
            self.runningJobs = runningJobs
            self.tokensPerDay = tokensPerDay
            self.spendPerMonthUSD = spendPerMonthUSD
        }

        /// Whether there is no ceiling at all.
        /// The limits the admission ledger applies to the tenant as a whole.
        public var limits: AdmissionLedger.Limits {
            AdmissionLedger.Limits(requestsPerMinute: requestsPerMinute, tokensPerDay: tokensPerDay)
        }

        public var isEmpty: Bool {
            requestsPerMinute == nil && runningJobs == nil && tokensPerDay == nil && spendPerMonthUSD == nil
        }
    }

    /// The tenant.
    public var name: String
    /// The roles its callers may assert (`student`, `teacher`, `admin`).
    public var roles: Set<String>
    /// The plans its callers may assert.
    public var plans: Set<String>
    /// The plan of its callers who assert none.
    public var defaultPlan: String
    /// Its ceilings.
    public var ceilings: Ceilings
    /// Browser origins allowed to call it (`https://app.example.com`, or `*` for any); empty: none.
    public var corsOrigins: [String]
    /// Its own calendar of exam periods and peak hours; nil: the global calendar.
    public var calendar: SchoolCalendar?

    /// - Parameters:
    ///   - name: the tenant.
    ///   - roles: the roles its callers may assert.
    ///   - plans: the plans its callers may assert.
    ///   - defaultPlan: the plan of callers who assert none.
    ///   - ceilings: its ceilings.
    ///   - corsOrigins: the browser origins allowed to call it.
    ///   - calendar: its calendar; nil for the global one.
    public init(
        name: String, roles: Set<String>, plans: Set<String>, defaultPlan: String, ceilings: Ceilings = Ceilings(),
        corsOrigins: [String] = [], calendar: SchoolCalendar? = nil
    ) {
        self.name = name
        self.roles = roles
        self.plans = plans
        self.defaultPlan = defaultPlan
        self.ceilings = ceilings
        self.corsOrigins = corsOrigins
        self.calendar = calendar
    }

    /// Whether a browser page of an origin (the `Origin` header, `https://app.example.com`) may call:
    /// listed (scheme and host in any case), or `*` listed.
    public func allowsOrigin(_ origin: String) -> Bool {
        let asked = origin.lowercased()
        return corsOrigins.contains { $0 == "*" || $0.lowercased() == asked }
    }
}
