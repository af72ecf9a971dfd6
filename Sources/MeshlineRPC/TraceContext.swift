/// W3C Trace Context (`traceparent`) carried through gRPC metadata, so that one order
/// can be followed through all three services and into every audit entry it causes.
///
/// The server puts the context of each call in ``current`` while the handler runs (a
/// child of the caller's `traceparent`, or a new trace); clients send it on every
/// outgoing call. Propagation is always on; exporting spans is separate (see
/// ``SpanRecorder``).
public struct TraceContext: Sendable, Hashable {
    /// 16 bytes, as 32 lowercase hex digits; never all zero.
    public let traceID: String
    /// This span's 8 bytes, as 16 lowercase hex digits.
    public let spanID: String
    /// The caller's span, when the trace came in with the call.
    public let parentSpanID: String?
    /// The `sampled` flag: whether spans of this trace are recorded.
    public let sampled: Bool

    @TaskLocal public static var current: TraceContext?

    public init(traceID: String, spanID: String, parentSpanID: String?, sampled: Bool) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.sampled = sampled
    }

    /// A new trace; `sampleRate` (0...1) decides its sampled flag.
    public static func root(sampleRate: Double) -> TraceContext {
        var generator = SystemRandomNumberGenerator()
        return TraceContext(
            traceID: hex(generator.next(), generator.next()), spanID: hex(generator.next()), parentSpanID: nil,
            sampled: sampleRate > 0 && Double.random(in: 0..<1) < sampleRate)
    }

    /// A new span in the same trace whose parent is this span.
    public func child() -> TraceContext {
        var generator = SystemRandomNumberGenerator()
        return TraceContext(traceID: traceID, spanID: Self.hex(generator.next()), parentSpanID: spanID, sampled: sampled)
    }

    /// Parses `00-<trace-id>-<parent-id>-<flags>`; nil for anything malformed, as the
    /// specification asks (the receiver then starts a new trace).
    public init?(traceparent text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff", parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
              parts.allSatisfy({ $0.utf8.allSatisfy(Self.isLowerHex) }),
              parts[1].contains(where: { $0 != "0" }), parts[2].contains(where: { $0 != "0" }),
              let flags = UInt8(parts[3], radix: 16)
        else { return nil }
        // Version 00 has exactly four fields; later versions may append more.
        if parts[0] == "00" && parts.count != 4 { return nil }
        self.init(traceID: String(parts[1]), spanID: String(parts[2]), parentSpanID: nil, sampled: flags & 1 == 1)
    }

    /// The `traceparent` value naming this span as the parent of the next hop.
    public var traceparent: String { "00-\(traceID)-\(spanID)-\(sampled ? "01" : "00")" }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }

    private static func hex(_ words: UInt64...) -> String {
        var text = ""
        for word in words {
            let digits = String(word == 0 ? 1 : word, radix: 16)  // never an all-zero id
            text += String(repeating: "0", count: 16 - digits.count) + digits
        }
        return text
    }
}

/// A span being recorded; ``end(failed:)`` hands it to the exporter.
public protocol RecordingSpan: Sendable {
    /// The span's own context: send its ``TraceContext/traceparent`` to the next hop.
    var context: TraceContext { get }
    func setAttribute(_ key: String, _ value: String)
    func end(failed: Bool)
}

/// Kinds of spans, as OpenTelemetry names them.
public enum SpanKind: Sendable { case server, client, `internal` }

/// Where sampled spans go (an OTLP exporter). Without one installed, no span object
/// is ever made: calls only carry their ``TraceContext``.
public protocol SpanRecorder: Sendable {
    /// Starts a span whose parent is `parent` (same trace id, `parent.spanID` as
    /// parent), or the root of a new trace when `parent` is nil.
    func startSpan(_ name: String, kind: SpanKind, parent: TraceContext?) -> any RecordingSpan
}

/// The process's span recorder and sample rate, set once at start by the executable.
public enum TraceRecording {
    nonisolated(unsafe) private static var installed: (any SpanRecorder)?
    nonisolated(unsafe) private static var rate: Double = 0

    /// Installs the recorder before serving; `sampleRate` (0...1) is the share of new
    /// traces that are recorded. Not safe against calls already running.
    public static func install(_ recorder: (any SpanRecorder)?, sampleRate: Double) {
        installed = recorder
        rate = recorder == nil ? 0 : min(max(sampleRate, 0), 1)
    }

    public static var recorder: (any SpanRecorder)? { installed }
    public static var sampleRate: Double { rate }

    /// The span of an incoming call: a child of the caller's `traceparent` (or a new
    /// trace), recorded when sampled and a recorder is installed.
    public static func startServerSpan(_ name: String, traceparent: String?) -> (TraceContext, (any RecordingSpan)?) {
        guard let parent = traceparent.flatMap(TraceContext.init(traceparent:)) else {
            let root = TraceContext.root(sampleRate: rate)
            guard let installed, root.sampled else { return (root, nil) }
            let span = installed.startSpan(name, kind: .server, parent: nil)
            return (span.context, span)
        }
        guard let installed, parent.sampled else { return (parent.child(), nil) }
        let span = installed.startSpan(name, kind: .server, parent: parent)
        return (span.context, span)
    }

    /// Runs `body` in a child span of the current trace (e.g. a storage write),
    /// recorded when the trace is sampled and a recorder is installed.
    public static func withSpan<T, Failure: Error>(_ name: String, attributes: [(String, String)] = [], _ body: () async throws(Failure) -> T) async throws(Failure) -> T {
        guard let installed, let parent = TraceContext.current, parent.sampled else { return try await body() }
        let span = installed.startSpan(name, kind: .internal, parent: parent)
        for (key, value) in attributes { span.setAttribute(key, value) }
        let result: Result<T, Failure> = await TraceContext.$current.withValue(span.context) {
            do throws(Failure) { return .success(try await body()) } catch { return .failure(error) }
        }
        switch result {
        case .success(let value):
            span.end(failed: false)
            return value
        case .failure(let error):
            span.end(failed: true)
            throw error
        }
    }
}
