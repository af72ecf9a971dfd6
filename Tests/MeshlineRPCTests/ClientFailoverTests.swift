import MeshlineEcho
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineTestSupport
import Synchronization
import Testing

/// Calls the server never saw go elsewhere; deadlines hold while connecting.
@Suite(.serialized) struct ClientFailoverTests {
    /// Get answers with a count of the calls its handler ran.
    final class CountingService: RPCService, Sendable {
        let calls = Atomic<Int>(0)
        var serviceName: String { EchoDescriptor.fullName }
        var handlers: [RPCHandler] {
            [
                .inlineUnary(EchoDescriptor.get) { [self] (_: EchoRequest, _) throws(RPCError) -> EchoResponse in
                    EchoResponse(text: "healthy", index: Int32(calls.add(1, ordering: .relaxed).newValue))
                }
            ]
        }
    }

    /// A peer that processes no request (every stream refused, or GOAWAY with
    /// last-stream-id 0) beside a healthy server: every call is answered by the healthy
    /// one, whose handler runs once per call.
    @Test(arguments: ["refuse", "goaway"])
    func callsTheServerNeverProcessedGoToTheOtherEndpoint(_ how: String) async throws {
        let refusing = try Scripts.PythonServer(["Tests/Interop/rpc_interop.py", how])
        defer { refusing.stop() }
        let service = CountingService()
        try await withServer(services: [service]) { _, port in
            var configuration = RPCClient.Configuration(endpoints: [.init(host: "127.0.0.1", port: refusing.port), .init(host: "127.0.0.1", port: port)])
            configuration.defaultTimeout = .seconds(5)
            let client = RPCClient(configuration: configuration)
            do {
                for call in 1...4 {
                    let response: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest())
                    #expect(response == EchoResponse(text: "healthy", index: Int32(call)))
                }
                #expect(service.calls.load(ordering: .relaxed) == 4)
                for _ in 0..<2 {
                    let stream = try await client.serverStreaming(HealthDescriptor.watch, HealthCheckRequest(service: ""), as: HealthCheckResponse.self)
                    var responses = stream.makeAsyncIterator()
                    #expect(try await responses.next()?.status == .serving)
                }
            } catch {
                await client.close()
                throw error
            }
            await client.close()
        }
    }

    /// A replica whose TCP handshake never completes beside a healthy one: once the
    /// healthy one is connected, calls go there instead of waiting out their deadline
    /// on the other's connection attempt.
    @Test func callsUseAConnectedEndpointWhileAnotherIsStillConnecting() async throws {
        let unanswered = try Scripts.PythonServer(["Tests/Interop/rpc_interop.py", "unanswered"])
        defer { unanswered.stop() }
        let service = CountingService()
        try await withServer(services: [service]) { _, port in
            let client = RPCClient(configuration: RPCClient.Configuration(endpoints: [
                .init(host: "127.0.0.1", port: unanswered.port), .init(host: "127.0.0.1", port: port),
            ]))
            // Until the healthy endpoint is connected, a call may wait on the other one.
            var connected = false
            for _ in 0..<4 where !connected {
                let _: EchoResponse? = try? await client.unary(EchoDescriptor.get, EchoRequest(), timeout: .seconds(1))
                connected = service.calls.load(ordering: .relaxed) > 0
            }
            #expect(connected)
            let started = ContinuousClock.now
            for _ in 0..<6 {
                let response: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest(), timeout: .seconds(1))
                #expect(response.text == "healthy")
            }
            #expect(ContinuousClock.now - started < .seconds(1), "no call waited on the connecting endpoint")
            await client.close()
        }
    }

    /// An endpoint whose TCP handshake never completes: the call ends at its own
    /// deadline, not after the 5 s connect timeout, and so does a call that joins the
    /// connection attempt already under way.
    @Test func aCallEndsAtItsDeadlineWhileTheConnectHangs() async throws {
        let unanswered = try Scripts.PythonServer(["Tests/Interop/rpc_interop.py", "unanswered"])
        defer { unanswered.stop() }
        let client = RPCClient(configuration: RPCClient.Configuration(endpoints: [.init(host: "127.0.0.1", port: unanswered.port)]))
        for _ in 0..<2 {
            let started = ContinuousClock.now
            let error = await #expect(throws: RPCError.self) {
                let _: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest(), timeout: .seconds(1))
            }
            let elapsed = ContinuousClock.now - started
            #expect(error?.code == .deadlineExceeded, "\(String(describing: error))")
            #expect(elapsed >= .milliseconds(900) && elapsed < .milliseconds(1_500), "\(elapsed)")
        }
        await client.close()
    }
}
