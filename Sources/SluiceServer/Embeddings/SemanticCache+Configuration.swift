import AsyncHTTPClient
import SluiceCache

extension SemanticCache {
    /// The semantic layer the configuration asks for, with its embedder (an OpenAI-compatible endpoint,
    /// a static model from disk, or the built-in hashing embedder); nil when the layer is off.
    convenience init?(configuredBy configuration: SluiceConfiguration) {
        guard configuration.cache.enabled, configuration.semantic.enabled else { return nil }
        let embedder: any Embedder
        if configuration.embedder.kind == "openai" {
            embedder = OpenAIEmbedder(
                client: HTTPClient.shared, baseURL: configuration.embedder.baseURL, model: configuration.embedder.model,
                apiKey: configuration.embedder.apiKey)
        } else if configuration.embedder.kind == "static", let model = try? StaticEmbedder(directory: configuration.embedder.path) {
            // Validated at start: a model that cannot be loaded stops `sluice serve` before this.
            embedder = model
        } else {
            embedder = HashingEmbedder()
        }
        self.init(configuration: configuration.semantic, embedder: embedder)
    }
}
