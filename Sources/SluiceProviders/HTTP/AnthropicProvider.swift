public import AsyncHTTPClient
import Foundation
public import SluiceCore

/// A provider that speaks Anthropic's Messages API, mapped to and from the OpenAI schema
/// (`AnthropicMapping` says what maps and what is refused). The system prompt (the static prefix) is
/// sent with `cache_control`, so Anthropic's prompt caching applies.
public struct AnthropicProvider: Provider {
    let client: HTTPClient
    let deployment: Deployment
    /// The `max_tokens` sent when the request sets none (Anthropic requires one).
    public static let defaultMaxTokens = AnthropicMapping.defaultMaxTokens

    /// - Parameters:
    ///   - client: the deployment's HTTP client.
    ///   - deployment: where and how.
    public init(client: HTTPClient, deployment: Deployment) {
        self.client = client
        self.deployment = deployment
    }

    public func unsupported(_ request: ChatRequest) -> (field: String, reason: String)? {
        AnthropicMapping(request: request).unsupported().map { ($0.field, $0.reason) }
    }

    public func stream(_ request: ChatRequest, upstreamModel: String) -> AsyncThrowingStream<ProviderEvent, any Error> {
        let call: HTTPCall
        let mapping = AnthropicMapping(request: request)
        do {
            var headers: [(String, String)] = [("anthropic-version", "2023-06-01")]
            if let key = deployment.apiKey, !key.isEmpty { headers.append(("x-api-key", key)) }
            let url = deployment.baseURL.trimmingSuffix("/") + "/v1/messages"
            let body = try mapping.body(model: upstreamModel, stream: deployment.streaming)
            call = HTTPCall(
                client: client, request: HTTPCall.post(url: url, headers: headers, json: body), deployment: deployment,
                decoder: AnthropicDecoder(schemaTool: mapping.schemaTool))
        } catch let error as AnthropicMapping.Unsupported {
            let failure = ProviderError(.status, status: 400, reason: "'\(error.field)' cannot be sent to Anthropic: \(error.reason)")
            return AsyncThrowingStream { $0.finish(throwing: failure) }
        } catch {
            return AsyncThrowingStream { $0.finish(throwing: ProviderError(.malformed, reason: "the request could not be mapped")) }
        }
        return AsyncThrowingStream(unfolding: { try await call.next() })
    }
}

/// Anthropic's message stream (`message_start`, `content_block_start`, `content_block_delta`,
/// `message_delta`, `message_stop`) and message object, in OpenAI's terms: text blocks as text,
/// `tool_use` blocks as tool calls (their input's JSON as argument fragments), the forced schema tool's
/// input as the answer's text.
struct AnthropicDecoder: HTTPCall.Decoder {
    /// The tool whose input is the answer (a JSON-schema response format), if any.
    let schemaTool: String?
    var finished = false
    var inputTokens = 0
    var cachedTokens = 0
    var outputTokens = 0
    var stopReason: String?
    /// Content block → tool call number, for `tool_use` blocks.
    var toolBlocks: [Int: Int] = [:]
    /// Content blocks of the schema tool.
    var schemaBlocks: Set<Int> = []

    init(schemaTool: String?) {
        self.schemaTool = schemaTool
    }

