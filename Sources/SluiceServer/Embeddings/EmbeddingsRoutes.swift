import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import SluiceCache
import SluiceCore
import SluiceProviders
import SluiceStore

/// `POST /v1/embeddings` through the deployments of an alias that speak an embeddings protocol
/// (OpenAI-compatible endpoints; the built-in mock answers with the built-in embedder's deterministic
/// vectors). Each input's vector is cached per tenant, alias and size, so a repeated input costs no
/// call. A call is admitted like a chat request (`AdmissionGate.immediately`): per-minute and daily
/// limits, tenant ceilings, its inputs' tokens charged; a request served whole from the cache counts
/// one message, like a cached answer.
struct EmbeddingsRoutes {
    let jobs: JobService
    let gate: AdmissionGate
    let cache = EmbeddingCache()

    func register(on group: RouterGroup<SluiceRequestContext>) {
        group.post("embeddings") { request, context in try await embed(request, context: context) }
    }

    func embed(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        let asked = try EmbeddingsRequest(try await RequestBody.object(of: request, limit: jobs.configuration.server.maxBodyBytes))
        var chat = ChatRequest(model: asked.model, messages: [])
        chat.user = asked.user
        let owner = try context.principal(asking: chat, headers: request.headers)
        let (object, limits, cached) = try await answer(asked, owner: owner)
        var headers = HTTPFields(limits)
        headers[.sluiceCache] = cached ? "exact" : "miss"
        return JSONResponse.make(object, headers: headers)
    }

    /// Embeds a checked request for `owner`, from the cache where it can: the `list` object, admission's
    /// headers, and whether every vector was cached.
    func answer(_ asked: EmbeddingsRequest, owner: Principal) async throws -> (object: [String: Any], limits: [String: String], cached: Bool) {
        guard jobs.router.serves(asked.model) else {
            throw SluiceError(.modelNotFound, details: ["model": String(asked.model.prefix(100)), "models": jobs.router.aliases.joined(separator: ", ")])
        }
        guard jobs.router.embeds(asked.model) else {
            throw BodyFields.wrongType("model", "\(asked.model.prefix(100)) serves chat only: no deployment of it has an embeddings endpoint")
        }
        let tokens = asked.inputs.reduce(0) { $0 + Usage.estimateTokens($1) }
        let scope = [owner.tenant, asked.model, String(asked.dimensions ?? 0)].joined(separator: "\u{1E}")
        var vectors = asked.inputs.map { cache.get(scope + "\u{1E}" + $0) }
        let missing = vectors.indices.filter { vectors[$0] == nil }
        let limits: [String: String]
        if missing.isEmpty {
            // Every vector was cached: a message, no tokens, like a cached chat answer.
            let admitted = try gate.admitLight(owner)
            try await gate.count(admitted.delta, owner: owner)
            limits = admitted.headers
        } else {
            let texts = missing.map { asked.inputs[$0] }
            let fresh: [[Float]]
            (fresh, limits) = try await gate.immediately(prompt: texts, model: asked.model, owner: owner) {
                try await call(asked.model, texts, dimensions: asked.dimensions)
            }
            for (index, vector) in zip(missing, fresh) {
                let shortened = EmbeddingsRequest.shortened(vector, to: asked.dimensions)
                vectors[index] = shortened
                cache.set(scope + "\u{1E}" + asked.inputs[index], shortened)
            }
        }
        let data: [[String: Any]] = vectors.enumerated().map { index, vector in
            let values = vector ?? []
            return [
                "object": "embedding", "index": index,
                "embedding": asked.base64 ? EmbeddingsRequest.base64(values) as Any : values.map { Double($0) } as Any,
            ]
        }
        let object: [String: Any] = [
            "object": "list", "data": data, "model": asked.model, "usage": ["prompt_tokens": tokens, "total_tokens": tokens],
        ]
        return (object, limits, missing.isEmpty)
    }

    /// Embeds texts on a deployment of `alias` with room, failing over to the next on a provider's fault.
    func call(_ alias: String, _ texts: [String], dimensions: Int?) async throws -> [[Float]] {
        var avoiding: Set<String> = []
        while let lease = jobs.router.reserve(alias: alias, avoiding: avoiding) {
            // Only deployments already tried have room: give the slot back and stop.
            guard !avoiding.contains(lease.deployment.name) else {
                jobs.router.release(lease, outcome: .cancelled)
                break
            }
            do {
                let vectors = try await Self.embedder(for: lease.deployment, dimensions: dimensions)?.embed(texts) ?? []
                guard vectors.count == texts.count else { throw SluiceError(.providerError) }
                jobs.router.release(lease, outcome: .success(tokens: texts.reduce(0) { $0 + Usage.estimateTokens($1) }))
                return vectors
            } catch {
                jobs.router.release(lease, outcome: Task.isCancelled ? .cancelled : .failure(retryAfter: nil))
                jobs.logger.warning("an embeddings call failed", metadata: ["sluice.deployment": "\(lease.deployment.name)", "error": "\(error)"])
                avoiding.insert(lease.deployment.name)
            }
        }
        throw SluiceError(.providerError, details: ["reason": "no deployment of \(alias.prefix(100)) could embed the input now"], retryAfter: 2)
    }

    /// The embedder of a deployment: its OpenAI-compatible endpoint (whose vectors are then shortened to
    /// `dimensions`), or for the mock the built-in one, making vectors of that size.
    static func embedder(for deployment: Deployment, dimensions: Int?) -> (any Embedder)? {
        switch deployment.kind {
        case .mock: HashingEmbedder(dimensions: dimensions ?? 384)
        case .openai: OpenAIEmbedder(client: HTTPClient.shared, baseURL: deployment.baseURL, model: deployment.model, apiKey: deployment.apiKey)
        case .anthropic: nil
        }
    }
}
