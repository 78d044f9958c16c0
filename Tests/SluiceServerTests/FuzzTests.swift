import AsyncHTTPClient
import Foundation
import PropertyBased
import SluiceCache
import SluiceCore
@testable import SluiceProviders
@testable import SluiceServer
import SluiceTesting
import Testing

/// Property-based fuzzing of what reads input from outside: the chat request decoder and its checks
/// (and everything a checked request then reaches: the cache key, the providers' bodies), the SSE
/// parser, and the configuration reader. Thousands of generated cases per run, from a seed that a
/// failure prints (`.fixedSeed(…)` replays it). None may trap; each either refuses with an error or
/// yields something usable. Each case starts with `Task.yield()`: thousands of cases in a row would
/// otherwise hold a thread of the two-thread cooperative pool for seconds, starving the nodes other tests
/// run in this process (a job of the full-disk test once waited 30 s for a thread).
@Suite struct FuzzTests {
    // MARK: Generators

    typealias AnyGen = Generator<String, AnySequence<(index: Int, value: Any)>>

    /// One of `values`.
    static func pick(_ values: [String]) -> AnyGen {
        let chosen: Generator<String, Shrink.None<String?>> = Gen<String?>.element(of: values).map { $0! }
        return Gen<String>.oneOf(chosen)
    }

    /// Numbers a hostile or careless client sends: edges, huge, negative, fractional.
    static let number: AnyGen = {
        let small: Generator<String, Shrink.Integer<Int>> = Gen.int(in: -5...5).map { String($0) }
        let any: Generator<String, Shrink.Integer<Int>> = Gen.int(in: Int.min...Int.max).map { String($0) }
        let double: Generator<String, Shrink.Floating<Double>> = Gen.double(in: -1e300...1e300).map { String($0) }
        let edges = pick(["0", "-0", "1e300", "-1e300", "9223372036854775807", "9223372036854775808", "-9223372036854775809", "0.5", "1.0", "2.000001", "1e-320"])
        return Gen<String>.oneOf(small, any, double, edges)
    }()

    /// Strings with control characters, quotes, escapes, Mongolian and emoji, as JSON text.
    static let text: AnyGen = {
        let plain = Gen<Character>.letterOrNumber.string(of: 0...12)
        let odd = pick(["", "hi", "\\u0000", "\\n", "\\\"", "тэгшитгэл", "🤖", "\\ud800", String(repeating: "x", count: 300)])
        let quoted = Gen<String>.oneOf(plain, odd).map { "\"" + $0 + "\"" }
        return Gen<String>.oneOf(quoted)
    }()

    static let leaf: AnyGen = Gen<String>.oneOf(number, text, pick(["true", "false", "null"]))

    /// Any JSON value, a few levels deep.
    static func value(depth: Int) -> AnyGen {
        guard depth > 0 else { return leaf }
        let inner = value(depth: depth - 1)
        let array = inner.array(of: 0...3).map { (items: [String]) -> String in "[" + items.joined(separator: ",") + "]" }
        let members = zip(pick(["type", "text", "url", "image_url", "function", "name", "arguments", "index", "x"]), inner).array(of: 0...3)
        let object = members.map { (pairs: [(String, String)]) -> String in
            "{" + pairs.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
        }
        return Gen<String>.oneOf(leaf, array, object)
    }

    static let fields = [
        "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "user", "mock",
        "tools", "tool_choice", "response_format", "stop", "seed", "frequency_penalty", "presence_penalty", "logit_bias", "logprobs",
        "top_logprobs", "parallel_tool_calls", "metadata", "anything",
    ]

    /// A message: a known or unknown role, any content, sometimes tool calls.
    static let message: AnyGen = {
        let parts = zip(pick(["user", "system", "assistant", "tool", "developer", "wizard"]), value(depth: 2), value(depth: 2))
        let message = parts.map { (role: String, content: String, extra: String) -> String in
            "{\"role\":\"\(role)\",\"content\":\(content),\"tool_calls\":\(extra),\"tool_call_id\":\(extra)}"
        }
        return Gen<String>.oneOf(message)
    }()

