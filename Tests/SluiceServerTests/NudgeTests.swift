import Foundation
import Testing

@testable import SluiceServer

@Suite struct NudgeTests {
    /// A wake-up ends one wait; the waits after it last their time again (a loop woken once must not
    /// then spin, asking the store for work as fast as it can).
    @Test func aWakeUpEndsOneWaitNotTheOnesAfterIt() async {
        let nudge = Nudge()
        nudge.wake()
        let clock = ContinuousClock()
        let woken = await clock.measure { await nudge.wait(seconds: 5) }
        #expect(woken < .seconds(2))
        var waits = 0
        let loop = await clock.measure {
            for _ in 0..<3 {
                await nudge.wait(seconds: 0.2)
                waits += 1
            }
        }
        #expect(waits == 3)
        #expect(loop >= .milliseconds(550), "three waits of 0.2 s took \(loop)")
    }
}
