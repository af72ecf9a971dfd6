import Instrumentation
import Logging
import MeshlineRPC
import OTel
import ServiceLifecycle
import ServiceContextModule
import Tracing

/// Records Meshline's spans with swift-otel's tracer and exports them over OTLP/HTTP.
///
/// Meshline propagates its own ``TraceContext`` (so that audit entries carry trace
/// ids with tracing off); for a sampled call this bridge hands the parent's
/// `traceparent` to swift-otel, starts the span there, and reads the new span's
/// `traceparent` back, so that ids on the wire and in the exported spans agree.
final class OTLPSpanExporter: SpanRecorder, Service {
    private let tracer: any Tracer
    private let backend: any Service

    init(endpoint: String, serviceName: String, logger: Logger) throws {
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.propagators = [.traceContext]
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        configuration.traces.exporter = .otlp
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        configuration.traces.otlpExporter.endpoint = endpoint.hasSuffix("/v1/traces") ? endpoint : endpoint + (endpoint.hasSuffix("/") ? "v1/traces" : "/v1/traces")
        // Meshline decides sampling at the root (--trace-sample-rate); children follow the parent.
        configuration.traces.sampler = .parentBasedAlwaysOn
        configuration.diagnosticLogger = .custom(logger)
        let (tracer, service) = try OTel.makeTracingBackend(configuration: configuration)
        self.tracer = tracer
        self.backend = service
    }

    func startSpan(_ name: String, kind: MeshlineRPC.SpanKind, parent: TraceContext?) -> any RecordingSpan {
        var context = ServiceContext.topLevel
        if let parent {
            tracer.extract(["traceparent": parent.traceparent], into: &context, using: DictionaryCarrier())
        }
        let span = tracer.startAnySpan(name, context: context, ofKind: kind.otel)
        var carrier: [String: String] = [:]
        tracer.inject(span.context, into: &carrier, using: DictionaryCarrier())
        let own = carrier["traceparent"].flatMap(TraceContext.init(traceparent:))
        let trace = TraceContext(
            traceID: own?.traceID ?? parent?.traceID ?? "", spanID: own?.spanID ?? "", parentSpanID: parent?.spanID, sampled: true)
        return OTelRecordingSpan(span: span, context: trace)
    }

    func run() async throws {
        try await backend.run()
    }
}

private final class OTelRecordingSpan: RecordingSpan, @unchecked Sendable {
    // swift-distributed-tracing spans are thread-safe; the box only carries one.
    let span: any Span
    let context: TraceContext

    init(span: any Span, context: TraceContext) {
        self.span = span
        self.context = context
    }

    func setAttribute(_ key: String, _ value: String) {
        span.attributes[key] = value
    }

    func end(failed: Bool) {
        if failed { span.setStatus(SpanStatus(code: .error)) }
        span.end()
    }
}

private struct DictionaryCarrier: Extractor, Injector {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}

extension MeshlineRPC.SpanKind {
    var otel: Tracing.SpanKind {
        switch self {
        case .server: .server
        case .client: .client
        case .internal: .internal
        }
    }
}
