import MeshlineModels
public import MeshlineRPC

/// `meshline.testing.v1.Echo`: the service MeshlineRPC's conformance,
/// interoperability and load tests call. See proto/meshline/testing/v1/echo.proto.
public struct EchoService: RPCService {
    public init() {}

    public var serviceName: String { EchoDescriptor.fullName }

    public var handlers: [RPCHandler] {
        [
            .unary(EchoDescriptor.get) { (request: EchoRequest, context) -> EchoResponse in
                try await Self.pause(request)
                Self.echoMetadata(request, context)
                if request.statusCode != 0 { throw Self.requestedError(request) }
                return Self.response(request, index: 0)
            },
            .serverStreaming(EchoDescriptor.expand) { (request: EchoRequest, writer: ResponseWriter<EchoResponse>, context) in
                Self.echoMetadata(request, context)
                for index in 0..<max(0, Int(request.responseCount)) {
                    try await Self.pause(request)
                    try await writer.write(Self.response(request, index: Int32(index)))
                }
                if request.statusCode != 0 { throw Self.requestedError(request) }
            },
        ]
    }

    static func pause(_ request: EchoRequest) async throws {
        if request.delayMs > 0 { try await Task.sleep(for: .milliseconds(request.delayMs)) }
    }

    static func response(_ request: EchoRequest, index: Int32) -> EchoResponse {
        let payload: [UInt8] =
            request.responseSize > 0
            ? (0..<Int(request.responseSize)).map { UInt8(truncatingIfNeeded: $0) } : request.payload
        return EchoResponse(text: request.text, payload: payload, index: index)
    }

    static func requestedError(_ request: EchoRequest) -> RPCError {
        RPCError(code: StatusCode(wireValue: request.statusCode), message: request.statusMessage)
    }

    static func echoMetadata(_ request: EchoRequest, _ context: ServerCallContext) {
        guard request.echoMetadata else { return }
        var headers = Metadata()
        var trailers = Metadata()
        for entry in context.requestMetadata where entry.key.hasPrefix("echo-") {
            switch entry.value {
            case .text(let text):
                headers.add(entry.key, text)
                trailers.add("trailer-\(entry.key)", text)
            case .binary(let bytes):
                headers.add(entry.key, binary: bytes)
                trailers.add("trailer-\(entry.key)", binary: bytes)
            }
        }
        context.addResponseHeaders(headers)
        context.addTrailers(trailers)
    }
}
