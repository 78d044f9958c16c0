import Configuration
import Foundation
public import SluiceCore

/// One schedule of a tenant (`tenants.<name>.schedules.names`, then one section each), run in the
/// tenant's time zone (its calendar's, else the global calendar's), once per cluster:
///
/// - `warm`: asks questions in the batch class so their answers are cached before a peak — the
///   questions of a question bank `file` (JSON Lines of `{question, namespace?, model?}`, as `sluice warm`
///   reads), or, with `trendingHours`, the `top` most-asked questions of each namespace over the last N
///   hours of Sluice's own history, asked anew (their answers renewed);
/// - `extendTTL`: keeps the cached answers of `namespaces` until the end of the exam period under way or
///   starting within `daysBeforeExam` days (the tenant's calendar), else does nothing;
/// - `batch`: submits a batch `file` (the Batch API's JSON Lines) to `endpoint`.
public struct ScheduleSettings: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case warm, extendTTL, batch
    }

    public var tenant: String
    public var name: String
    /// The cron expression as written.
    public var cron: String
    /// The parsed expression; nil when it is malformed (a configuration problem).
    public var schedule: CronSchedule?
    public var kind: Kind?
    /// A question bank (`warm`) or a batch file (`batch`).
    public var file: String?
    /// `warm` from history: the hours looked back.
    public var trendingHours: Double?
    /// `warm` from history: questions per namespace (default 50).
    public var top = 50
    /// The model asked for questions that name none (default `default`).
    public var model = "default"
    /// `extendTTL`: the namespaces kept.
    public var namespaces: [String] = []
    /// `extendTTL`: how far ahead of an exam period it starts keeping answers (default 7).
    public var daysBeforeExam = 7
    /// `batch`: the API the file's lines call (default `/v1/chat/completions`).
    public var endpoint = "/v1/chat/completions"
    /// The plan the schedule's work is admitted under (default the tenant's default plan).
    public var plan: String?

    /// `tenant/name`: the key its runs are recorded under.
    public var key: String { tenant + "/" + name }

    /// A schedule built in code (tests); a malformed expression leaves `schedule` nil.
    public init(tenant: String, name: String, cron: String, kind: Kind) {
        self.tenant = tenant
        self.name = name
        self.cron = cron
        schedule = try? CronSchedule(cron)
        self.kind = kind
    }

    init(config: ConfigReader, tenant: String, name: String, path: String, problems: inout [ConfigurationProblem]) {
        self.tenant = tenant
        self.name = name
        cron = config.string(forKey: "cron") ?? ""
        do {
            schedule = try CronSchedule(cron)
        } catch {
            problems.append(ConfigurationProblem(path + ".cron", "\(ConfigurationProblem.quoted(cron)) is not a cron expression: \(error.description)"))
        }
        let kindText = config.string(forKey: "kind") ?? ""
        kind = Kind(rawValue: kindText)
        if kind == nil { problems.append(.notOneOf(path + ".kind", kindText, Kind.allCases.map(\.rawValue))) }
        file = config.nonEmptyString(forKey: "file")
        trendingHours = config.double(forKey: "trendingHours")
        top = config.int(forKey: "top", default: top)
        model = config.string(forKey: "model", default: model)
        namespaces = config.stringArray(forKey: "namespaces", default: namespaces)
        daysBeforeExam = config.int(forKey: "daysBeforeExam", default: daysBeforeExam)
        endpoint = config.string(forKey: "endpoint", default: endpoint)
        plan = config.nonEmptyString(forKey: "plan")
    }

    /// What is wrong with the schedule beyond what reading it found.
    func check(_ list: inout ProblemList, path: String) {
        switch kind {
        case .warm:
            if file == nil, trendingHours == nil { list.add(path, "a warm schedule needs a question bank (file) or trendingHours") }
            if let hours = trendingHours, !(hours > 0 && hours <= 24 * 31) { list.add(path + ".trendingHours", "must be more than 0 and at most 744 (31 days)") }
            list.atLeast(path + ".top", top, 1)
        case .extendTTL:
            if namespaces.isEmpty { list.add(path + ".namespaces", "an extendTTL schedule names the namespaces it keeps") }
            list.atLeast(path + ".daysBeforeExam", daysBeforeExam, 0)
        case .batch:
            if file == nil { list.add(path + ".file", "a batch schedule names the batch file it submits") }
            if !BatchInput.endpoints.contains(endpoint) { list.problems.append(.notOneOf(path + ".endpoint", endpoint, BatchInput.endpoints)) }
        case nil:
            break
        }
        if let file, !FileManager.default.isReadableFile(atPath: file) {
            list.add(path + ".file", "\(ConfigurationProblem.quoted(file)) cannot be read")
        }
    }
}
