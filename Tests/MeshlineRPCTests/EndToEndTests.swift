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

    /// A service whose Get fails with `violations` field violations.
    struct InvalidService: RPCService {
        let violations: Int
        var serviceName: String { EchoDescriptor.fullName }
        var handlers: [RPCHandler] {
            let violations = (0..<self.violations).map {
                BadRequest.FieldViolation(field: "lines[\($0)].sku", description: "SKU 'unknown-\($0)' is not in the catalogue")
            }
            return [
                .inlineUnary(EchoDescriptor.get) { (_: EchoRequest, _) throws(RPCError) -> EchoResponse in
                    throw RPCError.badRequest("the order has \(violations.count) invalid lines", violations: violations)
                }
            ]
        }
    }

    @Test func thousandsOfViolationsArriveAsInvalidArgumentWithBoundedDetails() async throws {
        try await withServer(services: [InvalidService(violations: 2_000)]) { _, port in
            try await withClient(port: port) { client in
                let error = await #expect(throws: RPCError.self) {
                    let _: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest(), timeout: .seconds(5))
                }
                #expect(error?.code == .invalidArgument)
                let details = try #require(error?.metadata.binary("grpc-status-details-bin"))
                // Base64 on the wire: under 7 KB, within what stock gRPC clients accept.
                #expect((details.count + 2) / 3 * 4 < 7_000, "\(details.count) bytes of details")
                let listed = error?.fieldViolations ?? []
                #expect(listed.count > 10 && listed.count < 2_000)
                #expect(listed.first?.field == "lines[0].sku" && listed.last?.field == "lines[\(listed.count - 1)].sku")
                #expect(error?.message.contains("; \(2_000 - listed.count) more violations not listed") == true, "\(error?.message ?? "")")
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
