import Foundation
import SluiceProviders
import SluiceServer
import SluiceTesting
import Testing

/// The pages as a person uses them, in a real browser: headless Chromium driven by Selenium
/// (`scripts/browser_check.py`), against `sluice serve` processes the script starts, kills with SIGKILL
/// and restarts itself. It asks, refreshes mid-answer, survives a node's kill, cancels, switches
/// language, signs in to the dashboard and watches it follow the queue and the mode, and fails on any
/// console error. Screenshots go to `.build/screenshots/` (two of them are in `docs/`).
@Suite struct BrowserTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func thePagesWorkInChromium() async throws {
        let screenshots = Self.root.appendingPathComponent(".build/screenshots").path
        try FileManager.default.createDirectory(atPath: screenshots, withIntermediateDirectories: true)
        let process = try ChildProcess(
            ["/usr/bin/env", "python3", Self.root.appendingPathComponent("scripts/browser_check.py").path,
             "--sluice", try SluiceProcess.executable().path, "--screenshots", screenshots],
            outputPath: TemporaryDirectory.make() + "/browser")
        let status = await process.wait(seconds: 300)
        #expect(status == 0, "\(process.output.suffix(8000))")
        #expect(process.output.contains("browser-check: ok"), "\(process.output.suffix(8000))")
    }

    /// The README's runnable example of `sluice.js` (`examples/ask.mjs`, in Node) asks and streams an answer.
    @Test func theRunnableExampleOfTheClientLibraryAsksThroughSluice() async throws {
        try await TestNode.with(configure: { $0.mock = .init(ttftMs: 0, tokensPerSecond: 0, tokens: 20) }) { node in
            let process = try ChildProcess(
                ["/usr/bin/env", "node", Self.root.appendingPathComponent("examples/ask.mjs").path, "Why is the sky blue?"],
                environment: ChildProcess.environment(["SLUICE_URL": "http://127.0.0.1:\(node.port)"]),
                outputPath: TemporaryDirectory.make() + "/example")
            let status = await process.wait(seconds: 60)
            #expect(status == 0, "\(process.output)")
            #expect(process.output.contains("[done: job job_"), "\(process.output)")
            #expect(process.output.split(separator: " ").count > 20, "the answer's words were printed: \(process.output)")
        }
    }
}
