import MeshlineRPC
import Testing

/// W3C trace context: the ids a new trace gets, the sampling decision taken from
/// them, and the `traceparent` text both ways.
struct TraceContextTests {
    @Test func newTracesHaveUniqueWellFormedIdsThatRoundTrip() {
        var traces = Set<String>(), spans = Set<String>()
        for _ in 0..<100_000 {
            let root = TraceContext.root(sampleRate: 0)
            traces.insert(root.traceID)
            spans.insert(root.spanID)
            let child = root.child()
            spans.insert(child.spanID)
            #expect(child.traceID == root.traceID && child.parentSpanID == root.spanID)
        }
        #expect(traces.count == 100_000 && spans.count == 200_000)
        for id in traces.prefix(1_000) {
            #expect(id.count == 32 && id.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) })
            let parsed = TraceContext(traceparent: "00-\(id)-00f067aa0ba902b7-01")
            #expect(parsed?.traceID == id && parsed?.sampled == true)
        }
        let root = TraceContext.root(sampleRate: 1)
        #expect(TraceContext(traceparent: root.traceparent)?.spanID == root.spanID)
    }

    @Test func theSampleRateIsTheShareOfNewTracesSampled() {
        func share(_ rate: Double) -> Double {
            Double((0..<100_000).filter { _ in TraceContext.root(sampleRate: rate).sampled }.count) / 100_000
        }
        #expect(share(0) == 0)
        #expect(share(1) == 1)
        // Binomial, n = 100,000: the standard deviation is 0.03 points at 1% and 0.16 at 50%.
        #expect(abs(share(0.01) - 0.01) < 0.002)
        #expect(abs(share(0.5) - 0.5) < 0.01)
    }

    @Test func malformedTraceparentsAreRefusedAsTheSpecificationAsks() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736", span = "00f067aa0ba902b7"
        let parsed = TraceContext(traceparent: "00-\(trace)-\(span)-01")
        #expect(parsed == TraceContext(traceID: trace, spanID: span, parentSpanID: nil, sampled: true))
        #expect(TraceContext(traceparent: "00-\(trace)-\(span)-00")?.sampled == false)
        // A later version may append fields; version 00 may not.
        #expect(TraceContext(traceparent: "01-\(trace)-\(span)-01-extra")?.traceID == trace)
        for bad in [
            "", "00-\(trace)-\(span)", "00-\(trace)-\(span)-01-extra", "ff-\(trace)-\(span)-01",
            "00-\(trace.uppercased())-\(span)-01", "00-\(String(repeating: "0", count: 32))-\(span)-01",
            "00-\(trace)-0000000000000000-01", "00-\(trace)-\(span)-0g", "00_\(trace)-\(span)-01", "00-\(trace.dropLast())-\(span)-01",
            "01-\(trace)-\(span)-01x", "0-\(trace)-\(span)-01é",
        ] {
            #expect(TraceContext(traceparent: bad) == nil, "\(bad)")
        }
    }
}
