import MeshlineEcho
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineTestSupport
import Testing

/// Several endpoints: round-robin, health-aware choice, reconnection.
@Suite(.serialized) struct ClientBalancingTests {
    /// A service that answers Get with its own name, to see which server answered.
    struct NamedService: RPCService {
        let name: String
        var serviceName: String { EchoDescriptor.fullName }
        var handlers: [RPCHandler] {
            let name = self.name
            return [.inlineUnary(EchoDescriptor.get) { (_: EchoRequest, _) throws(RPCError) -> EchoResponse in EchoResponse(text: name) }]
        }
    }

    static func start(_ name: String, port: Int = 0) async throws -> (RPCServer, Int) {
        var configuration = RPCServer.Configuration()
        configuration.port = port
        configuration.threads = 1
        let server = RPCServer(configuration: configuration, services: [NamedService(name: name)])
        return (server, try await server.start())
    }

    static func whoAnswers(_ client: RPCClient, calls: Int) async throws -> [String] {
        var names: [String] = []
        for _ in 0..<calls {
            let response: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest())
            names.append(response.text)
        }
        return names
    }

    /// Checks `condition` every 50 ms for up to 5 s.
    static func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<100 {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    @Test func callsAlternateAcrossEndpoints() async throws {
        let (a, portA) = try await Self.start("a")
        let (b, portB) = try await Self.start("b")
        let client = try RPCClient(endpoints: ["127.0.0.1:\(portA)", "127.0.0.1:\(portB)"])
        let names = try await Self.whoAnswers(client, calls: 10)
        #expect(names.filter { $0 == "a" }.count == 5)
        #expect(names.filter { $0 == "b" }.count == 5)
        await client.close()
        await a.shutdown()
        await b.shutdown()
    }

    @Test func anEndpointThatIsNotServingIsSkipped() async throws {
        let (a, portA) = try await Self.start("a")
        let (b, portB) = try await Self.start("b")
        var configuration = RPCClient.Configuration(endpoints: [.init(host: "127.0.0.1", port: portA), .init(host: "127.0.0.1", port: portB)])
        configuration.healthCheckInterval = .milliseconds(50)
        let client = RPCClient(configuration: configuration)
        b.health.setStatus(.notServing, for: "")
        // The client sees the change at its next health check (every 50 ms; later on a loaded machine).
        #expect(try await Self.eventually { try await Self.whoAnswers(client, calls: 6) == Array(repeating: "a", count: 6) })
        b.health.setStatus(.serving, for: "")
        #expect(try await Self.eventually { Set(try await Self.whoAnswers(client, calls: 6)) == ["a", "b"] })
        await client.close()
        await a.shutdown()
        await b.shutdown()
    }

    @Test func aDeadEndpointIsSkippedAndARestartedOneIsUsedAgain() async throws {
        let (a, portA) = try await Self.start("a")
        var (b, portB) = try await Self.start("b")
        var configuration = RPCClient.Configuration(endpoints: [.init(host: "127.0.0.1", port: portA), .init(host: "127.0.0.1", port: portB)])
        configuration.initialBackoff = .milliseconds(50)
        configuration.maximumBackoff = .milliseconds(100)
        let client = RPCClient(configuration: configuration)
        #expect(Set(try await Self.whoAnswers(client, calls: 4)) == ["a", "b"])

        await b.shutdown(gracePeriod: .milliseconds(100))
        // Every call still succeeds: b's failure sends the call on to a.
        #expect(try await Self.whoAnswers(client, calls: 6) == Array(repeating: "a", count: 6))

        (b, portB) = try await Self.start("b", port: portB)
        // Used again once the reconnect backoff (50–100 ms) has passed.
        #expect(try await Self.eventually { Set(try await Self.whoAnswers(client, calls: 6)) == ["a", "b"] })
        await client.close()
        await a.shutdown()
        await b.shutdown()
    }

    @Test func noReachableEndpointIsUnavailable() async throws {
        let client = try RPCClient(endpoints: ["127.0.0.1:1"])
        await #expect {
            let _: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest())
        } throws: { ($0 as? RPCError)?.code == .unavailable }
        await client.close()
    }
}

/// Liveness: health Watch updates, client keepalive, status mapping.
@Suite(.serialized) struct LivenessTests {
    @Test func healthWatchSendsTheCurrentStatusThenEveryChange() async throws {
        try await withServer { server, port in
            try await withClient(port: port) { client in
                let stream = try await client.serverStreaming(HealthDescriptor.watch, HealthCheckRequest(service: EchoDescriptor.fullName), timeout: .seconds(10), as: HealthCheckResponse.self)
                var iterator = stream.makeAsyncIterator()
                #expect(try await iterator.next()?.status == .serving)
                server.health.setStatus(.notServing, for: EchoDescriptor.fullName)
                #expect(try await iterator.next()?.status == .notServing)
                server.health.setStatus(.serving, for: EchoDescriptor.fullName)
                #expect(try await iterator.next()?.status == .serving)

                let unknown = try await client.serverStreaming(HealthDescriptor.watch, HealthCheckRequest(service: "later"), timeout: .seconds(10), as: HealthCheckResponse.self)
                var unknownIterator = unknown.makeAsyncIterator()
                #expect(try await unknownIterator.next()?.status == .serviceUnknown)
                server.health.setStatus(.serving, for: "later")
                #expect(try await unknownIterator.next()?.status == .serving)
            }
        }
    }

    @Test func clientKeepaliveGivesUpOnASilentServer() async throws {
        let blackhole = try Scripts.PythonServer(["Tests/Interop/rpc_interop.py", "blackhole"])
        defer { blackhole.stop() }
        var configuration = RPCClient.Configuration(endpoints: [.init(host: "127.0.0.1", port: blackhole.port)])
        configuration.keepaliveInterval = .milliseconds(200)
        configuration.keepaliveTimeout = .milliseconds(200)
        configuration.defaultTimeout = nil
        let client = RPCClient(configuration: configuration)
        let started = ContinuousClock.now
        await #expect {
            let _: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest())
        } throws: { ($0 as? RPCError)?.code == .unavailable }
        #expect(ContinuousClock.now - started < .seconds(3))
        await client.close()
    }

    @Test func httpAndHTTP2ErrorsMapToGRPCCodes() {
        #expect(StatusCode(httpStatus: 400) == .internal)
        #expect(StatusCode(httpStatus: 401) == .unauthenticated)
        #expect(StatusCode(httpStatus: 403) == .permissionDenied)
        #expect(StatusCode(httpStatus: 404) == .unimplemented)
        for status in [429, 502, 503, 504] { #expect(StatusCode(httpStatus: status) == .unavailable) }
        #expect(StatusCode(httpStatus: 500) == .unknown)
        #expect(StatusCode(http2ErrorCode: 0x0) == .internal)
        #expect(StatusCode(http2ErrorCode: 0x7) == .unavailable)
        #expect(StatusCode(http2ErrorCode: 0x8) == .cancelled)
        #expect(StatusCode(http2ErrorCode: 0xB) == .resourceExhausted)
        #expect(StatusCode(http2ErrorCode: 0xC) == .permissionDenied)
        #expect(StatusCode(wireValue: 99) == .unknown)
    }
}
