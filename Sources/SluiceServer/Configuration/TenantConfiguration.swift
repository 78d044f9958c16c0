import Configuration
import Foundation
public import SluiceCore

extension SluiceConfiguration {
    /// One tenant (an app, a school): `tenants.names` lists them, each with its section
    /// `tenants.<name>`. Its keys come from environment variables the section names, never from the
    /// file. A tenant named only by a key (`auth.apiKeys: ["school-a:sk-…"]`) has this type's defaults.
    public struct Tenant: Sendable {
        /// The roles a tenant's callers may be allowed to assert.
        public static let knownRoles = ["student", "teacher", "admin"]

        /// The tenant's name, as keys (`tenant:key`) and tokens name it.
        public var name: String
        /// The environment variable holding its app keys, comma-separated.
        public var apiKeysEnv: String?
        /// Its app keys, read from `apiKeysEnv` as the configuration is loaded: secrets, never shown.
        public var apiKeys: [String] = []
        /// The environment variable holding its admin keys, comma-separated.
        public var adminKeysEnv: String?
        /// Its admin keys, read from `adminKeysEnv`: secrets, never shown.
        public var adminKeys: [String] = []
        /// The roles its callers may assert (default student and teacher; `admin` only when listed).
        public var roles = ["student", "teacher"]
        /// The plans its callers may assert; nil: every plan.
        public var plans: [String]?
        /// The plan of its callers who assert none; nil: `plans.default`.
        public var defaultPlan: String?
        /// Its ceilings across all of its users (`tenants.<name>.ceilings`); nil: no ceiling, 0: none allowed.
        public var ceilings = TenantPolicy.Ceilings()
        /// The browser origins allowed to call it (`scheme://host[:port]`, or `*`); empty: none.
        public var corsOrigins: [String] = []
        /// Its own calendar (`tenants.<name>.calendar`, as the global `calendar`); nil: the global one.
        public var calendar: SchoolCalendar?
        /// The environment variable holding its callbacks' signing secrets (`webhooks.secretEnv`;
        /// `whsec_…`, two during a rotation); nil: the global `webhooks.secret`.
        public var webhookSecretEnv: String?
        /// Its signing secrets, read from `webhookSecretEnv`: secrets, never shown.
        public var webhookSecrets: [String] = []
        /// The hosts its callbacks may go to (`webhooks.allowedHosts`); nil: the global list.
        public var webhookAllowedHosts: [String]?
        /// Its schedules (`schedules.names`, one section each), in its time zone.
        public var schedules: [ScheduleSettings] = []

        /// - Parameter name: the tenant's name; everything else has its default.
        public init(name: String) {
            self.name = name
        }
    }
}

extension SluiceConfiguration.Tenant {
    /// Reads one tenant's section; keys come from the variables it names, in `environment`.
    /// - Parameters:
    ///   - config: the reader of `tenants.<name>`.
    ///   - name: the tenant.
    ///   - timeZone: the time zone of its calendar when it names none (the global calendar's).
    ///   - environment: where the variables holding its keys are.
    ///   - problems: where a problem goes (a malformed calendar line).
    init(config: ConfigReader, name: String, timeZone: String, environment: [String: String], problems: inout [ConfigurationProblem]) {
        self.init(name: name)
        apiKeysEnv = config.nonEmptyString(forKey: "apiKeysEnv")
        apiKeys = apiKeysEnv.map { Self.keys(inVariable: $0, environment: environment) } ?? []
        adminKeysEnv = config.nonEmptyString(forKey: "adminKeysEnv")
        adminKeys = adminKeysEnv.map { Self.keys(inVariable: $0, environment: environment) } ?? []
        roles = config.stringArray(forKey: "roles", default: roles).map { $0.lowercased() }
        plans = config.stringArray(forKey: "plans")
        defaultPlan = config.nonEmptyString(forKey: "defaultPlan")
        ceilings.requestsPerMinute = config.int(forKey: "ceilings.requestsPerMinute")
        ceilings.runningJobs = config.int(forKey: "ceilings.runningJobs")
        ceilings.tokensPerDay = config.int(forKey: "ceilings.tokensPerDay")
        ceilings.spendPerMonthUSD = config.double(forKey: "ceilings.spendPerMonthUSD")
        corsOrigins = config.stringArray(forKey: "corsOrigins", default: corsOrigins)
        webhookSecretEnv = config.nonEmptyString(forKey: "webhooks.secretEnv")
        webhookSecrets = webhookSecretEnv.map { WebhookSettings.split(environment[$0] ?? "") } ?? []
        webhookAllowedHosts = config.stringArray(forKey: "webhooks.allowedHosts")
        for schedule in config.names(forKey: "schedules.names", problems: &problems) {
            schedules.append(ScheduleSettings(
                config: config.scoped(to: ["schedules", schedule]), tenant: name, name: schedule, path: "tenants.\(name).schedules.\(schedule)",
                problems: &problems))
        }
        let calendarSection = config.scoped(to: "calendar")
        if SchoolCalendar.isSet(in: calendarSection) {
            calendar = SchoolCalendar(config: calendarSection, path: "tenants.\(name).calendar", timeZone: timeZone, problems: &problems)
        }
    }

    /// The keys in an environment variable: comma-separated, spaces around each ignored, empty ones left out.
    static func keys(inVariable name: String, environment: [String: String]) -> [String] {
        (environment[name] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
