import Foundation
import PropertyBased
import SluiceCore
import SluiceStore
import Testing

/// What the stores write through `StreamingJSONEncoder`, held to `JSONEncoder`'s JSON with the fuzzing
/// generators of `FuzzTests`.
extension FuzzTests {
    /// What the stores write with `StreamingJSONEncoder` — a job in any state with every optional part
    /// present or not, each kind of stream event, a cached answer — and a whole answer's body is the JSON
    /// `JSONEncoder` writes, and `JSONDecoder` reads the job back as the job it read before.
    @Test func whatTheStoresWriteIsWhatJSONEncoderWrites() async {
        var compared = 0
        let instant = Gen.double(in: -1e10...1e10)
        await propertyCheck(count: 5000, input: Self.shapedBody, Self.value(depth: 2), Self.text, Gen.int(in: 0...4095), instant) { body, valueText, quotedText, flags, time in
            await Task.yield()
            guard let request = try? JSONDecoder().decode(ChatRequest.self, from: Data(body.utf8)),
                  let value = try? JSONValue.parse(Data(valueText.utf8)), let text = (try? JSONValue.parse(Data(quotedText.utf8)))?.string
            else { return }
            let job = Self.job(request: request, value: value, text: text, flags: flags, time: time)
            let written = try StreamingJSONEncoder().encode(job)
            #expect(try JSONValue.parse(written) == JSONValue.parse(JSONEncoder().encode(job)), "\(String(decoding: written, as: UTF8.self))")
            // Read back, it is the job that was read back before.
            let read = try JSONDecoder().decode(Job.self, from: written), before = try JSONDecoder().decode(Job.self, from: JSONEncoder().encode(job))
            #expect(try JSONValue.parse(JSONEncoder().encode(read)) == JSONValue.parse(JSONEncoder().encode(before)))
            let usage = Usage(json: ["prompt_tokens": .int(Int64(flags)), "completion_tokens": 3, "details": value])
            let events: [StreamEvent] = [
                .delta(text), .choice(ChoiceDelta(index: flags, delta: ["content": value], logprobs: value, finishReason: text)), .reset,
                .done(finishReason: text, usage: usage, cache: text, queueMs: flags & 1 == 0 ? nil : flags, fingerprint: flags & 2 == 0 ? nil : text),
                .error(code: text, message: text),
            ]
            for event in events {
                let chunk = StreamChunk(seq: flags, event: event)
                #expect(try JSONValue.parse(StreamingJSONEncoder().encode(chunk)) == JSONValue.parse(JSONEncoder().encode(chunk)))
            }
            var entry = CacheEntry(
                key: text, tenant: text, model: request.model, namespace: text, tags: [text, ""], text: text, finishReason: text, usage: usage,
                createdAt: Date(timeIntervalSince1970: time), expiresAt: Date(timeIntervalSince1970: time + 3600))
            (entry.pieces, entry.fingerprint, entry.semantic) = (job.result?.pieces, job.result?.fingerprint, job.cache?.semantic)
            #expect(try JSONValue.parse(StreamingJSONEncoder().encode(entry)) == JSONValue.parse(JSONEncoder().encode(entry)))
            // A whole answer, as a non-streamed completion's body is written.
            var answer = AnswerAssembly()
            for event in events.dropLast(2) { answer.add(event) }
            let whole = ChatCompletion(
                id: text, created: Date(timeIntervalSince1970: time), model: request.model, answer: answer, finishReason: text, usage: usage,
                fingerprint: flags & 16 == 0 ? nil : text)
            #expect(try JSONValue.parse(StreamingJSONEncoder().encode(whole)) == JSONValue.parse(JSONEncoder().encode(whole)))
            compared += 1
        }
        #expect(compared > 500, "\(compared) jobs compared")
    }

