public import AsyncHTTPClient
import Foundation
public import SluiceCore

/// A provider that speaks OpenAI's chat completions: OpenAI, OpenRouter, Google's OpenAI-compatible
/// endpoint, vLLM, Ollama, llama.cpp's server. The request goes as the caller wrote it — every field
/// and every message part — with the deployment's model name, Sluice's own streaming choice (with
/// usage), and without `user` (a shared answer belongs to no one user; Sluice keeps the end user).
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

    /// The body sent upstream.
    static func body(_ request: ChatRequest, model: String, stream: Bool) -> JSONValue {
        var body = request.fields
        body["user"] = nil
        body["model"] = .string(model)
        body["stream"] = .bool(stream)
        body["stream_options"] = stream ? .object(["include_usage": .bool(true)]) : nil
        return .object(body)
    }

    public func stream(_ request: ChatRequest, upstreamModel: String) -> AsyncThrowingStream<ProviderEvent, any Error> {
        var headers: [(String, String)] = []
        if let key = deployment.apiKey, !key.isEmpty { headers.append(("Authorization", "Bearer \(key)")) }
        let url = deployment.baseURL.trimmingSuffix("/") + "/chat/completions"
        let body = Self.body(request, model: upstreamModel, stream: deployment.streaming)
        let call = HTTPCall(
            client: client, request: HTTPCall.post(url: url, headers: headers, json: body), deployment: deployment, decoder: OpenAIDecoder())
        return AsyncThrowingStream(unfolding: { try await call.next() })
    }
}

/// OpenAI's `chat.completion.chunk` stream and `chat.completion` object. Choice 0's plain text becomes
/// `delta` events; everything else (tool-call fragments, refusals, log probabilities, other choices)
/// becomes `choice` events carrying the provider's delta as it was sent, less `role` and nulls.
struct OpenAIDecoder: HTTPCall.Decoder {
    var finished = false
    var finishReason: String?
    var usage: Usage?
    var fingerprint: String?

    mutating func decode(_ event: SSEEvent) throws -> [ProviderEvent] {
        if event.data == "[DONE]" {
            finished = true
            return []
        }
        let object = try HTTPCall.object(event.data)
        if let error = object["error"], error != .null {
            let code = error["code"]?.string ?? error["type"]?.string ?? "unknown"
            throw ProviderError(.interrupted, reason: "the provider reported an error mid-answer (\(code.prefix(64)))")
        }
        read(object)
        var events: [ProviderEvent] = []
        for choice in object["choices"]?.array ?? [] {
            events += pieces(of: choice, delta: choice["delta"]?.object ?? [:])
        }
        return events
    }

    func decode(body: Data) throws -> [ProviderEvent] {
        var decoder = self
        let object = try HTTPCall.object(body)
        guard let choices = object["choices"]?.array, !choices.isEmpty else {
            throw ProviderError(.malformed, reason: "the provider's answer is not a chat completion")
        }
        decoder.read(object)
        var events: [ProviderEvent] = []
        for choice in choices {
            var message = choice["message"]?.object ?? [:]
            // A whole message as one delta: its tool calls numbered as a stream numbers them.
            if let calls = message["tool_calls"]?.array {
                message["tool_calls"] = .array(calls.enumerated().map { position, call in
                    guard var object = call.object, object["index"] == nil else { return call }
                    object["index"] = .int(Int64(position))
                    return .object(object)
                })
            }
            events += decoder.pieces(of: choice, delta: message)
        }
        return events + [.finish(reason: decoder.finishReason ?? "stop", usage: decoder.usage, fingerprint: decoder.fingerprint)]
    }

    mutating func finalEvent() -> ProviderEvent? {
        .finish(reason: finishReason ?? "stop", usage: usage, fingerprint: fingerprint)
    }

    /// Reads the usage and fingerprint of a chunk or a completion.
    mutating func read(_ object: JSONValue) {
        if let usage = object["usage"], usage.object != nil { self.usage = Usage(json: usage) }
        if let fingerprint = object["system_fingerprint"]?.string { self.fingerprint = fingerprint }
    }

    /// The events of one choice's delta; choice 0's finish reason is kept for the final event.
    mutating func pieces(of choice: JSONValue, delta: [String: JSONValue]) -> [ProviderEvent] {
        let index = max(0, choice["index"]?.integer ?? 0)
        let reason = choice["finish_reason"]?.string
        let logprobs = choice["logprobs"].flatMap { $0 == .null ? nil : $0 }
        let delta = delta.filter { $0.key != "role" && $0.value != .null }
        if index == 0 {
            if let reason { finishReason = reason }
            if logprobs == nil, delta.keys.allSatisfy({ $0 == "content" }) {
                guard let text = delta["content"]?.string, !text.isEmpty else { return [] }
                return [.delta(text)]
            }
            return [.choice(ChoiceDelta(index: 0, delta: delta, logprobs: logprobs))]
        }
        if delta.isEmpty, logprobs == nil, reason == nil { return [] }
        return [.choice(ChoiceDelta(index: index, delta: delta, logprobs: logprobs, finishReason: reason))]
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
