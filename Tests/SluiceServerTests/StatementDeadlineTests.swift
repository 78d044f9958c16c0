import Foundation
@testable import SluiceStore
import Testing

/// A PostgreSQL write left unanswered (PostgresNIO, when the connection closes as the statement goes out)
/// must not hold its caller for ever: past the deadline the caller is told the commit is unknown.
@Suite struct StatementDeadlineTests {
    struct Refused: Error, Equatable {}

    @Test func anUnansweredStatementEndsAsCommitUnknownAndItsLateAnswerIsDropped() async throws {
        let (answer, answering) = AsyncStream<Int>.makeStream()
        let started = Date()
        do {
            _ = try await StatementDeadline(seconds: 0.2).run {
                // An answer that comes long after the deadline, cancellation or not.
                for await value in answer { return value }
                return -1
            }
            Issue.record("an unanswered statement returned")
        } catch {
            #expect(StoreFailure.mayHaveCommitted(error), "\(error)")
            #expect(StoreFailure.isStoreError(error))
            #expect(String(describing: error).contains("no answer within 0.2 s"), "\(error)")
        }
        let waited = Date().timeIntervalSince(started)
        #expect(waited >= 0.2 && waited < 10, "\(waited) s")
        // The late answer reaches no one (a second resume would trap).
        answering.yield(7)
        answering.finish()
        try await Task.sleep(for: .milliseconds(50))
    }

    @Test func anAnswerOrAnErrorInTimeIsTheCallersAsItIs() async throws {
        let deadline = StatementDeadline(seconds: 5)
        #expect(try await deadline.run { 42 } == 42)
        await #expect(throws: Refused()) { try await deadline.run { throw Refused() } }
        // A statement that ends the moment it starts is answered once.
        for value in 0..<200 { #expect(try await deadline.run { value } == value) }
    }

    @Test func aCancelledCallerStopsWaitingAtOnceEvenForAStatementThatIgnoresIt() async throws {
        let (never, ending) = AsyncStream<Int>.makeStream()
        let caller = Task {
            try await StatementDeadline(seconds: 30).run {
                // Ignores cancellation, as an unanswered statement may: it ends only when the test ends it.
                await Task { for await value in never { return value }; return -1 }.value
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        let cancelled = Date()
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
        #expect(Date().timeIntervalSince(cancelled) < 5)
        ending.finish()
    }

    @Test func cancellingTheCallerCancelsTheStatement() async throws {
        let (cancelled, cancel) = AsyncStream<Bool>.makeStream()
        let caller = Task {
            try await StatementDeadline(seconds: 30).run {
                do {
                    try await Task.sleep(for: .seconds(60))
                } catch {
                    cancel.yield(true)
                    throw error
                }
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        caller.cancel()
        var iterator = cancelled.makeAsyncIterator()
        #expect(await iterator.next() == true, "the statement saw its caller's cancellation")
        await #expect(throws: CancellationError.self) { try await caller.value }
    }
}
