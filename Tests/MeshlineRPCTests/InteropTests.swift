import Foundation
import MeshlineEcho
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineTestSupport
import Testing

/// Stock gRPC (Python grpcio) against MeshlineRPC, both ways.
@Suite(.serialized) struct InteropTests {
    static let maxMessageSize = 6 * 1024 * 1024
    static let oddMessage = "  spaced\ttext\u{A0} \u{E9}\u{6771}\u{4EAC} %41 100% \u{1F4E6}  "

    @Test func grpcioClientAgainstMeshlineServer() async throws {
        let observations = EchoService.Observations()
        try await withServer(services: [EchoService(observations: observations)], configure: { $0.maxMessageSize = Self.maxMessageSize }) { server, port in
            let work = try Scripts.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: work) }
            let (status, output) = try await Scripts.runPython(["Tests/Interop/rpc_interop.py", "client", String(port), work.path])
            #expect(status == 0, "grpcio client cases failed:\n\(output)")
            #expect(output.contains(" passed, 0 failed"), "\(output)")
            // Cancellation and disconnection reached the handlers.
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline, !Set(["cancel-me", "disconnect-me"]).isSubset(of: observations.cancelledCalls) {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(observations.cancelledCalls.contains("cancel-me"), "the client's cancellation did not reach the handler")
            #expect(observations.cancelledCalls.contains("disconnect-me"), "the client's disconnect did not stop the handler")
        }
    }

    @Test func meshlineClientAgainstGrpcioServer() async throws {
        let work = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let python = try Scripts.PythonServer(["Tests/Interop/rpc_interop.py", "server", work.path])
        defer { python.stop() }
        try await withClient(port: python.port, configure: { $0.maxMessageSize = 16 * 1024 * 1024 }) { client in
            // Unary, non-ASCII text, binary payload.
            let echoed: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest(text: "h\u{E9}llo", payload: [0, 1, 255]))
            #expect(echoed == EchoResponse(text: "h\u{E9}llo", payload: [0, 1, 255]))

            // Empty messages.
            let empty: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest())
            #expect(empty == EchoResponse())

            // Over 4 MiB in both directions, near the server's limit, and over it.
            let big = (0..<(5 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 % 251) }
            let bigEcho: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest(payload: big))
            #expect(bigEcho.payload == big)
            let generated: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest(responseSize: 5 * 1024 * 1024 + 7))
            #expect(generated.payload.count == 5 * 1024 * 1024 + 7)
            let nearLimit: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest(payload: [UInt8](repeating: 0, count: Self.maxMessageSize - 5)))
            #expect(nearLimit.payload.count == Self.maxMessageSize - 5)
            await #expect {
                let _: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest(payload: [UInt8](repeating: 0, count: Self.maxMessageSize + 1)))
            } throws: { ($0 as? RPCError)?.code == .resourceExhausted }

            // Server streaming.
            let stream = try await client.serverStreaming(EchoDescriptor.expand, EchoRequest(text: "s", responseCount: 100), as: EchoResponse.self)
            var indices: [Int32] = []
            for try await response in stream { indices.append(response.index) }
            #expect(indices == Array(0..<100))

            // Status code and message with whitespace and non-ASCII, exactly.
            await #expect(throws: RPCError(code: .failedPrecondition, message: Self.oddMessage)) {
                let _: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest(statusCode: 9, statusMessage: Self.oddMessage))
            }

            // Unimplemented method and service.
            await #expect { _ = try await client.rawUnary("/meshline.testing.v1.Echo/Nope", []) } throws: { ($0 as? RPCError)?.code == .unimplemented }
            await #expect { _ = try await client.rawUnary("/no.such.Service/Get", []) } throws: { ($0 as? RPCError)?.code == .unimplemented }

            // Custom and -bin metadata, in headers and trailers.
            var metadata = Metadata()
            metadata.add("echo-text", "plain value")
            metadata.add("echo-data-bin", binary: Array(0...255))
            let withMetadata: UnaryResponse<EchoResponse> = try await client.unaryWithMetadata(EchoDescriptor.get, EchoRequest(echoMetadata: true), metadata: metadata)
            #expect(withMetadata.headers["echo-text"] == "plain value")
            #expect(withMetadata.headers.binary("echo-data-bin") == Array(0...255))
            #expect(withMetadata.trailers["trailer-echo-text"] == "plain value")
            #expect(withMetadata.trailers.binary("trailer-echo-data-bin") == Array(0...255))

            // A deadline expiring on a slow handler.
            let started = ContinuousClock.now
            await #expect {
                let _: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest(delayMs: 3000), timeout: .milliseconds(300))
            } throws: { ($0 as? RPCError)?.code == .deadlineExceeded }
            #expect(ContinuousClock.now - started < .seconds(2))

            // Cancellation after the first streamed message.
            let task = Task {
                let stream = try await client.serverStreaming(EchoDescriptor.expand, EchoRequest(responseCount: 1000, delayMs: 20), as: EchoResponse.self)
                var count = 0
                for try await _ in stream {
                    count += 1
                    if count == 1 { withUnsafeCurrentTask { $0?.cancel() } }
                }
                return count
            }
            await #expect { _ = try await task.value } throws: { ($0 as? RPCError)?.code == .cancelled }

            // 1,000 concurrent calls on one connection.
            let texts = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<1000 {
                    group.addTask {
                        let response: EchoResponse = try await client.unary(EchoDescriptor.get, EchoRequest(text: String(index)))
                        return response.text
                    }
                }
                var all: [String] = []
                for try await text in group { all.append(text) }
                return all
            }
            #expect(Set(texts) == Set((0..<1000).map(String.init)))
        }
    }
}
