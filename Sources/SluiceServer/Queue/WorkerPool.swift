import Foundation
import Logging
import ServiceLifecycle

/// The workers, the timer that releases retries and expires overdue jobs, and the watchdog, as one
/// `Service`. On graceful shutdown it stops taking work, gives running jobs a grace period,
/// then checkpoints and re-queues what still runs, and ends every open stream so clients resume.
final class WorkerPool: Service {
    let jobs: JobService
    /// Runs the watchdog's passes.
    let recovery: Recovery
    let workers: Int
    let grace: Duration
    /// How often the watchdog looks for jobs running with no attempt.
    let watchdogInterval = Duration.seconds(5)

    init(jobs: JobService, recovery: Recovery, workers: Int, grace: Double) {
        self.jobs = jobs
        self.recovery = recovery
        self.workers = max(1, workers)
        self.grace = .milliseconds(Int(grace * 1000))
    }

    func run() async throws {
        let scheduler = jobs.scheduler
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.runTimers() }
            group.addTask { await self.runWatchdog() }
            await withTaskGroup(of: Bool.self) { pool in
                for _ in 0..<workers {
                    pool.addTask {
                        while let claim = await scheduler.next() {
                            await self.jobs.execute(claim)
                        }
                        return true
                    }
                }
                pool.addTask {
                    do {
                        try await gracefulShutdown()
                    } catch {
                        scheduler.stop(running: .shutdown)
                        return false
                    }
                    scheduler.stop(running: nil)
                    if (try? await Task.sleep(for: self.grace)) != nil {
                        scheduler.stop(running: .shutdown)
                    }
                    return false
                }
                var done = 0
                while let isWorker = await pool.next() {
                    if isWorker { done += 1 }
                    if done == workers { pool.cancelAll() }
                }
            }
            jobs.hub.closeAll()
            group.cancelAll()
        }
    }

    private func runTimers() async {
        let scheduler = jobs.scheduler
        while !scheduler.isStopped {
            let (expired, next) = scheduler.fireTimers(now: Date())
            for job in expired { await jobs.expire(job) }
            await scheduler.waitForTimers(until: next)
        }
    }

    /// The watchdog: every few seconds, jobs running with no attempt are taken up again.
    private func runWatchdog() async {
        while (try? await Task.sleep(for: watchdogInterval)) != nil {
            await recovery.reconcile()
        }
    }
}
