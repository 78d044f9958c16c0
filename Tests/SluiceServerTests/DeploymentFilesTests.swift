import Foundation
import SluiceTesting
import Testing

/// The files under deploy/, checked with what this machine can check (`scripts/deploy_check.py`): YAML
/// and JSON parse, the dashboard and alert rules query only metrics Sluice exports (histograms as a live
/// node shows them), the systemd unit verifies, the commands use only real options, the sample
/// configuration passes `check-config`.
@Suite struct DeploymentFilesTests {
    @Test func theDeploymentFilesAreValidAndQueryOnlyRealMetrics() async throws {
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/deploy_check.py").path
        try await TestNode.with { node in
            // Traffic that makes every histogram: a job (queue wait, first token) and an exact cache hit.
            for _ in 0..<2 { _ = try await node.client.post("/v1/chat/completions", json: chatBody("why is the sky blue?")) }
            let metrics = try await node.client.get("/metrics").text
            let file = TemporaryDirectory.make() + "/metrics.txt"
            try metrics.write(toFile: file, atomically: true, encoding: .utf8)
            let (status, output) = try await OpenAISDKTests.python([script, try SluiceProcess.executable().path, file])
            #expect(status == 0, "\(output)")
            #expect(output.contains("deploy-check: ok"), "\(output)")
        }
    }
}
