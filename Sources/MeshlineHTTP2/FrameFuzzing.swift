import Logging
import MeshlineModels
import MeshlineRPC
import NIOCore
import NIOEmbedded

/// Feeds arbitrary bytes to the server side of one HTTP/2 connection, as a peer's
/// socket would, for the fuzzer (`meshline-fuzz h2`). Everything runs on an embedded
/// event loop in the calling thread; handlers are inline so that no task outlives
/// the input.
@_spi(Fuzzing) public struct ServerFrameFuzzer {
    private let router: RPCRouter
    private var configuration = RPCServer.Configuration()

    public init() {
        router = RPCRouter(services: [InlineEcho()])
        configuration.maxConcurrentStreams = 16
    }

    /// Writes `chunks` to a new connection in order, then closes it. Returns the
    /// number of bytes the server answered with. Never throws: a protocol error is
    /// the server's to answer (GOAWAY, RST_STREAM), not a failure of the fuzzer.
    public func feed(_ chunks: [[UInt8]]) -> Int {
        let channel = EmbeddedChannel()
        guard let handler = try? ServerConnectionHandler(
            router: router, configuration: configuration, logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() }),
            tracker: ConnectionTracker())
        else { return 0 }
        try? channel.pipeline.syncOperations.addHandler(handler)
        _ = try? channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 50_051)).wait()
        var answered = 0
        for chunk in chunks where channel.isActive {
            _ = try? channel.writeInbound(ByteBuffer(bytes: chunk))
            channel.embeddedEventLoop.run()
            while let out = try? channel.readOutbound(as: ByteBuffer.self) { answered += out.readableBytes }
        }
        _ = try? channel.finish()
        return answered
    }

    /// Valid client conversations to mutate, as nghttp2's client side writes them:
    /// the preface and SETTINGS, then calls with metadata, several calls at once, a
    /// large message, a reset, a PING and a GOAWAY.
    public static func seeds() -> [[UInt8]] {
        let message = EchoRequest(payload: Array("fulfil order-1 from WH-A".utf8)).serializedBytes()
        let large = EchoRequest(payload: [UInt8](repeating: 0x41, count: 40_000)).serializedBytes()
        return [
            conversation { client in try call(client, message) },
            conversation { client in for _ in 0..<3 { try call(client, message, metadata: [HeaderField("x-tenant", "acme"), HeaderField("trace-bin", "AAEC")]) } },
            conversation { client in try call(client, large) },
            conversation { client in
                let id = try call(client, message, end: false)
                client.submitReset(id, errorCode: 8)
                client.submitPing()
            },
            conversation { client in
                try call(client, message)
                client.submitGoAway(lastStreamID: 0, errorCode: 0)
            },
        ]
    }

    @discardableResult
    private static func call(_ client: HTTP2Session, _ message: [UInt8], metadata: [HeaderField] = [], end: Bool = true) throws -> Int32 {
        let id = try client.submitRequest(headers: [
            HeaderField(":method", "POST"), HeaderField(":scheme", "http"), HeaderField(":path", EchoDescriptor.get.path),
            HeaderField(":authority", "fuzz"), HeaderField("content-type", "application/grpc"), HeaderField("te", "trailers"),
            HeaderField("grpc-timeout", "5S"),
        ] + metadata)
        client.enqueue(id, bytes: MessageFraming.prefix(length: message.count) + message)
        if end { client.finish(id, trailers: nil) }
        return id
    }

    private static func conversation(_ script: (HTTP2Session) throws -> Void) -> [UInt8] {
        let delegate = SilentDelegate()
        guard let client = try? HTTP2Session(isServer: false, settings: HTTP2SessionSettings()) else { return [] }
        client.delegate = delegate
        try? script(client)
        var buffer = ByteBufferAllocator().buffer(capacity: 64 * 1024)
        while (try? client.drainOutput(into: &buffer)) == true {}
        return Array(buffer.readableBytesView)
    }
}

/// A client session's delegate that ignores everything (the seeds are only written).
private final class SilentDelegate: HTTP2SessionDelegate {
    func streamBeganHeaders(_ streamID: Int32, isTrailers: Bool) {}
    func streamReceivedHeader(_ streamID: Int32, _ field: HeaderField) -> Bool { true }
    func streamEndedHeaders(_ streamID: Int32, endStream: Bool) {}
    func streamReceivedData(_ streamID: Int32, _ bytes: [UInt8]) {}
    func streamEndedByPeer(_ streamID: Int32) {}
    func streamClosed(_ streamID: Int32, errorCode: UInt32) {}
    func streamReset(_ streamID: Int32, errorCode: UInt32) {}
    func streamSentEndStream(_ streamID: Int32) {}
    func streamDrainedOutbound(_ streamID: Int32, remaining: Int) {}
    func receivedGoAway(lastStreamID: Int32, errorCode: UInt32) {}
    func receivedPingAck() {}
}

/// An echo served inline on the loop, so that fuzzed calls complete within `feed`.
private struct InlineEcho: RPCService {
    var serviceName: String { EchoDescriptor.fullName }
    var handlers: [RPCHandler] {
        [.inlineUnary(EchoDescriptor.get) { (request: EchoRequest, _) throws(RPCError) -> EchoResponse in
            EchoResponse(payload: request.payload)
        }]
    }
}
