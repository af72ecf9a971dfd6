// grpc-swift-2 serving grpc.health.v1.Health/Check on 127.0.0.1:PORT.
//
//   grpc-swift-2-peer PORT
//
// The handler answers every request with HealthCheckResponse{status: SERVING}
// (bytes 08 01), serialized by hand so that no code generator is involved.

import GRPCCore
import GRPCNIOTransportHTTP2

struct RawSerializer: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes {
        Bytes(message)
    }
}

struct RawDeserializer: MessageDeserializer {
    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}

struct HealthCheck: RegistrableRPCService {
    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: MethodDescriptor(fullyQualifiedService: "grpc.health.v1.Health", method: "Check"),
            deserializer: RawDeserializer(),
            serializer: RawSerializer()
        ) { request, context in
            for try await _ in request.messages {}
            return StreamingServerResponse(single: ServerResponse(message: [0x08, 0x01]))
        }
    }
}

let port = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 50061
let server = GRPCServer(
    transport: .http2NIOPosix(address: .ipv4(host: "127.0.0.1", port: port), transportSecurity: .plaintext),
    services: [HealthCheck()]
)
print("grpc-swift-2 peer listening on \(port)")
try await server.serve()
