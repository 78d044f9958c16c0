import ArgumentParser
import Foundation
import SluiceServer

/// `sluice bench-admission`: the cost of admission control per request, measured in-process.
struct BenchAdmissionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-admission", abstract: "Measure admission control's cost per request (admit and settle).")

    @Option(help: "Distinct users.")
    var users = 10_000

    @Option(help: "Requests per run.")
    var requests = 200_000

    @Option(help: "Runs.")
    var runs = 5

    func run() {
        let results = AdmissionBenchmark.run(users: users, requests: requests, runs: runs).sorted()
        for (index, value) in results.enumerated() { print("run \(index + 1): \(String(format: "%.0f", value)) ns per request") }
        print("median: \(String(format: "%.0f", results[results.count / 2])) ns per request (\(users) users, \(requests) requests a run)")
    }
}
