public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// An embedder on any OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, vLLM, Ollama, llama.cpp).
public struct OpenAIEmbedder: Embedder {
    public let name: String
    let client: HTTPClient
    let baseURL: String
    let model: String
    let apiKey: String?

    /// A failure of the embeddings endpoint.
    public struct EmbeddingError: Error, CustomStringConvertible {
        /// What went wrong (never the key).
        public var description: String
    }

    /// - Parameters:
    ///   - client: an HTTP client.
    ///   - baseURL: e.g. `https://api.openai.com/v1`.
    ///   - model: the embedding model.
    ///   - apiKey: the key, from the environment.
    public init(client: HTTPClient, baseURL: String, model: String, apiKey: String?) {
        self.client = client
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.model = model
        self.apiKey = apiKey
        self.name = "openai:" + model
    }

    public func embed(_ texts: [String]) async throws -> [[Float]] {
        var request = HTTPClientRequest(url: baseURL + "/embeddings")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let apiKey, !apiKey.isEmpty { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: ["model": model, "input": texts])))
        let response = try await client.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 64 << 20)
        guard response.status == .ok else { throw EmbeddingError(description: "the embeddings endpoint answered \(response.status.code)") }
        guard let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
              let data = object["data"] as? [[String: Any]], data.count == texts.count
        else { throw EmbeddingError(description: "the embeddings endpoint sent an unexpected answer") }
        return data.sorted { ($0["index"] as? Int ?? 0) < ($1["index"] as? Int ?? 0) }.map { item in
            Vector.normalized(((item["embedding"] as? [Double]) ?? []).map { Float($0) })
        }
    }
}
