public import Foundation

/// What a load test saw.
public struct LoadReport: Sendable {
    /// Who a virtual user is.
    public enum Role: String, Sendable, Codable, CaseIterable {
        /// Asks interactively.
        case student
        /// Asks in the bypass class.
        case teacher
        /// A tab in the background: asks in the batch class and holds the stream while it waits.
        case background
    }

    /// One completed answer.
    public struct Sample: Sendable {
        /// Seconds since the start of the test when the answer completed.
        public var at: Double
        /// Milliseconds to the first token.
        public var timeToFirstToken: Double
        /// Milliseconds to the whole answer.
        public var total: Double
    }

    /// Answers completed (a `done` event).
    public var completed = 0
    /// Requests sent.
    public var sent = 0
    /// Requests refused or failed, by status and code (`429 rate_limited`, `503 system_busy`, `stream error`, `network (connectTimeout)`).
    public var errors: [String: Int] = [:]
    /// Answers served from a cache (`exact` or `semantic`).
    public var cacheHits = 0
    /// Streams resumed after a drop (planned, or the storm's).
    public var resumes = 0
    /// Dropped streams that did not end with the whole answer: must be zero.
    public var lostAfterResume = 0
    /// Streams open now, and the most open at once.
    public var openStreams = 0
    /// The most streams open at once.
    public var peakOpenStreams = 0
    /// Milliseconds to the first token.
    public var timeToFirstToken: [Double] = []
    /// Milliseconds to the whole answer.
    public var totalLatency: [Double] = []
    /// Milliseconds answers waited in the gateway's queue (as the gateway reports it), by role; cache hits excluded.
    public var queueWait: [Role: [Double]] = [:]
    /// Every completed answer, for the timeline.
    public var samples: [Sample] = []
    /// Seconds the test ran.
    public var seconds = 0.0

    /// A percentile of a sample, in its unit.
    public static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    /// Latency percentiles for a report.
    public struct Percentiles: Sendable, Codable {
        /// Samples.
        public var count: Int
        /// Median.
        public var p50: Double
        /// 95th percentile.
        public var p95: Double
        /// 99th percentile.
        public var p99: Double

        init(_ values: [Double]) {
            count = values.count
            p50 = LoadReport.percentile(values, 0.5)
            p95 = LoadReport.percentile(values, 0.95)
            p99 = LoadReport.percentile(values, 0.99)
        }
    }

    /// One second of the run.
    public struct Second: Sendable, Codable {
        /// Seconds since the start.
        public var second: Int
        /// Answers completed in this second.
        public var answers: Int
        /// Time to first token of those answers, ms.
        public var ttftP50: Double
        /// Time to first token of those answers, ms.
        public var ttftP99: Double
        /// Whole-answer latency of those answers, ms.
        public var totalP50: Double
        /// Whole-answer latency of those answers, ms.
        public var totalP99: Double
    }

    /// Answers and latencies second by second.
    public var timeline: [Second] {
        var buckets = Array(repeating: [Sample](), count: max(1, Int(seconds.rounded(.up))))
        for sample in samples { buckets[min(buckets.count - 1, max(0, Int(sample.at)))].append(sample) }
        return buckets.enumerated().map { second, samples in
            let ttft = samples.map(\.timeToFirstToken)
            let total = samples.map(\.total)
            return Second(
                second: second, answers: samples.count, ttftP50: Self.percentile(ttft, 0.5), ttftP99: Self.percentile(ttft, 0.99),
                totalP50: Self.percentile(total, 0.5), totalP99: Self.percentile(total, 0.99))
        }
    }

    /// The report for machines: counts, percentiles and the timeline, without raw samples.
    public struct Summary: Sendable, Codable {
        public var seconds: Double
        public var sent: Int
        public var completed: Int
        public var answersPerSecond: Double
        public var cacheHitRate: Double
        public var resumes: Int
        public var lostAfterResume: Int
        public var peakOpenStreams: Int
        public var errors: [String: Int]
        public var timeToFirstTokenMs: Percentiles
        public var totalLatencyMs: Percentiles
        public var queueWaitMs: [String: Percentiles]
        public var timeline: [Second]
    }

    /// The summary of this report.
    public var summary: Summary {
        Summary(
            seconds: seconds, sent: sent, completed: completed, answersPerSecond: Double(completed) / max(seconds, 0.001),
            cacheHitRate: Double(cacheHits) / Double(max(completed, 1)), resumes: resumes, lostAfterResume: lostAfterResume,
            peakOpenStreams: peakOpenStreams, errors: errors, timeToFirstTokenMs: Percentiles(timeToFirstToken),
            totalLatencyMs: Percentiles(totalLatency),
            queueWaitMs: Dictionary(uniqueKeysWithValues: queueWait.map { ($0.key.rawValue, Percentiles($0.value)) }), timeline: timeline)
    }

    /// The summary as JSON.
    public var json: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return (try? encoder.encode(summary)) ?? Data("{}".utf8)
    }

    /// The report as Markdown tables.
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
            "| most streams open at once | \(peakOpenStreams) |",
        ]
        for (key, count) in errors.sorted(by: { $0.key < $1.key }) { lines.append("| error \(key) | \(count) |") }
        lines += ["", "| latency (ms) | p50 | p95 | p99 |", "| --- | ---: | ---: | ---: |", row("time to first token", timeToFirstToken), row("whole answer", totalLatency)]
        for role in Role.allCases { if let waits = queueWait[role] { lines.append(row("queue wait, \(role.rawValue)s (\(waits.count))", waits)) } }
        return lines.joined(separator: "\n")
    }
}
