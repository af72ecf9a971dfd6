import MeshlineEcho
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
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
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await Self.whoAnswers(client, calls: 6) == Array(repeating: "a", count: 6))
        b.health.setStatus(.serving, for: "")
        try await Task.sleep(for: .milliseconds(300))
        #expect(Set(try await Self.whoAnswers(client, calls: 6)) == ["a", "b"])
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
        try await Task.sleep(for: .milliseconds(300))
        #expect(Set(try await Self.whoAnswers(client, calls: 6)) == ["a", "b"])
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
