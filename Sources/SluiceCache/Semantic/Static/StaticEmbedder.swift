import Foundation

/// `embedder: static`: a Model2Vec-format static embedding model from a directory — `model.safetensors`
/// (an `embeddings` matrix, one row per token, and optionally Model2Vec's per-token `weights` and
/// vocabulary `mapping`), `tokenizer.json`, and `config.json` (`normalize`). A text's vector is the mean
/// of its tokens' rows, normalised: microseconds per question, no runtime beyond Sluice. An operator
/// who downloads a multilingual model (one distilled from bge-m3 covers Mongolian) gets learned
/// embeddings this way.
public struct StaticEmbedder: WordEmbedder {
    public let name: String
    let tokenizer: StaticTokenizer
    let matrix: [Float]
    let dimensions: Int
    let rows: Int
    let weights: [Float]?
    let mapping: [Int]?

    /// A model directory that cannot be used.
    public struct LoadError: Error, CustomStringConvertible {
        /// What is wrong, naming the file.
        public var description: String
    }

    /// Loads the model in `directory`.
    public init(directory: String) throws {
        let url = URL(fileURLWithPath: directory)
        let read = { (file: String) throws -> Data in
            do { return try Data(contentsOf: url.appendingPathComponent(file)) } catch {
                throw LoadError(description: "\(directory)/\(file): cannot be read")
            }
        }
        let tensors: SafeTensors
        do { tensors = try SafeTensors(data: try read("model.safetensors")) } catch let error as SafeTensors.FormatError {
            throw LoadError(description: "\(directory)/model.safetensors: \(error.description)")
        }
        do { tokenizer = try StaticTokenizer(data: try read("tokenizer.json")) } catch let error as StaticTokenizer.FormatError {
            throw LoadError(description: "\(directory)/tokenizer.json: \(error.description)")
        }
        guard let embeddings = tensors.tensors["embeddings"] ?? tensors.tensors["embedding.weight"] ?? tensors.tensors["0"], embeddings.shape.count == 2, embeddings.shape[1] > 0 else {
            throw LoadError(description: "\(directory)/model.safetensors: no 2-D `embeddings` tensor")
        }
        let rows = embeddings.shape[0]
        self.rows = rows
        dimensions = embeddings.shape[1]
        matrix = embeddings.values
        weights = tensors.tensors["weights"]?.values
        let rawMapping = tensors.tensors["mapping"]?.values
        if let rawMapping, rawMapping.contains(where: { !$0.isFinite || $0 < 0 || $0 >= Float(rows) }) {
            throw LoadError(description: "\(directory)/model.safetensors: `mapping` points outside `embeddings`")
        }
        let mapping = rawMapping?.map { Int($0) }
        self.mapping = mapping
        let config = (try? JSONSerialization.jsonObject(with: read("config.json"))) as? [String: Any]
        normalize = config?["normalize"] as? Bool ?? true
        name = "static:" + url.lastPathComponent
    }

    let normalize: Bool

    public func embed(_ texts: [String]) async throws -> [[Float]] { texts.map(vector) }

    /// Two words whose vectors are this alike count as the same content in the term check.
    static let relatedSimilarity: Float = 0.8

    public func related(_ a: String, _ b: String) -> Bool {
        let (x, y) = (vector(a), vector(b))
        return !x.allSatisfy { $0 == 0 } && Vector.dot(x, y) >= Self.relatedSimilarity
    }

    /// The vector of one text: the mean of its tokens' rows (weighted when the model has weights).
    public func vector(_ text: String) -> [Float] {
        var sum = [Float](repeating: 0, count: dimensions)
        var count: Float = 0
        for id in tokenizer.ids(text) where id >= 0 {
            let row = mapping.map { id < $0.count ? $0[id] : -1 } ?? id
            guard row >= 0, row < rows else { continue }
            let weight = weights.map { id < $0.count ? $0[id] : 1 } ?? 1
            let base = row * dimensions
            for d in 0..<dimensions { sum[d] += matrix[base + d] * weight }
            count += 1
        }
        guard count > 0 else { return sum }
        let mean = sum.map { $0 / count }
        return normalize ? Vector.normalized(mean) : mean
    }
}
