import Foundation
import SluiceCore
import Testing

@Suite struct CircuitBreakerTests {
    let start = Date(timeIntervalSince1970: 1_000_000)

    @Test func opensOnConsecutiveFailuresAndProbesAfterTheCoolDown() {
        var breaker = CircuitBreaker(policy: .init(minimumCalls: 100, consecutiveFailures: 3, openSeconds: 10, halfOpenProbes: 1))
        for _ in 0..<2 {
            let admitted1 = breaker.admit(now: start)
            #expect(admitted1)
            breaker.record(success: false, now: start)
        }
        #expect(breaker.state == .closed)
        let admitted2 = breaker.admit(now: start)
        #expect(admitted2)
        breaker.record(success: false, now: start)
        #expect(breaker.state == .open(until: start.addingTimeInterval(10)))
        let admitted3 = breaker.admit(now: start.addingTimeInterval(9))
        #expect(!admitted3)
        // Half-open: one probe at a time.
        let admitted4 = breaker.admit(now: start.addingTimeInterval(10))
        #expect(admitted4)
        let admitted5 = breaker.admit(now: start.addingTimeInterval(10))
        #expect(!admitted5)
        breaker.record(success: false, now: start.addingTimeInterval(11))
        #expect(breaker.state == .open(until: start.addingTimeInterval(21)))
        let admitted6 = breaker.admit(now: start.addingTimeInterval(21))
        #expect(admitted6)
        breaker.record(success: true, now: start.addingTimeInterval(21))
        #expect(breaker.state == .closed)
    }

    @Test func opensOnTheFailureRateOnlyAfterTheMinimumCalls() {
        var breaker = CircuitBreaker(policy: .init(failureRate: 0.5, minimumCalls: 6, window: 10, consecutiveFailures: 100))
        for success in [true, false, true, false, true] {
            breaker.record(success: success, now: start)
        }
        #expect(breaker.state == .closed)
        breaker.record(success: false, now: start)
        #expect(breaker.state.level == 2)
    }

    @Test func aVetoedOpeningKeepsItClosed() {
        var breaker = CircuitBreaker(policy: .init(consecutiveFailures: 1))
        #expect(breaker.wouldOpen())
        breaker.record(success: false, now: start, mayOpen: false)
        #expect(breaker.state == .closed)
        let admitted7 = breaker.admit(now: start)
        #expect(admitted7)
    }
}
