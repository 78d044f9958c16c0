import Foundation
import SluiceCore
import Synchronization

/// The output of one running attempt: its answer so far, and the chunks not yet durable. Chunks are flushed in
/// batches: at most `flushCount` chunks, or once the oldest waited `flushDelay`.
final class Attempt: Sendable {
    /// Most chunks delivered to subscribers but not yet durable. After a crash, a re-run starts numbering
    /// this far past the last durable chunk, so no sequence number is ever used twice.
    static let flushCount = 64
    static let flushDelay: TimeInterval = 0.25

    private struct State {
        var answer = AnswerAssembly()
        var pending: [StreamChunk] = []
        var oldestPending: Date?
        var produced = false
        var lastOutput: Date?
    }

    private let state = Mutex(State())

    /// Records a delivered piece of the answer (text, tool calls, …); returns true when a flush is due.
    func add(output chunk: StreamChunk, now: Date = Date()) -> Bool {
        state.withLock { state in
            state.answer.add(chunk.event)
            state.produced = true
            state.lastOutput = now
            return Self.append(chunk, to: &state, now: now)
        }
    }

    /// Records a delivered chunk that is not text (a reset).
    func add(_ chunk: StreamChunk) {
        state.withLock { state in _ = Self.append(chunk, to: &state, now: Date()) }
    }

    private static func append(_ chunk: StreamChunk, to state: inout State, now: Date) -> Bool {
        state.pending.append(chunk)
        if state.oldestPending == nil { state.oldestPending = now }
        return state.pending.count >= flushCount || now.timeIntervalSince(state.oldestPending!) >= flushDelay
    }

    /// The chunks not yet durable.
    var pending: [StreamChunk] { state.withLock { $0.pending } }

    /// Marks chunks up to `seq` durable.
    func flushed(through seq: Int) {
        state.withLock { state in
            state.pending.removeAll { $0.seq <= seq }
            state.oldestPending = state.pending.isEmpty ? nil : Date()
        }
    }

    /// The answer so far.
    var answer: AnswerAssembly { state.withLock { $0.answer } }

    /// Choice 0's text so far.
    var text: String { state.withLock { $0.answer.text } }

    /// When the last output arrived.
    var lastOutput: Date? { state.withLock { $0.lastOutput } }

    /// Whether any output reached subscribers.
    var produced: Bool { state.withLock { $0.produced } }
}
