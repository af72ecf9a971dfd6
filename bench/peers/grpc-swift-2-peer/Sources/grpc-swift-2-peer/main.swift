// grpc-swift-2 serving grpc.health.v1.Health/Check on 127.0.0.1:PORT.
//
//   grpc-swift-2-peer PORT
//
// Health/Check answers every request with HealthCheckResponse{status: SERVING}
// (bytes 08 01). meshline.testing.v1.Echo/Expand streams `response_count`
// EchoResponse{text, index} messages, as MeshlineRPC's Echo service does.
// Messages are encoded by hand so that no code generator is involved.

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
        router.registerHandler(
            forMethod: MethodDescriptor(fullyQualifiedService: "meshline.testing.v1.Echo", method: "Expand"),
            deserializer: RawDeserializer(),
            serializer: RawSerializer()
        ) { request, context in
            var requestBytes: [UInt8] = []
            for try await message in request.messages { requestBytes = message }
            let (text, count) = parseEchoRequest(requestBytes)
            return StreamingServerResponse { writer in
                for index in 0..<count {
                    var message: [UInt8] = []
                    if !text.isEmpty { message += [0x0A] + varint(UInt64(text.count)) + text }
                    if index > 0 { message += [0x18] + varint(UInt64(index)) }
                    try await writer.write(message)
                }
                return [:]
            }
        }
    }
}

func varint(_ value: UInt64) -> [UInt8] {
    var value = value
    var out: [UInt8] = []
    repeat {
        let byte = UInt8(value & 0x7F)
        value >>= 7
        out.append(value == 0 ? byte : byte | 0x80)
    } while value != 0
    return out
}

/// Reads `text` (field 1) and `response_count` (field 4) of an EchoRequest.
func parseEchoRequest(_ bytes: [UInt8]) -> (text: [UInt8], count: Int) {
    var index = 0
    var text: [UInt8] = []
    var count = 0
    func readVarint() -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        return result
    }
    while index < bytes.count {
        let key = readVarint()
        switch (key >> 3, key & 7) {
        case (1, 2):
            let length = Int(readVarint())
            text = Array(bytes[index..<min(index + length, bytes.count)])
            index += length
        case (4, 0): count = Int(readVarint())
        case (_, 0): _ = readVarint()
        case (_, 2): index += Int(readVarint())
        case (_, 1): index += 8
        case (_, 5): index += 4
        default: return (text, count)
        }
    }
    return (text, count)
}

let port = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 50061
let server = GRPCServer(
    transport: .http2NIOPosix(address: .ipv4(host: "127.0.0.1", port: port), transportSecurity: .plaintext),
    services: [HealthCheck()]
)
print("grpc-swift-2 peer listening on \(port)")
try await server.serve()
