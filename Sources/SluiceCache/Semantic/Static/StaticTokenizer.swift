import Foundation

/// The part of a Hugging Face `tokenizer.json` a static embedding model needs: the normaliser
/// (lower-casing, accent stripping), the pre-tokeniser (BERT's whitespace and punctuation split, or
/// SentencePiece's `▁` metaspace) and the model — WordPiece (greedy longest match, `##` pieces) or
/// Unigram (the most probable segmentation, Viterbi). Special tokens are not added.
struct StaticTokenizer {
    enum Model {
        case wordPiece(vocab: [String: Int], prefix: String, maxCharacters: Int)
        case unigram(pieces: [String: (id: Int, score: Double)], maxLength: Int)
    }

    let model: Model
    let lowercase: Bool
    let stripAccents: Bool
    let metaspace: Bool
    let unknown: Int?

    struct FormatError: Error, CustomStringConvertible {
        var description: String
    }

    init(data: Data) throws {
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any], let model = json["model"] as? [String: Any] else {
            throw FormatError(description: "tokenizer.json has no model")
        }
        let normalizer = Self.flatten(json["normalizer"])
        lowercase = normalizer.contains { $0["type"] as? String == "Lowercase" || $0["type"] as? String == "BertNormalizer" && ($0["lowercase"] as? Bool ?? true) }
        stripAccents = normalizer.contains {
            $0["type"] as? String == "StripAccents" || $0["type"] as? String == "BertNormalizer" && ($0["strip_accents"] as? Bool ?? ($0["lowercase"] as? Bool ?? true))
        }
        metaspace = Self.flatten(json["pre_tokenizer"]).contains { $0["type"] as? String == "Metaspace" }
        switch model["type"] as? String {
        case "WordPiece":
            guard let vocab = model["vocab"] as? [String: Int] else { throw FormatError(description: "the WordPiece model has no vocab") }
            self.model = .wordPiece(vocab: vocab, prefix: model["continuing_subword_prefix"] as? String ?? "##", maxCharacters: model["max_input_chars_per_word"] as? Int ?? 100)
            unknown = (model["unk_token"] as? String).flatMap { vocab[$0] }
        case "Unigram":
            guard let vocab = model["vocab"] as? [[Any]] else { throw FormatError(description: "the Unigram model has no vocab") }
            var pieces: [String: (Int, Double)] = [:]
            for (id, entry) in vocab.enumerated() {
                guard entry.count == 2, let piece = entry[0] as? String, let score = (entry[1] as? NSNumber)?.doubleValue else {
                    throw FormatError(description: "Unigram vocab entry \(id) is not [piece, score]")
                }
                pieces[piece] = (id, score)
            }
            self.model = .unigram(pieces: pieces, maxLength: pieces.keys.map(\.count).max() ?? 1)
            unknown = model["unk_id"] as? Int
        default:
            throw FormatError(description: "tokenizer model \(model["type"] as? String ?? "?") is not supported (WordPiece and Unigram are)")
        }
    }

    /// A normaliser or pre-tokeniser and, for a `Sequence`, its parts.
    static func flatten(_ value: Any?) -> [[String: Any]] {
        guard let object = value as? [String: Any] else { return [] }
        let parts = (object["normalizers"] ?? object["pretokenizers"]) as? [Any] ?? []
        return [object] + parts.flatMap { flatten($0) }
    }

    /// The token ids of a text, unknown pieces left out.
    func ids(_ text: String) -> [Int] {
        var text = lowercase ? text.lowercased() : text
        if stripAccents {
            text = String(String.UnicodeScalarView(text.decomposedStringWithCanonicalMapping.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }))
        }
        return words(text).flatMap(pieces).filter { $0 != unknown }
    }

    func words(_ text: String) -> [String] {
        if metaspace { return text.split(whereSeparator: \.isWhitespace).map { "▁" + $0 } }
        var words: [String] = []
        var current = ""
        for character in text {
            if character.isWhitespace || character.isPunctuation || character.isSymbol {
                if !current.isEmpty { words.append(current) }
                current = ""
                if !character.isWhitespace { words.append(String(character)) }
            } else {
                current.append(character)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    func pieces(_ word: String) -> [Int] {
        switch model {
        case .wordPiece(let vocab, let prefix, let maxCharacters):
            let characters = Array(word)
            guard characters.count <= maxCharacters else { return unknown.map { [$0] } ?? [] }
            var ids: [Int] = []
            var start = 0
            while start < characters.count {
                var end = characters.count
                var found: Int?
                while end > start {
                    let piece = (start > 0 ? prefix : "") + String(characters[start..<end])
                    if let id = vocab[piece] {
                        found = id
                        break
                    }
                    end -= 1
                }
                // A word with a piece the vocabulary lacks is one unknown token, as in BERT.
                guard let id = found else { return unknown.map { [$0] } ?? [] }
                ids.append(id)
                start = end
            }
            return ids
        case .unigram(let pieces, let maxLength):
            let characters = Array(word)
            // A "word" of hundreds of letters is no word: one unknown token, not a quadratic search.
            guard characters.count <= 128 else { return unknown.map { [$0] } ?? [] }
            // best[i]: the best score of a segmentation of the first i characters, and its last piece's start.
            var best = [(score: Double, from: Int, id: Int?)](repeating: (-Double.infinity, 0, nil), count: characters.count + 1)
            best[0].score = 0
            for end in 1...max(1, characters.count) where end <= characters.count {
                for start in max(0, end - maxLength)..<end where best[start].score > -Double.infinity {
                    if let piece = pieces[String(characters[start..<end])], best[start].score + piece.score > best[end].score {
                        best[end] = (best[start].score + piece.score, start, piece.id)
                    }
                }
                // A character no piece covers is unknown, at a large cost.
                if best[end].score == -Double.infinity, best[end - 1].score > -Double.infinity {
                    best[end] = (best[end - 1].score - 100, end - 1, unknown)
                }
            }
            var ids: [Int] = []
            var end = characters.count
            while end > 0 {
                if let id = best[end].id { ids.append(id) }
                end = best[end].from
            }
            return ids.reversed()
        }
    }
}
