@testable import SluiceLoadTest
import Synchronization
import Testing

/// The load generator's arrivals: awaited together, and cancelled together.
@Suite struct OpenTasksTests {
    @Test func allEndedWaitsForEveryTaskStarted() async {
        let tasks = OpenTasks()
        let finished = Atomic<Int>(0)
        for delay in [30, 10, 20] {
            tasks.start {
                try? await Task.sleep(for: .milliseconds(delay))
                finished.add(1, ordering: .relaxed)
            }
        }
        await tasks.allEnded()
        #expect(finished.load(ordering: .relaxed) == 3)
    }

    @Test func cancellingTheWaiterCancelsTheTasks() async {
        let tasks = OpenTasks()
        let cancelled = Atomic<Int>(0)
        for _ in 0..<3 {
            tasks.start {
                if (try? await Task.sleep(for: .seconds(600))) == nil { cancelled.add(1, ordering: .relaxed) }
            }
        }
        let waiter = Task { await tasks.allEnded() }
        waiter.cancel()
        await waiter.value
        #expect(cancelled.load(ordering: .relaxed) == 3)
    }
}
