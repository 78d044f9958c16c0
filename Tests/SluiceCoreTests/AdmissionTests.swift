import Foundation
import SluiceCore
import Testing

@Suite struct AdmissionLedgerTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let tomorrow = Date(timeIntervalSince1970: 1_800_086_400)

    func reservation(_ id: String, tokens: Int = 10, at offset: Double = 0) -> AdmissionLedger.Reservation {
        .init(user: "u", day: "2027-01-15", tokens: tokens, at: now.addingTimeInterval(offset), id: id)
    }

    @Test func theSlidingMinuteAdmitsAtMostTheLimitAndSaysWhenToRetry() {
        var ledger = AdmissionLedger()
        let limits = AdmissionLedger.Limits(requestsPerMinute: 3)
        for n in 0..<3 {
            guard case .success(let headroom) = ledger.admit(reservation("j\(n)", at: Double(n * 10)), limits: limits, nextDay: tomorrow) else {
                Issue.record("refused \(n)")
                return
            }
            #expect(headroom.remaining == 2 - n)
        }
        #expect(ledger.admit(reservation("j3", at: 30), limits: limits, nextDay: tomorrow) == .failure(.rateLimited(retryAfter: 30, limit: 3)))
        // The first request leaves the window 60 s after it was made.
        if case .failure = ledger.admit(reservation("j4", at: 60.5), limits: limits, nextDay: tomorrow) { Issue.record("should pass") }
    }

    @Test func tokenBudgetsReserveTheWorstCaseAndSettleToTheRealUse() {
        var ledger = AdmissionLedger()
        let limits = AdmissionLedger.Limits(tokensPerDay: 100)
        let first = reservation("a", tokens: 60)
        #expect((try? ledger.admit(first, limits: limits, nextDay: tomorrow).get()) != nil)
        #expect(ledger.admit(reservation("b", tokens: 60), limits: limits, nextDay: tomorrow) == .failure(.quotaExceeded(reset: tomorrow, limit: 100)))
        ledger.settle(first, usedTokens: 15, refundMessage: false)
        #expect(ledger.dayCounters(user: "u", day: "2027-01-15") == (1, 15))
        #expect((try? ledger.admit(reservation("b", tokens: 60), limits: limits, nextDay: tomorrow).get()) != nil)
        ledger.settle(reservation("b", tokens: 60), usedTokens: nil, refundMessage: true)
        #expect(ledger.dayCounters(user: "u", day: "2027-01-15") == (1, 15))
    }

    @Test func theDailyMessageQuotaResetsWithTheDay() {
        var ledger = AdmissionLedger()
        let limits = AdmissionLedger.Limits(messagesPerDay: 1)
        #expect((try? ledger.admit(reservation("a"), limits: limits, nextDay: tomorrow).get()) != nil)
        #expect(ledger.admit(reservation("b", at: 100), limits: limits, nextDay: tomorrow) == .failure(.quotaExceeded(reset: tomorrow, limit: 1)))
        var next = reservation("c", at: 86_400)
        next.day = "2027-01-16"
        #expect((try? ledger.admit(next, limits: limits, nextDay: tomorrow).get()) != nil)
    }
}

@Suite struct TierAndPlanTests {
    @Test func theTierFollowsTheLoadAndModesMoveOverload() {
        let policy = TierPolicy()
        #expect(policy.tier(load: 999, mode: nil) == .normal)
        #expect(policy.tier(load: 1000, mode: nil) == .high)
        #expect(policy.tier(load: 5000, mode: nil) == .peak)
        #expect(policy.tier(load: 10000, mode: nil) == .overload)
        var exam = Mode(name: "exam")
        exam.overloadAt = 20000
        #expect(policy.tier(load: 10000, mode: exam) == .peak)
    }