    /// A chat request body: mostly the right shape, with any values.
    static let body: AnyGen = {
        let extra = zip(pick(fields), value(depth: 2)).array(of: 0...6)
        let parts = zip(pick(["default", "mock", "claude", "", "nope"]), message.array(of: 0...3), extra)
        let body = parts.map { (model: String, messages: [String], extra: [(String, String)]) -> String in
            "{\"model\":\"\(model)\",\"messages\":[" + messages.joined(separator: ",") + "]"
                + extra.map { ",\"\($0.0)\":\($0.1)" }.joined() + "}"
        }
        return Gen<String>.oneOf(body)
    }()

    /// A chat request body shaped as clients send them: typed fields mostly of their own kind, text or
    /// part-list contents, a name, a mock script; sometimes a value of another kind anywhere.
    static let shapedBody: AnyGen = {
        let odd = value(depth: 1)
        func field(_ name: String, _ kind: AnyGen) -> AnyGen {
            Gen<String>.oneOf(kind, kind, kind, odd, pick(["null"])).map { ",\"\(name)\":\($0)" }
        }
        func maybe(_ field: AnyGen) -> AnyGen { Gen<String>.oneOf(field, pick([""])) }
        let part = Gen<String>.oneOf(
            text.map { "{\"type\":\"text\",\"text\":\($0)}" }, text.map { "{\"type\":\"image_url\",\"image_url\":{\"url\":\($0)}}" }, odd)
        let content = Gen<String>.oneOf(text, text, part.array(of: 0...3).map { "[" + $0.joined(separator: ",") + "]" }, odd)
        let message = zip(pick(["user", "system", "assistant", "tool"]), content, maybe(field("name", text)), maybe(field("tool_call_id", odd)))
            .map { (role: String, content: String, name: String, other: String) -> String in
                "{\"role\":\"\(role)\",\"content\":\(content)\(name)\(other)}"
            }
        let bool = pick(["true", "false"])
        let call = zip(text, text).map { "{\"name\":\($0),\"arguments\":\($1)}" }
        let script = Gen<String>.oneOf(zip(maybe(field("tokens", number)), maybe(field("tokens_per_second", number)), maybe(field("text", text)),
                         maybe(field("tool_calls", Gen<String>.oneOf(call.array(of: 0...2).map { "[" + $0.joined(separator: ",") + "]" }))))
            .map { (a: String, b: String, c: String, d: String) -> String in "{\"ttft_ms\":0" + a + b + c + d + "}" })
        let typed = zip(
            zip(maybe(field("stream", bool)), maybe(field("max_tokens", number)), maybe(field("temperature", number)), maybe(field("n", number))),
            zip(maybe(field("user", text)), maybe(field("stream_options", bool.map { "{\"include_usage\":\($0)}" })), maybe(field("mock", script)),
                maybe(field("seed", number))))
        return Gen<String>.oneOf(zip(pick(["default", "mock"]), message.array(of: 1...3), typed).map { (model: String, messages: [String], typed) -> String in
            let ((a, b, c, d), (e, f, g, h)) = typed
            return "{\"model\":\"\(model)\",\"messages\":[" + messages.joined(separator: ",") + "]" + a + b + c + d + e + f + g + h + "}"
        })
    }()

    static let router: ProviderRouter = {
        let mock = MockProvider()
        var anthropic = Deployment(name: "claude", kind: .anthropic, baseURL: "http://127.0.0.1:9", model: "claude")
        anthropic.maxInFlight = 1
        return try! ProviderRouter(
            aliases: [ModelAlias(name: "default", deployments: ["mock"]), ModelAlias(name: "mock", deployments: ["mock"]), ModelAlias(name: "claude", deployments: ["claude"])],
            deployments: [
                "mock": (Deployment(name: "mock", kind: .mock, model: "mock"), mock),
                "claude": (anthropic, AnthropicProvider(client: .shared, deployment: anthropic)),
            ])
    }()

    // MARK: Properties

