import Foundation
import SluiceCore

/// A batch input file (JSON Lines, one request per line: `custom_id`, `method`, `url`, `body`), read
/// and checked line by line. A line that cannot be a request is reported by its number; a request
/// whose body its API refuses (an unknown model, say) is not a problem here: it ends in the batch's
/// error file with the 400 the API would have answered.
struct BatchInput: Sendable {
    /// One request.
    struct Line: Sendable {
        /// 0-based.
        var index: Int
        var customID: String
        var url: String
        var body: [String: JSONValue]
        /// The cache namespace its answer goes to (Sluice's `namespace` beside `custom_id`); empty: the default.
        var namespace = ""
    }

    /// The APIs a batch may call.
    static let endpoints = ["/v1/chat/completions", "/v1/responses", "/v1/embeddings"]
    /// The most problems one refusal lists.
    static let shownProblems = 10

    var lines: [Line] = []
    /// 1-based line numbers and what is wrong, in order.
    var problems: [(line: Int, message: String)] = []

    /// Reads a file's bytes.
    init(_ data: Data, maxLines: Int) {
        var seen: Set<String> = []
        var number = 0
        for raw in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            let text = raw.last == UInt8(ascii: "\r") ? raw.dropLast() : raw
            if text.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { continue }
            guard lines.count + problems.count < maxLines else {
                problems.append((number, "the file holds more than \(maxLines) requests"))
                break
            }
            switch Self.line(Data(text), index: lines.count + problems.count) {
            case .success(let line):
                if seen.insert(line.customID).inserted {
                    lines.append(line)
                } else {
                    problems.append((number, "custom_id \(Self.quoted(line.customID)) is used by an earlier line; each must be unique"))
                }
            case .failure(let problem):
                problems.append((number, problem.message))
            }
        }
        if lines.isEmpty, problems.isEmpty { problems.append((1, "the file holds no requests")) }
        if problems.isEmpty, let first = lines.first, let other = lines.first(where: { $0.url != first.url }) {
            problems.append((other.index + 1, "url \(Self.quoted(other.url)) differs from the first line's \(first.url): one batch calls one API"))
        }
    }

    struct Problem: Error { var message: String }

    static func line(_ data: Data, index: Int) -> Result<Line, Problem> {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: data), let object = value.object else {
            return .failure(Problem(message: "is not a JSON object"))
        }
        guard let customID = object["custom_id"]?.string, !customID.isEmpty, customID.count <= 512 else {
            return .failure(Problem(message: "custom_id is missing, not a string, or longer than 512 characters"))
        }
        guard object["method"]?.string?.uppercased() == "POST" else { return .failure(Problem(message: "method must be POST")) }
        guard let url = object["url"]?.string, endpoints.contains(url) else {
            return .failure(Problem(message: "url must be one of \(endpoints.joined(separator: ", "))"))
        }
        guard let body = object["body"]?.object else { return .failure(Problem(message: "body must be a JSON object")) }
        var namespace = ""
        if let raw = object["namespace"], raw != .null {
            guard let text = raw.string, text.count <= 256, !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                return .failure(Problem(message: "namespace must be a string of at most 256 characters"))
            }
            namespace = text
        }
        return .success(Line(index: index, customID: customID, url: url, body: body, namespace: namespace))
    }

    /// The refusal of a file with problems: a 400 naming the first lines that are wrong.
    var refusal: SluiceError? {
        guard !problems.isEmpty else { return nil }
        let shown = problems.prefix(Self.shownProblems).map { "line \($0.line): \($0.message)" }.joined(separator: "; ")
        let more = problems.count > Self.shownProblems ? " (and \(problems.count - Self.shownProblems) more)" : ""
        return SluiceError(.invalidParameter, details: [
            "field": "file", "reason": shown + more,
            "reason_mn": "файлын мөр алдаатай: " + shown + more,
        ])
    }

    static func quoted(_ text: String) -> String { "'" + String(text.prefix(64)) + "'" }
}
