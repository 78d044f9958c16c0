import Foundation
import NIOHTTP1
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore
import SluiceTesting
import Testing

/// Compatibility as judged by a client nobody here wrote: the official `openai` Python package.
@Suite struct OpenAISDKTests {
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/openai_sdk_check.py").path

    @Test func theOfficialPythonSDKStreamsAndCompletesThroughSluice() async throws {
        try await TestNode.with(configure: { $0.queue.maxAttempts = 1 }) { node in
            let (status, output) = try await Self.python([Self.script, "http://127.0.0.1:\(node.port)/v1"])
            #expect(status == 0, "\(output)")
            #expect(output.contains("openai-sdk-check: ok"), "\(output)")
        }
    }

    static func python(_ arguments: [String]) async throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = try await Blocking.run {
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return data
        }
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
