@testable import SluiceServer
import Testing

/// Jobs handed to a worker while their insert commits: what the worker is told, in either order.
@Suite struct PendingInsertsTests {
    static func committed(_ insert: PendingInserts.Insert) -> Bool? {
        if case .committed(let marked) = insert { return marked }
        return nil
    }

    @Test func aWorkerWaitsForTheInsertAndLearnsWhetherItStoredTheJobRunning() async {
        let inserts = PendingInserts()
        inserts.begin("a")
        inserts.storesRunning("a")
        #expect(inserts.tracks("a"))
        let waiting = Task { await inserts.insert(of: "a") }
        try? await Task.sleep(for: .milliseconds(20))
        inserts.end("a", committed: true)
        #expect(Self.committed(await waiting.value) == true)
        // Asked after the end: the same answer, once.
        inserts.begin("b")
        inserts.storesRunning("b")
        inserts.end("b", committed: true)
        #expect(Self.committed(await inserts.insert(of: "b")) == true)
        #expect(Self.committed(await inserts.insert(of: "b")) == false)
        #expect(!inserts.tracks("b"))
        // A job this node never inserted (recovered, retried): committed, not marked.
        #expect(Self.committed(await inserts.insert(of: "elsewhere")) == false)
    }

    @Test func aFailedInsertIsToldOnceAndASecondSubmissionOfTheSameIDRuns() async {
        let inserts = PendingInserts()
        // The worker waits, the insert fails: told so, and nothing is left behind.
        inserts.begin("line")
        let waiting = Task { await inserts.insert(of: "line") }
        try? await Task.sleep(for: .milliseconds(20))
        inserts.end("line", committed: false)
        #expect(Self.committed(await waiting.value) == nil)
        #expect(!inserts.tracks("line"))
        // The same id submitted again (a batch line retried after a 503) and committed: it runs.
        inserts.begin("line")
        inserts.end("line", committed: true)
        #expect(Self.committed(await inserts.insert(of: "line")) == false)
        // A failure nobody asked about yet is kept for its worker, and forgotten by a new submission.
        inserts.begin("other")
        inserts.end("other", committed: false)
        #expect(inserts.tracks("other"))
        inserts.begin("other")
        inserts.end("other", committed: true)
        #expect(Self.committed(await inserts.insert(of: "other")) == false)
    }
}
