/// Who is asking: the tenant (an app), the end user, their role and plan.
public struct Principal: Sendable, Hashable, Codable {
    /// The app or school the request comes from.
    public var tenant: String
    /// The end user within the tenant.
    public var user: String
    /// `student` (default), `teacher` or `admin`.
    public var role: String
    /// The plan name (`free` by default).
    public var plan: String

    /// - Parameters:
    ///   - tenant: the tenant.
    ///   - user: the end user.
    ///   - role: the role.
    ///   - plan: the plan.
    public init(tenant: String, user: String, role: String = "student", plan: String = "free") {
        self.tenant = tenant
        self.user = user
        self.role = role
        self.plan = plan
    }

    /// Teachers and admins bypass the queue.
    public var priorityClass: PriorityClass {
        switch role {
        case "teacher", "admin": .bypass
        default: .interactive
        }
    }

    /// A key that names this user across tenants, for fairness and per-user caps.
    public var userKey: String { tenant + "\u{1F}" + user }

    /// Whether this principal may see a job owned by `owner`.
    public func owns(_ owner: Principal) -> Bool {
        tenant == owner.tenant && user == owner.user
    }
}
