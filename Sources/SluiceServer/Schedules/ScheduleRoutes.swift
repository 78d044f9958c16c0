import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// `GET /admin/api/schedules`: the configured schedules, each with its next run and its latest runs
/// (which node, when, how it went). An admin key: a tenant's admin sees its tenant's schedules, the
/// operator every tenant's (or one, with `?tenant=`).
struct ScheduleRoutes {
    let runner: ScheduleRunner

    func register(on group: RouterGroup<SluiceRequestContext>) {
        group.get("schedules") { request, context in
            let scope = try AdminRoutes.requireAdmin(context, request: request)
            var data: [[String: Any]] = []
            for schedule in runner.schedules where scope.tenant == nil || scope.tenant == schedule.tenant {
                let runs = try await runner.log.runs(of: schedule.key, limit: 10)
                data.append([
                    "tenant": schedule.tenant, "name": schedule.name, "kind": schedule.kind?.rawValue ?? NSNull(), "cron": schedule.cron,
                    "time_zone": runner.work.timeZone(of: schedule.tenant).identifier,
                    "next_run_at": runner.next(schedule).map { $0.timeIntervalSince1970 } ?? NSNull(),
                    "last_run": runs.first.map(Self.object) ?? NSNull(), "recent_runs": runs.map(Self.object),
                ])
            }
            return JSONResponse.make(["object": "list", "data": data] as [String: Any])
        }
    }

    static func object(_ run: ScheduleRun) -> [String: Any] {
        [
            "fire_at": run.fireAt.timeIntervalSince1970, "node": run.node, "started_at": run.startedAt.timeIntervalSince1970,
            "finished_at": run.finishedAt.map { $0.timeIntervalSince1970 } ?? NSNull(), "outcome": run.outcome, "detail": run.detail,
        ]
    }
}
