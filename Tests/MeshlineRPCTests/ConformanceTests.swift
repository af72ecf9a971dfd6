import Foundation
import MeshlineEcho
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineTestSupport
import Testing

/// Protocol details and defences checked at the frame level, plus drain, deadlines
/// and keepalive seen from the server's side.
@Suite(.serialized) struct ConformanceTests {
    @Test func frameLevelCases() async throws {
        try await withServer { _, port in
            let (status, output) = try await Scripts.runPython(["Tests/Interop/h2_conformance.py", "cases", String(port)])
            #expect(status == 0, "frame-level cases failed:\n\(output)")
            #expect(output.contains("10 passed, 0 failed"), "\(output)")
        }
    }

    @Test func aReaderThatNeverReadsDoesNotMakeTheServerBuffer() async throws {
        let observations = EchoService.Observations()
        try await withServer(services: [EchoService(observations: observations)]) { _, port in
            let stall = Task { try await Scripts.runPython(["Tests/Interop/h2_conformance.py", "stall", String(port), "8"]) }
            // 20 streams asked for 100,000 messages of 16 KiB each; the handlers must be
            // held back by flow control and the per-stream send buffer (256 KiB).
            let settled = try await settledCount { observations.messagesWritten("stalled") }
            try await Task.sleep(for: .seconds(1))
            let later = observations.messagesWritten("stalled")
            #expect(later == settled, "handlers kept producing while the client read nothing (\(settled) -> \(later))")
            #expect(settled > 0 && settled < 20 * 40, "\(settled) messages were accepted for a client that reads nothing")
            _ = try await stall.value
        }
    }

    @Test func cancelledPausedStreamsGiveTheConnectionWindowBack() async throws {
        let observations = EchoService.Observations()
        try await withServer(services: [EchoService(observations: observations)]) { _, port in
            try await withClient(port: port) { client in
                // 24 streams that nobody reads: each holds back up to its 1 MiB stream
                // window, more than the connection's 16 MiB in all.
                var streams: [ResponseStream<EchoResponse>] = []
                for _ in 0..<24 {
                    streams.append(try await client.serverStreaming(
                        EchoDescriptor.expand, EchoRequest(text: "paused", responseSize: 16_384, responseCount: 100_000), timeout: .seconds(60)))
                }
                let settled = try await settledCount { observations.messagesWritten("paused") }
                #expect(settled > 0 && settled < 24 * 200, "\(settled) messages were sent to readers that read nothing")
                streams.removeAll()  // cancels every call

                // A call on the same connection still gets its response (without the
                // window back it would wait for DATA that can never be sent).
                let response: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest(text: "after", responseSize: 65_536), timeout: .seconds(5))
                #expect(response.payload.count == 65_536)
            }
        }
    }

    @Test func deadlinesCancelTheHandler() async throws {
        let observations = EchoService.Observations()
        try await withServer(services: [EchoService(observations: observations)]) { _, port in
            _ = try await withClient(port: port) { client in
                await #expect {
                    let _: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest(text: "deadline-me", delayMs: 5000), timeout: .milliseconds(200))
                } throws: { ($0 as? RPCError)?.code == .deadlineExceeded }
            }
            let deadline = ContinuousClock.now + .seconds(2)
            while !observations.cancelledCalls.contains("deadline-me"), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(observations.cancelledCalls.contains("deadline-me"))
        }
    }

    @Test func gracefulShutdownFinishesInFlightCallsAndRefusesNewOnes() async throws {
        var configuration = RPCServer.Configuration()
        configuration.threads = 1
        let server = RPCServer(configuration: configuration, services: [EchoService()])
        let port = try await server.start()
        try await withClient(port: port) { client in
            let inFlight = Task {
                let response: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest(text: "in flight", delayMs: 500))
                return response.text
            }
            try await Task.sleep(for: .milliseconds(100))
            let started = ContinuousClock.now
            await server.shutdown(gracePeriod: .seconds(5))
            #expect(ContinuousClock.now - started < .seconds(3), "shutdown waited longer than the call needed")
            #expect(try await inFlight.value == "in flight")
            #expect(server.health.status(of: "") == .notServing)
            await #expect {
                let _: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest(text: "too late"))
            } throws: { ($0 as? RPCError)?.code == .unavailable }
        }
    }

    @Test func keepaliveClosesAPeerThatNeverAnswersPings() async throws {
        try await withServer(configure: {
            $0.keepaliveInterval = .milliseconds(200)
            $0.keepaliveTimeout = .milliseconds(200)
        }) { _, port in
            let (status, output) = try await Scripts.runPython(["Tests/Interop/h2_conformance.py", "silent", String(port), "3"])
            #expect(status == 0, "\(output)")
        }
    }
}

/// The value `read` returns once it stops changing (two equal samples 300 ms apart),
/// so that a bound is checked after the producers have reached it, however busy
/// the machine is; gives up changing after 6 s.
func settledCount(_ read: () -> Int) async throws -> Int {
    var last = read()
    for _ in 0..<20 {
        try await Task.sleep(for: .milliseconds(300))
        let now = read()
        if now == last && now > 0 { return now }
        last = now
    }
    return last
}
