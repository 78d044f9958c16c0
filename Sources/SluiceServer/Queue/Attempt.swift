import Foundation
import SluiceCore
import Synchronization

/// The output of one running attempt: its text, and the chunks not yet durable. Chunks are flushed in
/// batches: at most `flushCount` chunks, or once the oldest waited `flushDelay`.
final class Attempt: Sendable {
    /// Most chunks delivered to subscribers but not yet durable. After a crash, a re-run starts numbering
    /// this far past the last durable chunk, so no sequence number is ever used twice.
    static let flushCount = 64
    static let flushDelay: TimeInterval = 0.25

    private struct State {
        var text = ""
        var pending: [StreamChunk] = []
        var oldestPending: Date?
        var produced = false
        var lastOutput: Date?
    }

    private let state = Mutex(State())

    /// Records a delivered delta; returns true when a flush is due.
    func add(_ chunk: StreamChunk, text: String, now: Date = Date()) -> Bool {
        state.withLock { state in
            state.text += text
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

    /// The text so far.
    var text: String { state.withLock { $0.text } }

    /// When the last text arrived.
    var lastOutput: Date? { state.withLock { $0.lastOutput } }

    /// Whether any text reached subscribers.
    var produced: Bool { state.withLock { $0.produced } }
}