    mutating func decode(_ event: SSEEvent) throws -> [ProviderEvent] {
        let object = try HTTPCall.object(event.data)
        let block = object["index"]?.integer ?? 0
        switch object["type"]?.string ?? event.name {
        case "message_start":
            read(usage: object["message"]?["usage"])
        case "content_block_start":
            let content = object["content_block"]
            if content?["type"]?.string == "tool_use" {
                return start(tool: content ?? .null, block: block)
            }
            if let text = content?["text"]?.string, !text.isEmpty { return [.delta(text)] }
        case "content_block_delta":
            let delta = object["delta"]
            switch delta?["type"]?.string {
            case "text_delta":
                if let text = delta?["text"]?.string, !text.isEmpty { return [.delta(text)] }
            case "input_json_delta":
                let fragment = delta?["partial_json"]?.string ?? ""
                guard !fragment.isEmpty else { return [] }
                if schemaBlocks.contains(block) { return [.delta(fragment)] }
                if let call = toolBlocks[block] {
                    return [.choice(ChoiceDelta(index: 0, delta: ["tool_calls": [["index": .int(Int64(call)), "function": ["arguments": .string(fragment)]]]]))]
                }
            default:
                break
            }
        case "message_delta":
            if let reason = object["delta"]?["stop_reason"]?.string { stopReason = reason }
            if let output = object["usage"]?["output_tokens"]?.integer { outputTokens = Usage.count(output) }
        case "message_stop":
            finished = true
        case "error":
            let type = object["error"]?["type"]?.string ?? "error"
            throw ProviderError(.interrupted, reason: "the provider reported an error mid-answer (\(type.prefix(64)))")
        default:
            break
        }
        return []
    }

    /// A `tool_use` block begins: a tool call with its id and name, or the schema tool's answer.
    mutating func start(tool: JSONValue, block: Int) -> [ProviderEvent] {
        let name = tool["name"]?.string ?? ""
        if let schemaTool, name == schemaTool {
            schemaBlocks.insert(block)
            return []
        }
        let call = toolBlocks.count
        toolBlocks[block] = call
        let delta: JSONValue = [
            "index": .int(Int64(call)), "id": tool["id"] ?? "", "type": "function", "function": ["name": .string(name), "arguments": ""],
        ]
        return [.choice(ChoiceDelta(index: 0, delta: ["tool_calls": [delta]]))]
    }

    func decode(body: Data) throws -> [ProviderEvent] {
        let object = try HTTPCall.object(body)
        guard object["type"]?.string == "message" else { throw ProviderError(.malformed, reason: "the provider's answer is not a message") }
        var decoder = self
        decoder.read(usage: object["usage"])
        decoder.outputTokens = Usage.count(object["usage"]?["output_tokens"]?.integer)
        decoder.stopReason = object["stop_reason"]?.string
        var events: [ProviderEvent] = []
        for (position, content) in (object["content"]?.array ?? []).enumerated() {
            switch content["type"]?.string {
            case "text":
                if let text = content["text"]?.string, !text.isEmpty { events.append(.delta(text)) }
            case "tool_use":
                events += decoder.start(tool: content, block: position)
                let input = String(decoding: JSONWriter.bytes(of: content["input"] ?? [:]), as: UTF8.self)
                if decoder.schemaBlocks.contains(position) {
                    events.append(.delta(input))
                } else if let call = decoder.toolBlocks[position] {
                    events.append(.choice(ChoiceDelta(index: 0, delta: ["tool_calls": [["index": .int(Int64(call)), "function": ["arguments": .string(input)]]]])))
                }
            default:
                break
            }
        }
        return events + [decoder.finish]
    }

    mutating func finalEvent() -> ProviderEvent? { finish }

    var finish: ProviderEvent {
        var usage = Usage(promptTokens: inputTokens, completionTokens: outputTokens)
        if cachedTokens > 0 { usage.details["prompt_tokens_details"] = ["cached_tokens": .int(Int64(cachedTokens))] }
        return .finish(reason: finishReason, usage: usage)
    }

    /// Prompt tokens including those read from or written to the prompt cache.
    mutating func read(usage: JSONValue?) {
        let counts = ["input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"].map { Usage.count(usage?[$0]?.integer) }
        inputTokens = counts.reduce(0, +)
        cachedTokens = counts[1]
        outputTokens = usage?["output_tokens"]?.integer.map(Usage.count) ?? outputTokens
    }

    var finishReason: String {
        switch stopReason {
        case "max_tokens": "length"
        case "tool_use": schemaBlocks.isEmpty ? "tool_calls" : "stop"
        case "refusal": "content_filter"
        default: "stop"
        }
    }
}
