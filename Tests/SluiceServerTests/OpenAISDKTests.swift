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
        let process = try ChildProcess(["/usr/bin/env", "python3"] + arguments, outputPath: TemporaryDirectory.make() + "/output")
        let status = await process.wait(seconds: 120)
        return (status, process.output)
    }
}

/// The other APIs apps speak, as judged by their official clients: `openai` through the Responses and
/// embeddings APIs, `anthropic` through the Messages API.
@Suite struct OfficialClientTests {
    static let scripts = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts").path

    @Test func theOpenAISDKSpeaksResponsesAndEmbeddingsThroughSluice() async throws {
        try await TestNode.with { node in
            let (status, output) = try await OpenAISDKTests.python([Self.scripts + "/openai_responses_check.py", "http://127.0.0.1:\(node.port)/v1"])
            #expect(status == 0, "\(output)")
            #expect(output.contains("openai-responses-check: ok"), "\(output)")
        }
    }

    @Test func theAnthropicSDKSpeaksMessagesThroughSluice() async throws {
        try await TestNode.with { node in
            let (status, output) = try await OpenAISDKTests.python([Self.scripts + "/anthropic_sdk_check.py", "http://127.0.0.1:\(node.port)"])
            #expect(status == 0, "\(output)")
            #expect(output.contains("anthropic-sdk-check: ok"), "\(output)")
        }
    }
}
