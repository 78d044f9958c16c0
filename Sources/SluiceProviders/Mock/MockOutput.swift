import Foundation
import SluiceCore

/// What the mock answers, as provider events: the deterministic words (or the script's text, or a JSON
/// object in JSON mode), a refusal, scripted tool calls with their arguments in fragments, log
/// probabilities when the request asks for them, and `n` choices — so tests and load runs exercise
/// every kind of output a real provider streams.
struct MockOutput {
    var events: [ProviderEvent] = []
    /// Tokens in the answer (one per event of text).
    var tokens = 0

    init(request: ChatRequest, script: MockScript, words: [String]) {
        let wantsLogprobs = request.extra["logprobs"] == .bool(true)
        let topLogprobs = min(20, max(0, request.extra["top_logprobs"]?.integer ?? 0))
        let pieces = Self.text(request: request, script: script, words: words).wordPieces
        if let refusal = script.refusal {
            for piece in refusal.wordPieces { events.append(.choice(ChoiceDelta(index: 0, delta: ["refusal": .string(piece)]))) }
            tokens = events.count
        } else if script.toolCalls?.isEmpty == false, script.text == nil {
            // A call instead of an answer: no text.
        } else {
            for (position, piece) in pieces.enumerated() {
                if wantsLogprobs {
                    events.append(.choice(ChoiceDelta(
                        index: 0, delta: ["content": .string(piece)], logprobs: Self.logprobs(piece, position: position, top: topLogprobs))))
                } else {
                    events.append(.delta(piece))
                }
            }
            tokens = pieces.count
        }
        let chunk = max(1, script.argumentChunk ?? 8)
        for (call, tool) in (script.toolCalls ?? []).enumerated() {
            let start: JSONValue = [
                "index": .int(Int64(call)), "id": .string("call_mock_\(call)"), "type": "function",
                "function": ["name": .string(tool.name), "arguments": ""],
            ]
            events.append(.choice(ChoiceDelta(index: 0, delta: ["tool_calls": [start]])))
            var rest = Substring(tool.arguments)
            while !rest.isEmpty {
                let fragment = rest.prefix(chunk)
                rest = rest.dropFirst(chunk)
                events.append(.choice(ChoiceDelta(index: 0, delta: ["tool_calls": [["index": .int(Int64(call)), "function": ["arguments": .string(String(fragment))]]]])))
                tokens += 1
            }
        }
        // Further choices (`n` > 1): the same answer, each ending on its own.
        for choice in 1..<max(1, min(request.n ?? 1, 8)) {
            for piece in pieces { events.append(.choice(ChoiceDelta(index: choice, delta: ["content": .string(piece)]))) }
            events.append(.choice(ChoiceDelta(index: choice, delta: [:], finishReason: "stop")))
        }
    }

    /// The answer's text: the script's, a JSON object in JSON mode, or the words.
    static func text(request: ChatRequest, script: MockScript, words: [String]) -> String {
        if let text = script.text { return text }
        let format = request.extra["response_format"]?["type"]?.string
        if format == "json_object" || format == "json_schema" {
            let object: JSONValue = ["answer": .string(words.joined(separator: " "))]
            return (try? JSONEncoder().encode(object)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        }
        return words.joined(separator: " ")
    }

    /// Log probabilities of one token, deterministic: the token itself and `top` alternatives.
    static func logprobs(_ token: String, position: Int, top: Int) -> JSONValue {
        let logprob = -0.01 * Double(position % 7 + 1)
        let alternatives: [JSONValue] = (0..<top).map { rank in
            ["token": .string(rank == 0 ? token : token + "\(rank)"), "logprob": .double(logprob - Double(rank)), "bytes": .array(Array(token.utf8).map { .int(Int64($0)) })]
        }
        return ["content": [[
            "token": .string(token), "logprob": .double(logprob), "bytes": .array(Array(token.utf8).map { .int(Int64($0)) }),
            "top_logprobs": .array(alternatives),
        ]]]
    }
}