    /// The one-pass JSON parser that reads providers' chunks gives what `JSONDecoder` gives for any text,
    /// well formed or cut short, and refuses what it refuses.
    @Test func theJSONParserAgreesWithJSONDecoder() async {
        let cut = zip(Self.value(depth: 3), Gen.int(in: 0...40), Self.pick(["", " ", "}", "]", ",", "\"", "x", "\\"]))
        var agreed = 0
        await propertyCheck(count: 3000, input: cut) { text, trim, junk in
            await Task.yield()
            // Most cases whole; some cut short or with a stray character.
            let sample = trim > 30 ? String(text.dropLast(trim - 30)) + junk : text
            let data = Data(sample.utf8)
            let decoded = try? JSONDecoder().decode(JSONValue.self, from: data)
            // One known difference: -2^63 is an integer here, where JSONDecoder's integer reader overflows
            // and falls back to a double.
            let parsed = (try? JSONValue.parse(data)).map(Self.int64MinAsDouble)
            // The other: the discarded value of a name given twice, which JSONDecoder never reads (a lone
            // surrogate in it, a number cut short like `-1e`), is refused here.
            let named = ["type", "text", "url", "image_url", "function", "name", "arguments", "index", "x"]
            let repeated = named.contains { sample.components(separatedBy: "\"\($0)\":").count > 2 }
            let skipped = parsed == nil && decoded != nil && repeated
            #expect(parsed == decoded || skipped, "\(sample)")
            if parsed == decoded { agreed += 1 }
        }
        #expect(agreed > 0)
        // And some by hand: escapes, surrogate pairs, numbers at the edges, nesting.
        let cases = [
            #"{"a": "\u00e9\ud83e\udd16\n\t\/", "b": [1, 1.0, 1.5, -0, 1e2, 1E-2, 9223372036854775807, 9223372036854775808]}"#,
            #"  [true, false, null, {}, [], ""]  "#, #"{"a":1,}"#, #"[1,]"#, #"[1,,]"#, #"{"a":"","a":"x"}"#, #"[1 2]"#, #"01"#, #"1."#, #"-"#, #""\x""#, #""\ud800""#, "\"a\u{1}b\"",
            String(repeating: "[", count: 600) + String(repeating: "]", count: 600), #"{"тэгшитгэл": "🤖"}"#, "",
        ]
        for sample in cases {
            let data = Data(sample.utf8)
            #expect((try? JSONValue.parse(data)) == (try? JSONDecoder().decode(JSONValue.self, from: data)), "\(sample)")
        }
    }

    static func int64MinAsDouble(_ request: ChatRequest) -> ChatRequest {
        var request = request
        request.extra = request.extra.mapValues(int64MinAsDouble)
        request.messages = request.messages.map { message in
            var message = message
            message.extra = message.extra.mapValues(int64MinAsDouble)
            if case .parts(let parts) = message.body { message.body = .parts(parts.map(int64MinAsDouble)) }
            return message
        }
        return request
    }

    static func int64MinAsDouble(_ value: JSONValue) -> JSONValue {
        switch value {
        case .int(Int64.min): .double(Double(Int64.min))
        case .array(let values): .array(values.map(int64MinAsDouble))
        case .object(let members): .object(members.mapValues(int64MinAsDouble))
        default: value
        }
    }

    /// A request read in one pass (`ChatRequest(json:)`) is what `JSONDecoder` reads, and a body it is not
    /// sure of is left to `JSONDecoder` (whose errors name the field): never a different request.
    @Test func theOnePassRequestReaderAgreesWithJSONDecoder() async {
        var read = 0
        var left = 0
        await propertyCheck(count: 3000, input: Gen<String>.oneOf(Self.body, Self.shapedBody, Self.shapedBody)) { body in
            await Task.yield()
            let data = Data(body.utf8)
            let decoded = try? JSONDecoder().decode(ChatRequest.self, from: data)
            guard let json = try? JSONValue.parse(data), let fast = ChatRequest(json: json) else {
                if decoded != nil { left += 1 }
                return
            }
            read += 1
            // The parser's one difference: −2^63 in a field passed through stays an integer.
            #expect(Self.int64MinAsDouble(fast) == decoded, "\(body)")
            #expect((try? ChatRequest.read(data)).map(Self.int64MinAsDouble) == decoded)
        }
        // Most well-shaped requests take the one pass; what it leaves, JSONDecoder still reads.
        #expect(read > 200 && read > 10 * left, "\(read) read in one pass, \(left) left to JSONDecoder")
    }

