import NIOHTTP1
public import Tracing

/// Carries a trace across a boundary: into a provider's HTTP headers (W3C `traceparent`), and into a
/// job (a dictionary kept with it) so that the worker that runs it later continues the request's trace.
public struct TraceHeaders: Injector, Extractor {
    public init() {}

    public func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }

    public func extract(key: String, from carrier: [String: String]) -> String? {
        carrier[key]
    }

    /// The current trace context as a dictionary (empty without a tracer or a trace).
    public static func current() -> [String: String] {
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(ServiceContext.current ?? .topLevel, into: &carrier, using: TraceHeaders())
        return carrier
    }

    /// The trace context a dictionary carries.
    public static func context(from carrier: [String: String]?) -> ServiceContext {
        var context = ServiceContext.topLevel
        if let carrier, !carrier.isEmpty { InstrumentationSystem.instrument.extract(carrier, into: &context, using: TraceHeaders()) }
        return context
    }

    /// Adds the current trace context to an outgoing request's headers.
    static func inject(into headers: inout HTTPHeaders) {
        for (name, value) in current() { headers.replaceOrAdd(name: name, value: value) }
    }
}
