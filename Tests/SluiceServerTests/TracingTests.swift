import Foundation
import SluiceTesting
import Testing

/// Traces through OpenTelemetry: a real `sluice serve` exports to an OTLP/HTTP receiver the test runs,
/// configured by the standard environment variables only.
@Suite struct TracingTests {
    /// Every span a receiver was sent, as (trace id, name, attributes).
    static func spans(_ receiver: FakeUpstream) -> [(trace: String, name: String, attributes: [String: Any])] {
        var spans: [(String, String, [String: Any])] = []
        for request in receiver.received where request.path == "/v1/traces" {
            let export = (try? JSONSerialization.jsonObject(with: request.body)) as? [String: Any] ?? [:]
            for resource in export["resourceSpans"] as? [[String: Any]] ?? [] {
                for scope in resource["scopeSpans"] as? [[String: Any]] ?? [] {
                    for span in scope["spans"] as? [[String: Any]] ?? [] {
                        var attributes: [String: Any] = [:]
                        for attribute in span["attributes"] as? [[String: Any]] ?? [] {
                            let value = attribute["value"] as? [String: Any] ?? [:]
                            attributes[attribute["key"] as? String ?? ""] = value["stringValue"] ?? value["intValue"] ?? value["boolValue"] ?? value["doubleValue"]
                        }
                        spans.append((Self.hex(span["traceId"] as? String ?? ""), span["name"] as? String ?? "", attributes))
                    }
                }
            }
        }
        return spans
    }

    /// A trace id as hex: OTLP/JSON writes it in hex, swift-otel in base64.
    static func hex(_ id: String) -> String {
        if id.count == 32, id.allSatisfy(\.isHexDigit) { return id.lowercased() }
        return Data(base64Encoded: id).map { $0.map { String(format: "%02x", $0) }.joined() } ?? id
    }

    @Test func aRequestsTraceContinuesTheCallersAndCoversTheQueueAndTheProviderAttempt() async throws {
        try await FakeUpstream.with { receiver in
            try await FakeUpstream.with { provider in
                let config = """
                    deployments:
                      names: [up]
                      up: {provider: openai, baseURL: "\(provider.openAIBaseURL)", model: up-model}
                    models:
                      aliases: [gpt]
                      gpt: {deployments: [up]}

                    """
                let directory = TemporaryDirectory.make()
                try config.write(toFile: directory + "/sluice.yaml", atomically: true, encoding: .utf8)
                let node = try await SluiceProcess(
                    dataDirectory: directory + "/data",
                    environment: [
                        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(receiver.port)", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
                        "OTEL_SERVICE_NAME": "sluice-under-test", "OTEL_BSP_SCHEDULE_DELAY": "100",
                    ],
                    arguments: ["--config", directory + "/sluice.yaml"])
                defer { node.kill() }
                let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
                let reply = try await node.client.post(
                    "/v1/chat/completions", json: ["model": "gpt", "messages": [["role": "user", "content": "trace me"]]],
                    headers: ["traceparent": "00-\(traceID)-00f067aa0ba902b7-01"])
                #expect(reply.status == 200, "\(reply.text)")
                // The provider was called within the same trace.
                let sent = try #require(provider.received.first { $0.path == "/v1/chat/completions" })
                #expect(sent.headers["traceparent"]?.hasPrefix("00-\(traceID)-") == true, "\(sent.headers)")
                // The request's own span ends after its answer is sent, so it may come in a later batch: wait for it too.
                func isRequestSpan(_ span: (name: String, attributes: [String: Any])) -> Bool {
                    span.name.contains("/v1/chat/completions") || span.attributes["http.route"] as? String == "/v1/chat/completions"
                }
                try await eventually("the spans arrive", seconds: 20) {
                    let traced = Self.spans(receiver).filter { $0.trace == traceID }
                    return Set(traced.map(\.name)).isSuperset(of: ["queue wait", "provider attempt", "admission", "cache lookup", "store commit"])
                        && traced.contains { isRequestSpan(($0.name, $0.attributes)) }
                }
                let spans = Self.spans(receiver).filter { $0.trace == traceID }
                let attempt = try #require(spans.first { $0.name == "provider attempt" })
                #expect(attempt.attributes["sluice.deployment"] as? String == "up")
                #expect(attempt.attributes["sluice.outcome"] as? String == "success")
                #expect(spans.contains { isRequestSpan(($0.name, $0.attributes)) }, "the request's own span: \(spans.map(\.name))")
                let export = try #require(receiver.received.first { $0.path == "/v1/traces" })
                #expect(String(decoding: export.body, as: UTF8.self).contains("sluice-under-test"), "the service is named by OTEL_SERVICE_NAME")
            }
        }
    }

    @Test func anExporterThisBuildDoesNotHaveStopsTheNodeWithAClearMessage() async throws {
        let directory = TemporaryDirectory.make()
        do {
            let node = try await SluiceProcess(
                dataDirectory: directory, environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"])
            node.kill()
            Issue.record("a node started with an exporter it does not have")
        } catch {
            #expect("\(error)".contains("http/protobuf or http/json"), "\(error)")
        }
    }

    @Test func jsonLogsCarryTheRequestTheJobAndTheTrace() async throws {
        try await FakeUpstream.with { receiver in
            let directory = TemporaryDirectory.make()
            let log = directory + "/sluice.log"
            let node = try await SluiceProcess(
                dataDirectory: directory + "/data",
                environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(receiver.port)", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "SLUICE_LOG_FORMAT": "json"],
                arguments: ["--log-level", "debug"], logFile: log)
            defer { node.kill() }
            let traceID = "0af7651916cd43dd8448eb211c80319c"
            let reply = try await node.client.post(
                "/v1/chat/completions", json: chatBody("log me"), headers: ["traceparent": "00-\(traceID)-b7ad6b7169203331-01"])
            #expect(reply.status == 200)
            let job = try #require(reply.headers["x-sluice-job-id"])
            var accepted: [String: Any]?
            try await eventually("the job's log line is written") {
                let lines = (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n") ?? []
                accepted = lines.lazy.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                    .first { $0["message"] as? String == "job accepted" }
                return accepted != nil
            }
            let line = try #require(accepted)
            #expect(line["sluice.job"] as? String == job)
            #expect(line["trace_id"] as? String == traceID, "\(line)")
            #expect(line["hb.request.id"] != nil, "\(line)")
            #expect(line["level"] as? String == "debug" && line["time"] != nil)
        }
    }
}
