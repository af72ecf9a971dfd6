import Synchronization

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

    /// A new trace; `sampleRate` (0...1) decides its sampled flag. The decision is
    /// taken from the random low half of the trace id (as OpenTelemetry's ratio
    /// sampler does), so it costs no extra draw.
    public static func root(sampleRate: Double) -> TraceContext {
        let high = TraceIDGenerator.next(), low = TraceIDGenerator.next()
        let sampled = sampleRate >= 1 || (sampleRate > 0 && Double(low >> 11) * 0x1p-53 < sampleRate)
        return TraceContext(traceID: hex(high, low), spanID: hex(TraceIDGenerator.next()), parentSpanID: nil, sampled: sampled)
    }

    /// A new span in the same trace whose parent is this span.
    public func child() -> TraceContext {
        TraceContext(traceID: traceID, spanID: Self.hex(TraceIDGenerator.next()), parentSpanID: spanID, sampled: sampled)
    }

    /// Parses `00-<trace-id>-<parent-id>-<flags>`; nil for anything malformed, as the
    /// specification asks (the receiver then starts a new trace). Reads the UTF-8
    /// bytes in place: every traced call parses one.
    public init?(traceparent text: String) {
        var text = text
        let parsed: (traceID: String, spanID: String, sampled: Bool)? = text.withUTF8 { bytes in
            // version(2) - trace-id(32) - parent-id(16) - flags(2); later versions may append "-…".
            guard bytes.count >= 55, bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"), bytes[52] == UInt8(ascii: "-") else { return nil }
            guard let version = Self.hexByte(bytes[0], bytes[1]), version != 0xFF, let flags = Self.hexByte(bytes[53], bytes[54]) else { return nil }
            if bytes.count > 55 {
                // Version 00 has exactly four fields.
                guard version != 0, bytes[55] == UInt8(ascii: "-") else { return nil }
            }
            var traceNonZero = false, spanNonZero = false
            for index in 3..<35 {
                guard Self.hexValue(bytes[index]) != nil else { return nil }
                traceNonZero = traceNonZero || bytes[index] != UInt8(ascii: "0")
            }
            for index in 36..<52 {
                guard Self.hexValue(bytes[index]) != nil else { return nil }
                spanNonZero = spanNonZero || bytes[index] != UInt8(ascii: "0")
            }
            guard traceNonZero, spanNonZero else { return nil }
            return (
                String(decoding: UnsafeBufferPointer(rebasing: bytes[3..<35]), as: UTF8.self),
                String(decoding: UnsafeBufferPointer(rebasing: bytes[36..<52]), as: UTF8.self), flags & 1 == 1
            )
        }
        guard let parsed else { return nil }
        self.init(traceID: parsed.traceID, spanID: parsed.spanID, parentSpanID: nil, sampled: parsed.sampled)
    }

    private static func hexByte(_ high: UInt8, _ low: UInt8) -> UInt8? {
        guard let high = hexValue(high), let low = hexValue(low) else { return nil }
        return high << 4 | low
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    /// The `traceparent` value naming this span as the parent of the next hop.
    public var traceparent: String { "00-\(traceID)-\(spanID)-\(sampled ? "01" : "00")" }

    /// 16 lowercase hex digits per word, written straight into the string.
    private static func hex(_ words: UInt64...) -> String {
        String(unsafeUninitializedCapacity: 16 * words.count) { buffer in
            var index = 0
            for word in words {
                let word = word == 0 ? 1 : word  // never an all-zero id
                for shift in stride(from: 60, through: 0, by: -4) {
                    buffer[index] = hexDigits[Int((word >> UInt64(shift)) & 0xF)]
                    index += 1
                }
            }
            return index
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}

/// Random ids for traces and spans: SplitMix64 over an atomic counter seeded once
/// from the system's generator. Ids must be unique and unpredictable enough to not
/// collide, not secret; one system-RNG call (a getrandom syscall) per id cost more
/// than the rest of a small call's tracing.
enum TraceIDGenerator {
    private static let state = Atomic<UInt64>(UInt64.random(in: .min ... .max))

    static func next() -> UInt64 {
        let (_, counter) = state.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed)
        var z = counter
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A span being recorded; ``end(failed:)`` hands it to the exporter.
public protocol RecordingSpan: Sendable {
    /// The span's own context (the one it was started with): send its
    /// ``TraceContext/traceparent`` to the next hop.
    var context: TraceContext { get }
    func setAttribute(_ key: String, _ value: String)
    func end(failed: Bool)
}

/// Kinds of spans, as OpenTelemetry names them.
public enum SpanKind: Sendable { case server, client, `internal` }

/// Where sampled spans go (an OTLP exporter). Without one installed, no span object
/// is ever made: calls only carry their ``TraceContext``.
public protocol SpanRecorder: Sendable {
    /// Starts recording the span `context` (ids already chosen: a root from
    /// ``TraceContext/root(sampleRate:)`` or a ``TraceContext/child()``), so that the
    /// ids on the wire and the exported ones are the same.
    func startSpan(_ name: String, kind: SpanKind, context: TraceContext) -> any RecordingSpan
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
        let context = traceparent.flatMap(TraceContext.init(traceparent:))?.child() ?? TraceContext.root(sampleRate: rate)
        guard let installed, context.sampled else { return (context, nil) }
        return (context, installed.startSpan(name, kind: .server, context: context))
    }

    /// Runs `body` in a child span of the current trace (e.g. a storage write),
    /// recorded when the trace is sampled and a recorder is installed.
    public static func withSpan<T, Failure: Error>(_ name: String, attributes: [(String, String)] = [], _ body: () async throws(Failure) -> T) async throws(Failure) -> T {
        guard let installed, let parent = TraceContext.current, parent.sampled else { return try await body() }
        let span = installed.startSpan(name, kind: .internal, context: parent.child())
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