    /// A stream's chunk written without `JSONEncoder` (`ChatCompletionChunk.json`, `JSONWriter`) reads as
    /// what `JSONEncoder` writes: any choices, any text (quotes, control characters, Mongolian, emoji),
    /// with and without usage, fingerprint and Sluice's extension; and any value written with its keys
    /// sorted reads as itself.
    @Test func aChunkWrittenWithoutJSONEncoderReadsAsWhatJSONEncoderWrites() async {
        var compared = 0
        await propertyCheck(count: 3000, input: Self.value(depth: 3), Self.text, Gen.int(in: 0...7)) { choice, quotedText, flags in
            await Task.yield()
            guard let choice = try? JSONValue.parse(Data(choice.utf8)), let text = (try? JSONValue.parse(Data(quotedText.utf8)))?.string else { return }
            var chunk = ChatCompletionChunk(id: "chatcmpl-\(text)", created: Date(timeIntervalSince1970: 1_800_000_000), model: text, choices: [choice, choice])
            if flags & 1 != 0 { chunk.usage = Usage(json: ["prompt_tokens": 12, "completion_tokens": 30, "prompt_tokens_details": choice]) }
            if flags & 2 != 0 { chunk.systemFingerprint = text }
            if flags & 4 != 0 { chunk.sluice = .init(cache: text, queueMs: 1234) }
            let encoded = try JSONEncoder().encode(chunk)
            #expect(try JSONValue.parse(Data(chunk.json)) == JSONValue.parse(encoded), "\(String(decoding: chunk.json, as: UTF8.self))")
            // Any value, its members in their keys' order (what events and error bodies are written with).
            let sorted = JSONWriter.bytes(of: choice, sortsKeys: true)
            #expect(try JSONValue.parse(Data(sorted)) == choice, "\(String(decoding: sorted, as: UTF8.self))")
            compared += 1
        }
        #expect(compared > 1000, "\(compared) chunks compared")
    }

    @Test func theRequestDecoderNeverTrapsAndWhatItAcceptsIsUsable() async {
        let configuration = SluiceConfiguration()
        var accepted = 0
        await propertyCheck(count: 3000, input: Self.body) { body in
            await Task.yield()
            guard let request = try? JSONDecoder().decode(ChatRequest.self, from: Data(body.utf8)) else { return }
            do {
                try request.validate(configuration: configuration, router: Self.router, anyModel: false)
            } catch {
                #expect(error is SluiceError, "\(error)")
                return
            }
            accepted += 1
            // Whatever passed the checks reaches the key, the size guards and the providers without trapping.
            #expect(CacheKey.exact(request, tenant: "t", namespace: "").count == 64)
            _ = request.promptBytes + request.estimatedPromptTokens
            _ = request.isPlainText
            _ = HTTPCall.post(url: "http://127.0.0.1/", headers: [], json: OpenAICompatibleProvider.body(request, model: "m", stream: true))
            _ = try? AnthropicMapping(request: request).body(model: "m", stream: true)
            // A request survives being stored and read back.
            let stored = try? JSONDecoder().decode(ChatRequest.self, from: JSONEncoder().encode(request))
            #expect(stored == request)
        }
        #expect(accepted > 0, "no generated request passed the checks: the generator only tests refusals")
    }

    @Test func arbitraryBytesNeverTrapTheDecoder() async {
        await propertyCheck(count: 2000, input: Gen.uint8().array(of: 0...200), Self.body) { bytes, body in
            await Task.yield()
            // Random bytes, and a valid-looking body cut or spliced with them.
            let cut = Array(body.utf8).prefix(bytes.count)
            for data in [Data(bytes), Data(cut + bytes)] {
                if let request = try? JSONDecoder().decode(ChatRequest.self, from: data) {
                    _ = try? request.validate(configuration: SluiceConfiguration(), router: Self.router, anyModel: false)
                }
            }
        }
    }

