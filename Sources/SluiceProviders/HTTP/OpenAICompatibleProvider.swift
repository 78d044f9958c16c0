public import AsyncHTTPClient
import Foundation
public import SluiceCore

/// A provider that speaks OpenAI's chat completions: OpenAI, OpenRouter, Google's OpenAI-compatible
/// endpoint, vLLM, Ollama, llama.cpp's server. Streams by default; `usage` comes from the final chunk.
public struct OpenAICompatibleProvider: Provider {
    let client: HTTPClient
    let deployment: Deployment

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
            var body: [String: Any] = [
                "model": upstreamModel,
                "messages": request.messages.map { ["role": $0.role, "content": $0.content] },
                "stream": deployment.streaming,
            ]
            if deployment.streaming { body["stream_options"] = ["include_usage": true] }
            if let cap = request.tokenCap { body["max_tokens"] = cap }
            if let temperature = request.temperature { body["temperature"] = temperature }
            if let topP = request.topP { body["top_p"] = topP }
            var headers: [(String, String)] = []
            if let key = deployment.apiKey, !key.isEmpty { headers.append(("Authorization", "Bearer \(key)")) }
            let url = deployment.baseURL.trimmingSuffix("/") + "/chat/completions"
            call = HTTPCall(
                client: client, request: try HTTPCall.post(url: url, headers: headers, json: body), streaming: deployment.streaming,
                totalSeconds: deployment.timeouts.total, decoder: OpenAIDecoder())
        } catch {
            return AsyncThrowingStream { $0.finish(throwing: ProviderError(.malformed, reason: "the request could not be encoded")) }
        }
        return AsyncThrowingStream(unfolding: { try await call.next() })
    }
}

/// OpenAI's `chat.completion.chunk` stream and `chat.completion` object.
struct OpenAIDecoder: HTTPCall.Decoder {
    var finished = false
    var finishReason: String?
    var usage: Usage?

    mutating func decode(_ event: SSEEvent) throws -> [ProviderEvent] {
        if event.data == "[DONE]" {
            finished = true
            return []
        }
        let object = try HTTPCall.object(event.data)
        if let error = object["error"] as? [String: Any] {
            throw ProviderError(.interrupted, reason: "the provider reported an error mid-answer (\(error["code"] ?? error["type"] ?? "unknown"))")
        }
        if let usage = object["usage"] as? [String: Any] { self.usage = Self.usage(usage) }
        var events: [ProviderEvent] = []
        for choice in object["choices"] as? [[String: Any]] ?? [] {
            if let text = (choice["delta"] as? [String: Any])?["content"] as? String, !text.isEmpty { events.append(.delta(text)) }
            if let reason = choice["finish_reason"] as? String { finishReason = reason }
        }
        return events
    }

    func decode(body: Data) throws -> [ProviderEvent] {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
              let choice = (object["choices"] as? [[String: Any]])?.first,
              let message = choice["message"] as? [String: Any]
        else { throw ProviderError(.malformed, reason: "the provider's answer is not a chat completion") }
        let text = message["content"] as? String ?? ""
        let usage = (object["usage"] as? [String: Any]).map(Self.usage)
        return (text.isEmpty ? [] : [.delta(text)]) + [.finish(reason: choice["finish_reason"] as? String ?? "stop", usage: usage)]
    }

    mutating func finalEvent() -> ProviderEvent? {
        .finish(reason: finishReason ?? "stop", usage: usage)
    }

    static func usage(_ object: [String: Any]) -> Usage {
        Usage(promptTokens: object["prompt_tokens"] as? Int ?? 0, completionTokens: object["completion_tokens"] as? Int ?? 0)
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
