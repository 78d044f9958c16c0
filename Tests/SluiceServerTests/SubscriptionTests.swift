import NIOCore
import SluiceCore
@testable import SluiceServer
import Synchronization
import Testing

/// A subscription hands its reader everything waiting at once, in order; it ends after what it holds,
/// and a cancelled reader ends it, once.
@Suite struct SubscriptionTests {
    static func chunk(_ seq: Int, terminal: Bool = false) -> StreamChunk {
        StreamChunk(seq: seq, event: terminal ? .done(finishReason: "stop", usage: Usage(promptTokens: 1, completionTokens: 1), cache: "miss") : .delta("w\(seq) "))
    }

    static func seqs(_ items: [StreamItem]) -> [Int] {
        items.map { if case .chunk(let chunk) = $0 { chunk.seq } else { 0 } }
    }

    @Test func whatWaitsIsTakenInOneBatchInOrderAndTheEndAfterIt() async {
        let subscription = Subscription()
        subscription.put(Self.chunk(1))
        subscription.put(.heartbeat)
        subscription.put(Self.chunk(2))
        subscription.put(Self.chunk(3, terminal: true))
        subscription.put(Self.chunk(4))
        #expect(Self.seqs(await subscription.nextBatch()) == [1, 0, 2, 3], "nothing after the terminal chunk")
        #expect(await subscription.nextBatch().isEmpty, "ended once what it held was taken")
    }

    @Test func aWaitingReaderGetsTheNextItemAndTheSequenceSkipsHeartbeats() async {
        let subscription = Subscription()
        let reader = Task { await subscription.nextBatch() }
        try? await Task.sleep(for: .milliseconds(50))
        subscription.put(Self.chunk(1))
        #expect(Self.seqs(await reader.value) == [1])
        subscription.put(.heartbeat)
        subscription.put(Self.chunk(2))
        subscription.put(.notice(ByteBuffer(string: ": queued\n\n")))
        subscription.finish()
        var seen: [Int] = []
        for await chunk in subscription { seen.append(chunk.seq) }
        #expect(seen == [2])
    }

    @Test func aCancelledReaderEndsTheSubscriptionAndItsEndingsRunOnce() async throws {
        let subscription = Subscription()
        let runs = Mutex(0)
        subscription.whenEnded { runs.withLock { $0 += 1 } }
        let reader = Task { await subscription.nextBatch() }
        try await Task.sleep(for: .milliseconds(50))
        reader.cancel()
        #expect(await reader.value.isEmpty)
        subscription.put(Self.chunk(1))
        subscription.finish()
        #expect(await subscription.nextBatch().isEmpty, "nothing is put in after the end")
        #expect(runs.withLock { $0 } == 1)
        let late = Mutex(false)
        subscription.whenEnded { late.withLock { $0 = true } }
        #expect(late.withLock { $0 }, "an action given after the end runs at once")
    }
}