    @Test func theSSEParserGivesTheSameEventsHoweverTheBytesAreSplit() async {
        let data = Gen<Character>.letterOrNumber.string(of: 0...20).map { "data: " + $0 }
        let line: AnyGen = Gen<String>.oneOf(
            Self.pick(["data: {}", "data: [DONE]", "id: 7", "event: delta", ": heartbeat", "retry: 3000", "retry: x", "data:", "", "bogus"]), data)
        let ending = Self.pick(["\n", "\r\n", "\r"])
        let stream = zip(line, ending).array(of: 0...30).map { (lines: [(String, String)]) -> String in lines.map { $0.0 + $0.1 }.joined() }
        await propertyCheck(count: 3000, input: stream, Gen.int(in: 1...8)) { text, pieces in
            await Task.yield()
            var whole = SSEParser()
            let expected = whole.feed(text)
            var parser = SSEParser()
            var items: [SSEParser.Item] = []
            let bytes = Array(text.utf8)
            let size = max(1, bytes.count / pieces)
            var start = 0
            while start < bytes.count {
                items += parser.feed(bytes[start..<min(bytes.count, start + size)])
                start += size
            }
            #expect(items == expected)
        }
    }

    @Test func theConfigurationReaderNeverTrapsAndExplainsEveryRefusal() async throws {
        let keys = [
            "server.port", "server.host", "server.maxBodyBytes", "server.idleTimeoutSeconds", "queue.workers", "queue.maxAttempts",
            "queue.deadlineSeconds", "cluster.leaseSeconds", "cache.ttlSeconds", "cache.semantic.namespaceThreshold",
            "providers.maxRetryAfterSeconds", "limits.maxTokens", "plans.free.requestsPerMinute", "plans.free.reconnectsPerMinute",
            "tiers.highAt", "calendar.timeZone", "calendar.peakHours", "deployments.names", "models.aliases", "server.prot",
        ]
        let words = Self.pick(["true", "no", "~", "[]", "[a, b]", "\"Asia/Ulaanbaatar\"", "Mars/Olympus", "\"17:00-21:00\"", "25:99-x", "{}"])
        let yamlValue: AnyGen = Gen<String>.oneOf(Self.number, words)
        let file = zip(Self.pick(keys), yamlValue).array(of: 0...6)
        let folder = TemporaryDirectory.make()
        var count = 0
        await propertyCheck(count: 400, input: file) { entries in
            await Task.yield()
            count += 1
            // Nested YAML from dotted keys (a later duplicate key wins).
            var tree: [String: Any] = [:]
            for (key, value) in entries {
                let parts = key.split(separator: ".").map(String.init)
                func put(_ node: inout [String: Any], _ path: ArraySlice<String>) {
                    guard let first = path.first else { return }
                    if path.count == 1 { node[first] = value; return }
                    var child = node[first] as? [String: Any] ?? [:]
                    put(&child, path.dropFirst())
                    node[first] = child
                }
                put(&tree, parts[...])
            }
            func yaml(_ node: [String: Any], indent: String) -> String {
                node.keys.sorted().map { key in
                    if let child = node[key] as? [String: Any] { return "\(indent)\(key):\n" + yaml(child, indent: indent + "  ") }
                    return "\(indent)\(key): \(node[key] as? String ?? "")\n"
                }.joined()
            }
            let path = folder + "/config-\(count).yaml"
            try? yaml(tree, indent: "").write(toFile: path, atomically: true, encoding: .utf8)
            let check = await SluiceConfiguration.check(configFile: path, environment: [:])
            for problem in check.problems { #expect(!problem.keyPath.isEmpty && !problem.message.isEmpty) }
            #expect(check.isValid == check.problems.isEmpty)
        }
    }
}
