public import Foundation
import OTel
public import Logging
public import ServiceLifecycle

/// Traces through OpenTelemetry (swift-otel), configured as every OpenTelemetry SDK is: by the
/// `OTEL_*` environment variables (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_PROTOCOL` —
/// `http/protobuf`, the default here, or `http/json` — `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`, …).
/// Off unless an OTLP endpoint is named; Sluice's logs and metrics keep their own outputs.
public enum Observability {
    /// Log metadata from the current span: `trace_id`, `span_id` (nothing outside a traced request).
    public static let logMetadata: Logger.MetadataProvider = OTel.makeLoggingMetadataProvider()

    /// Installs the tracer when the environment names an OTLP endpoint; the service exports spans
    /// until the node stops. nil when tracing is off.
    public static func bootstrap(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> (any Service)? {
        let endpoint = environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ?? environment["OTEL_EXPORTER_OTLP_ENDPOINT"]
        guard let endpoint, !endpoint.isEmpty, environment["OTEL_SDK_DISABLED"]?.lowercased() != "true" else { return nil }
        if let chosen = environment["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] ?? environment["OTEL_EXPORTER_OTLP_PROTOCOL"], chosen == "grpc" {
            throw SluiceNode.StartupError(description: "OTEL_EXPORTER_OTLP_PROTOCOL=grpc: this build exports over HTTP only (http/protobuf or http/json)")
        }
        var configuration = OTel.Configuration.default
        configuration.serviceName = "sluice"
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        return try OTel.bootstrap(configuration: configuration, environment: environment)
    }
}
