import Foundation

/// What a load test saw.
public struct LoadReport: Sendable, Codable {
    /// Answers completed (a `done` event).
    public var completed = 0
    /// Requests sent.
    public var sent = 0
    /// Requests refused or failed, by status and code (`429 rate_limited`, `503 system_busy`, `stream error_code`, `network`).
    public var errors: [String: Int] = [:]
    /// Answers served from a cache (`exact` or `semantic`).
    public var cacheHits = 0
    /// Streams dropped on purpose and resumed.
    public var resumes = 0
    /// Resumed streams that did not end with the whole answer: must be zero.
    public var lostAfterResume = 0
    /// Milliseconds to the first token.
    public var timeToFirstToken: [Double] = []
    /// Milliseconds to the whole answer.
    public var totalLatency: [Double] = []
    /// Seconds the test ran.
    public var seconds = 0.0
    /// Completed answers per second, one entry per second of the test.
    public var perSecond: [Int] = []

    /// A percentile of a sample, in its unit.
    public static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    /// The report as a Markdown table.
    public var markdown: String {
        func row(_ name: String, _ values: [Double]) -> String {
            String(format: "| %@ | %.1f | %.1f | %.1f |", name, Self.percentile(values, 0.5), Self.percentile(values, 0.95), Self.percentile(values, 0.99))
        }
        var lines = [
            "| | value |", "| --- | ---: |",
            "| requests sent | \(sent) |", "| answers completed | \(completed) |",
            String(format: "| throughput | %.1f answers/s |", Double(completed) / max(seconds, 0.001)),
            String(format: "| cache hit rate | %.1f %% |", Double(cacheHits) * 100 / Double(max(completed, 1))),
            "| resumes | \(resumes) (lost after resume: \(lostAfterResume)) |",
        ]
        for (key, count) in errors.sorted(by: { $0.key < $1.key }) { lines.append("| error \(key) | \(count) |") }
        lines += ["", "| latency (ms) | p50 | p95 | p99 |", "| --- | ---: | ---: | ---: |", row("time to first token", timeToFirstToken), row("whole answer", totalLatency)]
        return lines.joined(separator: "\n")
    }
}
