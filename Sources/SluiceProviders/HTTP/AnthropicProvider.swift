public import AsyncHTTPClient
import Foundation
public import SluiceCore

/// A provider that speaks Anthropic's Messages API, mapped to and from the OpenAI schema. The system
/// prompt (the static prefix) is sent with `cache_control`, so Anthropic's prompt caching applies.
public struct AnthropicProvider: Provider {
    let client: HTTPClient
    let deployment: Deployment
    /// The `max_tokens` sent when the request sets none (Anthropic requires one).
    public static let defaultMaxTokens = 1024

    /// - Parameters:
    ///   - client: the deployment's HTTP client.
    ///   - deployment: where and how.
    public init(client: HTTPClient, deployment: Deployment) {
        self.client = client
        self.deployment = deployment
    }

    public func stream(_ request: ChatRequest, upstreamModel: String) -> AsyncThrowingStream<ProviderEvent, any Error> {
        let call: HTTPCall
        do {
            var headers: [(String, String)] = [("anthropic-version", "2023-06-01")]
            if let key = deployment.apiKey, !key.isEmpty { headers.append(("x-api-key", key)) }
            let url = deployment.baseURL.trimmingSuffix("/") + "/v1/messages"
            call = HTTPCall(
                client: client, request: try HTTPCall.post(url: url, headers: headers, json: Self.body(request, model: upstreamModel, stream: deployment.streaming)),
                streaming: deployment.streaming, totalSeconds: deployment.timeouts.total, decoder: AnthropicDecoder())
        } catch {
            return AsyncThrowingStream { $0.finish(throwing: ProviderError(.malformed, reason: "the request could not be encoded")) }
        }
        return AsyncThrowingStream(unfolding: { try await call.next() })
    }

    /// The Messages API body: system and developer messages become the cached system prefix; the rest
    /// alternate user and assistant, consecutive messages of one role joined.
    static func body(_ request: ChatRequest, model: String, stream: Bool) -> [String: Any] {
        let system = request.messages.filter { $0.role == "system" || $0.role == "developer" }.map(\.content).joined(separator: "\n\n")
        var turns: [(role: String, content: String)] = []
        for message in request.messages where message.role != "system" && message.role != "developer" {
            let role = message.role == "assistant" ? "assistant" : "user"
            if let last = turns.last, last.role == role {
                turns[turns.count - 1].content += "\n\n" + message.content
            } else {
                turns.append((role, message.content))
            }
        }
        var body: [String: Any] = [
            "model": model,
            "max_tokens": request.tokenCap ?? defaultMaxTokens,
            "messages": turns.map { ["role": $0.role, "content": $0.content] },
            "stream": stream,
        ]
        if !system.isEmpty {
            body["system"] = [["type": "text", "text": system, "cache_control": ["type": "ephemeral"]]]
        }
        if let temperature = request.temperature { body["temperature"] = min(1, temperature) }
        if let topP = request.topP { body["top_p"] = topP }
        return body
    }
}

/// Anthropic's message stream (`message_start`, `content_block_delta`, `message_delta`, `message_stop`).
struct AnthropicDecoder: HTTPCall.Decoder {
    var finished = false
    var inputTokens = 0
    var outputTokens = 0
    var stopReason: String?

    mutating func decode(_ event: SSEEvent) throws -> [ProviderEvent] {
        let object = try HTTPCall.object(event.data)
        switch object["type"] as? String ?? event.name {
        case "message_start":
            let usage = (object["message"] as? [String: Any])?["usage"] as? [String: Any]
            inputTokens = Self.input(usage)
            outputTokens = usage?["output_tokens"] as? Int ?? 0
        case "content_block_delta":
            if let delta = object["delta"] as? [String: Any], let text = delta["text"] as? String, !text.isEmpty { return [.delta(text)] }
        case "message_delta":
            if let reason = (object["delta"] as? [String: Any])?["stop_reason"] as? String { stopReason = reason }
            if let output = (object["usage"] as? [String: Any])?["output_tokens"] as? Int { outputTokens = output }
        case "message_stop":
            finished = true
        case "error":
            let type = (object["error"] as? [String: Any])?["type"] as? String ?? "error"
            throw ProviderError(.interrupted, reason: "the provider reported an error mid-answer (\(type))")
        default:
            break
        }
        return []
    }

    func decode(body: Data) throws -> [ProviderEvent] {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any], object["type"] as? String == "message" else {
            throw ProviderError(.malformed, reason: "the provider's answer is not a message")
        }
        let text = (object["content"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }.joined()
        let usage = object["usage"] as? [String: Any]
        return (text.isEmpty ? [] : [.delta(text)]) + [.finish(
            reason: Self.finishReason(object["stop_reason"] as? String),
            usage: Usage(promptTokens: Self.input(usage), completionTokens: usage?["output_tokens"] as? Int ?? 0))]
    }

    mutating func finalEvent() -> ProviderEvent? {
        .finish(reason: Self.finishReason(stopReason), usage: Usage(promptTokens: inputTokens, completionTokens: outputTokens))
    }

    /// Prompt tokens including those read from or written to the prompt cache.
    static func input(_ usage: [String: Any]?) -> Int {
        ["input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"].reduce(0) { $0 + (usage?[$1] as? Int ?? 0) }
    }

    static func finishReason(_ stop: String?) -> String {
        switch stop {
        case "max_tokens": "length"
        case "tool_use": "tool_calls"
        default: "stop"
        }
    }
}
