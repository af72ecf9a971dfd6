import MeshlineEcho
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import Testing

@Suite struct EndToEndTests {
    @Test func unaryRoundTrip() async throws {
        try await withServer { _, port in
            try await withClient(port: port) { client in
                let response: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest(text: "hello", payload: [1, 2, 3]))
                #expect(response == EchoResponse(text: "hello", payload: [1, 2, 3], index: 0))
            }
        }
    }

    @Test func serverStreamingDeliversEveryMessageInOrder() async throws {
        try await withServer { _, port in
            try await withClient(port: port) { client in
                let stream = try await client.serverStreaming(EchoDescriptor.expand, EchoRequest(text: "s", responseCount: 50), as: EchoResponse.self)
                var indices: [Int32] = []
                for try await response in stream { indices.append(response.index) }
                #expect(indices == Array(0..<50))
            }
        }
    }

    @Test func healthCheck() async throws {
        try await withServer { server, port in
            try await withClient(port: port) { client in
                let overall: HealthCheckResponse = try await client.unary(HealthDescriptor.check, HealthCheckRequest())
                #expect(overall.status == .serving)
                let echo: HealthCheckResponse = try await client.unary(HealthDescriptor.check, HealthCheckRequest(service: EchoDescriptor.fullName))
                #expect(echo.status == .serving)
                await #expect(throws: RPCError(code: .notFound, message: "unknown service 'nope'")) {
                    let _: HealthCheckResponse = try await client.unary(HealthDescriptor.check, HealthCheckRequest(service: "nope"))
                }
            }
        }
    }
}
