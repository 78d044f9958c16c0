import Foundation
import SluiceCore
import Synchronization

/// The guards on open streams: how many a user holds at once, and how often they resume.
extension AdmissionController {
    /// An open stream, counted until it is released (or dropped).
    final class StreamTicket: Sendable {
        let release: @Sendable () -> Void
        init(release: @escaping @Sendable () -> Void) { self.release = release }
        deinit { release() }
    }

    /// Forgets counters with nothing left to count (idle users, resumes older than a minute), so that
    /// memory follows the users of the day, not every user ever seen.
    func forgetIdle() {
        let now = clock()
        let (day, _) = day(of: now)
        ledger.withLock { $0.forgetIdle(day: day, now: now) }
        streams.withLock { streams in
            streams.resumes = streams.resumes.compactMapValues { times in
                let recent = times.filter { $0 > now.addingTimeInterval(-60) }
                return recent.isEmpty ? nil : recent
            }
        }
    }

    /// The streams a user (`Principal.userKey`) has open on this node now.
    func openStreams(of user: String) -> Int { streams.withLock { $0.open[user] ?? 0 } }

    /// Counts an open stream of a user, refusing past the plan's limits on open streams and on resumes.
    func openStream(for principal: Principal, resuming: Bool) throws -> StreamTicket {
        let plan = (try? plan(for: principal)) ?? Plan(name: principal.plan)
        let user = principal.userKey
        let now = clock()
        let refusal = streams.withLock { streams -> SluiceError? in
            var recent = streams.resumes[user, default: []].filter { $0 > now.addingTimeInterval(-60) }
            if resuming, recent.count >= plan.reconnectsPerMinute {
                // A limit of 0 allows no resumes at all: no earlier resume's expiry frees a slot.
                let limit = plan.reconnectsPerMinute
                let freed = limit > 0 ? recent[recent.count - limit].addingTimeInterval(60) : now.addingTimeInterval(60)
                let seconds = max(1, Int(freed.timeIntervalSince(now).rounded(.up)))
                return SluiceError(.tooManyReconnects, details: ["seconds": String(seconds)], retryAfter: seconds)
            }
            if streams.open[user, default: 0] >= plan.maxStreams {
                return SluiceError(.tooManyStreams, details: ["limit": String(plan.maxStreams)], retryAfter: 5)
            }
            if resuming {
                recent.append(now)
                streams.resumes[user] = recent
            }
            streams.open[user, default: 0] += 1
            return nil
        }
        if let refusal {
            metrics.rejected(reason: refusal.code.rawValue)
            throw refusal
        }
        return StreamTicket { [weak self] in
            self?.streams.withLock { streams in
                streams.open[user, default: 1] -= 1
                if streams.open[user] == 0 { streams.open[user] = nil }
            }
        }
    }
}
