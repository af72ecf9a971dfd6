import MeshlineModels
public import MeshlineRPC
import Synchronization

/// `meshline.testing.v1.Echo`: the service MeshlineRPC's conformance,
/// interoperability and load tests call. See proto/meshline/testing/v1/echo.proto.
public struct EchoService: RPCService {
    /// What the service saw, so tests can check server-side effects.
    public final class Observations: Sendable {
        private let cancelled = Mutex<[String]>([])
        private let written = Mutex<[String: Int]>([:])

        public init() {}

        /// The `text` of every call whose handler was stopped by cancellation.
        public var cancelledCalls: [String] { cancelled.withLock { $0 } }

        /// Streamed responses handed to the transport, by the request's `text`.
        public func messagesWritten(_ text: String) -> Int { written.withLock { $0[text] ?? 0 } }

        func recordWritten(_ text: String) {
            written.withLock { $0[text, default: 0] += 1 }
        }

        func recordCancelled(_ text: String) {
            cancelled.withLock { $0.append(text) }
        }
    }

    public let observations: Observations

    public init(observations: Observations = Observations()) {
        self.observations = observations
    }

    public var serviceName: String { EchoDescriptor.fullName }

    public var handlers: [RPCHandler] {
        let observations = self.observations
        return [
            .unary(EchoDescriptor.get) { (request: EchoRequest, context) -> EchoResponse in
                Self.echoMetadata(request, context)
                try await Self.pause(request, observations)
                if request.statusCode != 0 { throw Self.requestedError(request) }
                return Self.response(request, index: 0)
            },
            .serverStreaming(EchoDescriptor.expand) { (request: EchoRequest, writer: ResponseWriter<EchoResponse>, context) in
                Self.echoMetadata(request, context)
                for index in 0..<max(0, Int(request.responseCount)) {
                    try await Self.pause(request, observations)
                    do {
                        try await writer.write(Self.response(request, index: Int32(index)))
                        observations.recordWritten(request.text)
                    } catch {
                        observations.recordCancelled(request.text)
                        throw error
                    }
                }
                if request.statusCode != 0 { throw Self.requestedError(request) }
            },
        ]
    }

    static func pause(_ request: EchoRequest, _ observations: Observations) async throws {
        guard request.delayMs > 0 else { return }
        do {
            try await Task.sleep(for: .milliseconds(request.delayMs))
        } catch {
            observations.recordCancelled(request.text)
            throw error
        }
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
