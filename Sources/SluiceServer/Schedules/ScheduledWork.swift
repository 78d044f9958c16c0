import Foundation
import SluiceCache
import SluiceCore
import SluiceStore

/// What a schedule does when it fires (see `ScheduleSettings`): warm the cache, keep exam topics
/// through the exams, or submit a batch. Warming and batches run as batches of the schedule's own
/// user (`schedule:<name>` of the tenant), on the capacity interactive work leaves free.
struct ScheduledWork: Sendable {
    let jobs: JobService
    let batches: BatchRunner
    let history: any JobHistory
    let configuration: SluiceConfiguration

    /// A tenant's time zone: its calendar's, else the global calendar's.
    func timeZone(of tenant: String) -> TimeZone { calendar(of: tenant).timeZone }

    func calendar(of tenant: String) -> SchoolCalendar {
        configuration.tenants.first { $0.name == tenant }?.calendar ?? configuration.admission.calendar
    }

    /// Runs a schedule; returns what it did, in words.
    func run(_ schedule: ScheduleSettings, now: Date) async throws -> String {
        let defaultPlan = configuration.tenants.first { $0.name == schedule.tenant }?.defaultPlan ?? configuration.admission.defaultPlan
        let owner = Principal(tenant: schedule.tenant, user: "schedule:" + schedule.name, role: "teacher", plan: schedule.plan ?? defaultPlan)
        switch schedule.kind {
        case .warm where schedule.trendingHours != nil:
            return try await warmTrending(schedule, owner: owner, now: now)
        case .warm:
            return try await warmFromBank(schedule, owner: owner, now: now)
        case .extendTTL:
            let calendar = calendar(of: schedule.tenant)
            guard let exam = calendar.examPeriod(around: now, withinDays: schedule.daysBeforeExam) else {
                return "no exam period under way or within \(schedule.daysBeforeExam) days: nothing to keep"
            }
            let kept = try await jobs.cache.extend(tenant: schedule.tenant, namespaces: Set(schedule.namespaces), until: exam.end)
            return "kept \(kept) cached answers of \(schedule.namespaces.joined(separator: ", ")) until the exams of \(exam.period.first)..\(exam.period.last) end"
        case .batch:
            guard let path = schedule.file else { return "no file" }
            let content = try Data(contentsOf: URL(fileURLWithPath: path))
            let batch = try await batches.submit(
                content, filename: (path as NSString).lastPathComponent, owner: owner, endpoint: schedule.endpoint, now: now)
            return "submitted \(batch.id)"
        case nil:
            return "no kind"
        }
    }

    /// Asks a question bank's questions (answers the cache already holds cost nothing).
    func warmFromBank(_ schedule: ScheduleSettings, owner: Principal, now: Date) async throws -> String {
        guard let path = schedule.file else { return "no question bank" }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var questions: [(question: String, namespace: String, model: String)] = []
        var skipped = 0
        for line in text.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                  let question = object["question"] as? String, !question.isEmpty
            else {
                skipped += 1
                continue
            }
            questions.append((question, object["namespace"] as? String ?? "", object["model"] as? String ?? schedule.model))
        }
        guard !questions.isEmpty else { return "the question bank holds no questions (\(skipped) lines skipped)" }
        let batch = try await batches.submit(
            Self.lines(questions), filename: "warm-\(schedule.name).jsonl", owner: owner, endpoint: "/v1/chat/completions", now: now)
        return "asking \(questions.count) questions in \(batch.id)" + (skipped > 0 ? " (\(skipped) lines skipped)" : "")
    }

    /// Asks anew the most-asked questions of each namespace over the last hours, renewing their answers.
    func warmTrending(_ schedule: ScheduleSettings, owner: Principal, now: Date) async throws -> String {
        let since = now.addingTimeInterval(-(schedule.trendingHours ?? 24) * 3600)
        var counts: [String: (question: String, namespace: String, model: String, asked: Int)] = [:]
        var cursor: String?
        // Read a page at a time, newest first, until the window is passed (a day of a school's questions).
        for _ in 0..<200 {
            let page = try await history.history(.tenant(schedule.tenant), before: cursor, since: since, limit: 1000)
            for job in page where job.state == .succeeded && job.origin?.response == nil && job.request.messages.count == 1 {
                guard let question = job.request.messages.first?.content, !question.isEmpty, !job.owner.user.hasPrefix("schedule:") else { continue }
                let namespace = job.cache?.namespace ?? ""
                let key = namespace + "\u{1F}" + job.request.model + "\u{1F}" + question
                counts[key, default: (question, namespace, job.request.model, 0)].asked += 1
            }
            guard page.count == 1000, let last = page.last else { break }
            cursor = last.id
        }
        let top = Dictionary(grouping: counts.values, by: \.namespace).values.flatMap { asked in
            asked.sorted { ($0.asked, $1.question) > ($1.asked, $0.question) }.prefix(schedule.top)
        }
        guard !top.isEmpty else { return "no questions were asked in the last \(ProblemList.show(schedule.trendingHours ?? 24)) hours" }
        let batch = try await batches.submit(
            Self.lines(top.map { ($0.question, $0.namespace, $0.model) }), filename: "rewarm-\(schedule.name).jsonl", owner: owner,
            endpoint: "/v1/chat/completions", refresh: true, now: now)
        return "asking anew the \(top.count) most-asked questions in \(batch.id)"
    }

    /// Questions as a batch file's lines.
    static func lines(_ questions: [(question: String, namespace: String, model: String)]) -> Data {
        var data = Data()
        for (index, item) in questions.enumerated() {
            let line: [String: Any] = [
                "custom_id": "q\(index + 1)", "method": "POST", "url": "/v1/chat/completions", "namespace": item.namespace,
                "body": ["model": item.model, "messages": [["role": "user", "content": item.question]]],
            ]
            data.append((try? JSONSerialization.data(withJSONObject: line, options: [.withoutEscapingSlashes])) ?? Data())
            data.append(UInt8(ascii: "\n"))
        }
        return data
    }
}