    /// A job with each optional part present when its bit in `flags` is set.
    static func job(request: ChatRequest, value: JSONValue, text: String, flags: Int, time: Double) -> Job {
        let at = Date(timeIntervalSince1970: time)
        var job = Job(id: "job_\(text)", owner: Principal(tenant: text, user: text), priority: flags & 1 == 0 ? .interactive : .bypass, request: request,
                      createdAt: at, deadline: at.addingTimeInterval(time / 7))
        job.state = JobState.allCases[flags % JobState.allCases.count]
        job.attempt = flags
        if flags & 2 != 0 {
            job.origin = flags & 4 != 0
                ? .response(ResponseDetails(instructions: text, previousResponseID: nil, metadata: Dictionary([("k", ""), (text, text)], uniquingKeysWith: { $1 }), store: true, background: false, inputCount: flags))
                : .message
        } else if flags & 4 != 0 {
            job.origin = .chat
        }
        if flags & 8 != 0 { job.trace = ["traceparent": text, "tracestate": ""] }
        if flags & 16 != 0 { (job.startedAt, job.finishedAt, job.notBefore) = (at, at.addingTimeInterval(0.001), at.addingTimeInterval(-time)) }
        if flags & 32 != 0 {
            let piece = ChoiceDelta(index: 1, delta: ["tool_calls": value, "refusal": .string(text)], logprobs: flags & 64 == 0 ? nil : value, finishReason: text)
            job.result = JobResult(text: text, finishReason: "stop", usage: Usage(json: ["prompt_tokens": 7, "completion_tokens": .int(Int64(flags)), "x": value]),
                                   cost: flags & 64 == 0 ? nil : time / 3, pieces: [piece], fingerprint: text)
        }
        if flags & 128 != 0 { job.failure = JobFailure(code: text, message: text) }
        if flags & 256 != 0 { (job.deployment, job.tried, job.callback) = (text, [text, "b"], "https://example.org/\(flags)") }
        if flags & 512 != 0 { job.reservation = AdmissionLedger.Reservation(user: text, day: "2026-12-02", tokens: flags, at: at, id: job.id) }
        if flags & 1024 != 0 {
            var plan = CachePlan(key: text, namespace: text, tags: [text], store: flags & 1 == 0, servedFrom: flags & 64 == 0 ? nil : "exact")
            plan.semantic = SemanticKey(embedder: text, partition: text, vector: [0.1, -1e-7, 3.4028235e38, Float(time), 1, 0], terms: flags & 64 == 0 ? nil : [text])
            job.cache = plan
        }
        if flags & 2048 != 0 { (job.node, job.fence) = (text, flags) }
        return job
    }

    /// A conformance that fills its containers out of turn, or asks for a super-encoder, is refused by
    /// `StreamingJSONEncoder` rather than written wrong; a number that is not JSON is refused as
    /// `JSONEncoder` refuses it.
    @Test func theStreamingEncoderRefusesWhatItCannotWriteInTurn() throws {
        struct Interleaved: Encodable {
            func encode(to encoder: any Encoder) throws {
                var outer = encoder.container(keyedBy: AnyKey.self)
                var first = outer.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey("a"))
                try outer.encode(1, forKey: AnyKey("b"))
                try first.encode(2, forKey: AnyKey("c"))
            }
        }
        struct Super: Encodable {
            func encode(to encoder: any Encoder) throws {
                var outer = encoder.container(keyedBy: AnyKey.self)
                try "x".encode(to: outer.superEncoder())
            }
        }
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder().encode(Interleaved()) }
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder().encode(Super()) }
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder().encode(["x": Double.nan]) }
        // One value asking for a second container (JSONEncoder merges them), and a conformance going on
        // after an error it caught, whose key was written already.
        struct TwoContainers: Encodable {
            func encode(to encoder: any Encoder) throws {
                var first = encoder.container(keyedBy: AnyKey.self)
                try first.encode(1, forKey: AnyKey("x"))
                var second = encoder.container(keyedBy: AnyKey.self)
                try second.encode(2, forKey: AnyKey("y"))
            }
        }
        struct Swallowed: Encodable {
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: AnyKey.self)
                try? container.encode(Double.nan, forKey: AnyKey("a"))
                try container.encode(1, forKey: AnyKey("b"))
            }
        }
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder().encode(TwoContainers()) }
        #expect(throws: EncodingError.self) { try StreamingJSONEncoder().encode([Swallowed()]) }
        // Filled in turn, a nested container before its parent's next member is what JSONEncoder writes.
        struct InTurn: Encodable {
            func encode(to encoder: any Encoder) throws {
                var outer = encoder.container(keyedBy: AnyKey.self)
                var first = outer.nestedUnkeyedContainer(forKey: AnyKey("a"))
                try first.encode(2)
                try first.encodeNil()
                try outer.encode(Data([1, 2, 250]), forKey: AnyKey("b"))
                try outer.encode(URL(string: "https://example.org/a?b=c")!, forKey: AnyKey("c"))
                try outer.encode(UInt64.max, forKey: AnyKey("d"))
            }
        }
        #expect(try JSONValue.parse(StreamingJSONEncoder().encode(InTurn())) == JSONValue.parse(JSONEncoder().encode(InTurn())))
    }
}
