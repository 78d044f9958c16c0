public import ArgumentParser
import Foundation
import SluiceLoadTest

extension LoadProfile.Kind: ExpressibleByArgument {}

/// `sluice loadtest`: virtual students and teachers against a Sluice on this machine.
struct LoadTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "Drive a Sluice on loopback with virtual students and teachers; print a report.",
        discussion: """
            Profiles: steady (users, or --rate arrivals, from the start), exam-night (users join over --ramp, \
            80 % of the run by default), reconnect-storm (at --storm-at every open stream drops at once and \
            every user resumes with jittered backoff). Every run ends after --duration; only loopback is allowed.
            """)

    @Option(help: "The gateway (loopback only).")
    var url = "http://127.0.0.1:8080"

    @Option(help: "steady, exam-night or reconnect-storm.")
    var profile = LoadProfile.Kind.steady

    @Option(help: "Virtual users at the end of the ramp (with --rate: the population senders are drawn from).")
    var users = 100

    @Option(help: "Open loop: requests per second (Poisson arrivals) instead of users who wait for their answers.")
    var rate: Double?

    @Option(help: "Seconds over which users join (exam-night: 80 % of the run).")
    var ramp: Double?

    @Option(help: "Seconds the test runs.")
    var duration = 30.0

    @Option(help: "Mean seconds a user thinks between messages.")
    var think = 5.0

    @Option(help: "Share of users who are teachers.")
    var teachers = 0.02

    @Option(help: "Share of users whose tab is in the background (batch questions, idle streams, asking 10× less).")
    var background = 0.0

    @Option(help: "Distinct questions (Zipf popularity); 0: every question new.")
    var questions = 500

    @Option(help: "Share of streams dropped mid-answer and resumed.")
    var drop = 0.05

    @Option(name: .customLong("storm-at"), help: "reconnect-storm: second at which every stream drops (default: a third of the run).")
    var stormAt: Double?

    @Option(name: .customLong("max-requests"), help: "Stop sending after this many requests (the run also ends at --duration).")
    var maxRequests: Int?

    @Option(help: "The model alias.")
    var model = "default"

    @Option(name: .customLong("mock-tokens"), help: "Tokens per mock answer (the request's mock object); a range LOW-HIGH varies by question.")
    var mockTokens: String?

    @Option(name: .customLong("mock-rate"), help: "Mock tokens per second.")
    var mockRate: Double?

    @Option(name: .customLong("json"), help: "Write the report as JSON to this file.")
    var jsonFile: String?

    @Option(name: .customLong("svg"), help: "Write a plot of throughput and latency over time (SVG) to this file.")
    var svgFile: String?

    func run() async throws {
        let bounds = mockTokens?.split(separator: "-").compactMap { Int($0) } ?? []
        let test = try LoadTest(profile: LoadProfile(
            url: url, kind: profile, users: users, rampSeconds: ramp, durationSeconds: duration, thinkSeconds: think, teacherShare: teachers,
            backgroundShare: background, questions: questions, dropShare: drop, arrivalRate: rate, stormAt: stormAt, maxRequests: maxRequests, model: model,
            mockTokens: bounds.first, mockTokensMax: bounds.count > 1 ? bounds[1] : nil, mockTokensPerSecond: mockRate))
        let report = await test.run { report in
            let errors = report.errors.values.reduce(0, +)
            // The commonest kind, so that a run that dies before its report still said what failed.
            let commonest = report.errors.max { $0.value < $1.value }.map { " (most: \($0.key) \($0.value))" } ?? ""
            let line = "\rsent \(report.sent)  completed \(report.completed)  open streams \(report.openStreams)  errors \(errors)\(commonest)  resumes \(report.resumes)   "
            FileHandle.standardError.write(Data(line.utf8))
        }
        FileHandle.standardError.write(Data("\n".utf8))
        print(report.markdown)
        if let jsonFile { try report.json.write(to: URL(fileURLWithPath: jsonFile)) }
        if let svgFile { try Data(report.svg.utf8).write(to: URL(fileURLWithPath: svgFile)) }
    }
}