    @Test func planLimitsTightenWithTheTierAndTheMode() {
        let plan = Plan(name: "free")
        #expect(plan.requestLimit(tier: .normal, mode: nil) == 10)
        #expect(plan.requestLimit(tier: .high, mode: nil) == 5)
        #expect(plan.requestLimit(tier: .peak, mode: nil) == 3)
        var exam = Mode(name: "exam")
        exam.requestsPerMinute = 4
        #expect(plan.requestLimit(tier: .normal, mode: exam) == 4)
        #expect(plan.requestLimit(tier: .peak, mode: exam) == 3)
    }
}

@Suite struct SchoolCalendarTests {
    func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test func examPeriodsFollowTheSchoolsTimeZoneAcrossMidnightUTC() {
        let calendar = SchoolCalendar(
            timeZone: TimeZone(identifier: "Asia/Ulaanbaatar")!, periods: [.init(first: "2026-12-14", last: "2026-12-20", mode: "exam")])
        // 15:30 UTC on the 13th is 23:30 on the 13th in Ulaanbaatar (UTC+8); 16:30 UTC is 00:30 on the 14th.
        #expect(calendar.mode(at: date("2026-12-13T15:30:00Z")) == nil)
        #expect(calendar.mode(at: date("2026-12-13T16:30:00Z")) == "exam")
        #expect(calendar.mode(at: date("2026-12-20T15:59:00Z")) == "exam")
        #expect(calendar.mode(at: date("2026-12-20T16:00:00Z")) == nil)
        #expect(calendar.day(of: date("2026-12-13T16:30:00Z")) == "2026-12-14")
        #expect(calendar.nextDay(after: date("2026-12-13T16:30:00Z")) == date("2026-12-14T16:00:00Z"))
    }

    @Test func peakHoursByWeekdayInTheLocalTimeZone() throws {
        let hours = try #require(SchoolCalendar.Hours("mon-fri 18:00-22:00", mode: "evening"))
        let calendar = SchoolCalendar(timeZone: TimeZone(identifier: "Asia/Ulaanbaatar")!, hours: [hours])
        // Friday 2026-12-18 10:30 UTC is 18:30 local: evening. Saturday local evening is not.
        #expect(calendar.mode(at: date("2026-12-18T10:30:00Z")) == "evening")
        #expect(calendar.mode(at: date("2026-12-18T09:59:00Z")) == nil)
        #expect(calendar.mode(at: date("2026-12-19T10:30:00Z")) == nil)
        // Monday 01:30 local is Sunday 17:30 UTC: the weekday is the local one.
        let late = try #require(SchoolCalendar.Hours("mon 00:00-02:00", mode: "late"))
        #expect(SchoolCalendar(timeZone: TimeZone(identifier: "Asia/Ulaanbaatar")!, hours: [late]).mode(at: date("2026-12-20T17:30:00Z")) == "late")
        #expect(SchoolCalendar.Hours("someday 18:00", mode: "x") == nil)
    }
}

@Suite struct LedgerMemoryTests {
    @Test func idleUsersAreForgottenAndTodaysCountersKept() {
        var ledger = AdmissionLedger()
        let now = Date()
        let limits = AdmissionLedger.Limits(requestsPerMinute: 10, tokensPerMinute: nil, messagesPerDay: 5, tokensPerDay: nil)
        for user in ["a", "b", "c"] {
            let reservation = AdmissionLedger.Reservation(user: user, day: user == "c" ? "2026-11-30" : "2026-11-29", tokens: 10, at: now.addingTimeInterval(-120), id: user)
            _ = ledger.admit(reservation, limits: limits, nextDay: now)
            ledger.settle(reservation, usedTokens: 10, refundMessage: false)
        }
        #expect(ledger.trackedUsers == 3)
        // Two minutes on, with no request in the last minute: yesterday's users go, today's stays (its quota counts).
        ledger.forgetIdle(day: "2026-11-30", now: now)
        #expect(ledger.trackedUsers == 1)
        #expect(ledger.dayCounters(user: "c", day: "2026-11-30").messages == 1)
    }
}
