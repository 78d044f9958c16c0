import ArgumentParser
import Foundation
import SluiceLoadTest

/// `sluice loadtest`: virtual students and teachers against a Sluice on this machine.
struct LoadTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest", abstract: "Drive a Sluice on loopback with virtual students and teachers; print a report.")

    @Option(help: "The gateway (loopback only).")
    var url = "http://127.0.0.1:8080"

    @Option(help: "Virtual users at the end of the ramp.")
    var users = 100

    @Option(help: "Seconds over which users join.")
    var ramp = 0.0

    @Option(help: "Seconds the test runs.")
    var duration = 30.0

    @Option(help: "Mean seconds a user thinks between messages.")
    var think = 5.0

    @Option(help: "Share of users who are teachers.")
    var teachers = 0.02

    @Option(help: "Distinct questions (Zipf popularity).")
    var questions = 500

    @Option(help: "Share of streams dropped mid-answer and resumed.")
    var drop = 0.05

    @Option(help: "The model alias.")
    var model = "default"

    @Option(name: .customLong("mock-tokens"), help: "Tokens per mock answer (the request's mock object).")
    var mockTokens: Int?

    @Option(name: .customLong("json"), help: "Write the report as JSON to this file.")
    var jsonFile: String?

    func run() async throws {
        let test = try LoadTest(profile: LoadProfile(
            url: url, users: users, rampSeconds: ramp, durationSeconds: duration, thinkSeconds: think, teacherShare: teachers,
            questions: questions, dropShare: drop, model: model, mockTokens: mockTokens))
        let report = await test.run { report in
            let errors = report.errors.values.reduce(0, +)
            FileHandle.standardError.write(Data("\rsent \(report.sent)  completed \(report.completed)  errors \(errors)  resumes \(report.resumes)   ".utf8))
        }
        FileHandle.standardError.write(Data("\n".utf8))
        print(report.markdown)
        if let jsonFile {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: jsonFile))
        }
    }
}
