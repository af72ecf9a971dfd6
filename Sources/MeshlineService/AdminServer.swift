import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
public import ServiceLifecycle

/// The admin HTTP port of a service: `GET /metrics` (Prometheus text format),
/// `GET /healthz` (the process is up) and `GET /readyz` (503 while draining).
/// Plain HTTP/1.1 on its own port, so that scrapers need no gRPC.
public final class AdminServer: Service, Sendable {
    private let host: String
    private let port: Int
    private let registry: PrometheusCollectorRegistry
    private let ready: @Sendable () -> Bool
    private let logger: Logger
    private let bound: NIOLockedValueBox<(any Channel)?> = NIOLockedValueBox(nil)

    init(host: String, port: Int, registry: PrometheusCollectorRegistry, ready: @escaping @Sendable () -> Bool, logger: Logger) {
        self.host = host
        self.port = port
        self.registry = registry
        self.ready = ready
        self.logger = logger
    }

    /// The port it listens on, once ``start()`` returned.
    public var boundPort: Int? { bound.withLockedValue { $0?.localAddress?.port } }

    func start() async throws {
        let registry = registry, ready = ready
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(AdminHandler(registry: registry, ready: ready))
                }
            }
            .bind(host: host, port: port).get()
        bound.withLockedValue { $0 = channel }
        logger.info("admin endpoint listening", metadata: ["admin_address": "\(host):\(channel.localAddress?.port ?? port)"])
    }

    public func run() async throws {
        if boundPort == nil { try await start() }
        try? await gracefulShutdown()
        try await bound.withLockedValue { $0 }?.close()
    }
}

private final class AdminHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let registry: PrometheusCollectorRegistry
    let ready: @Sendable () -> Bool

    init(registry: PrometheusCollectorRegistry, ready: @escaping @Sendable () -> Bool) {
        self.registry = registry
        self.ready = ready
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let request) = unwrapInboundIn(data) else { return }
        let (status, contentType, body): (HTTPResponseStatus, String, [UInt8])
        switch (request.method, request.uri.split(separator: "?").first.map(String.init) ?? "") {
        case (.GET, "/metrics"):
            (status, contentType, body) = (.ok, "text/plain; version=0.0.4", registry.emitToBuffer())
        case (.GET, "/healthz"):
            (status, contentType, body) = (.ok, "text/plain", Array("ok\n".utf8))
        case (.GET, "/readyz"):
            (status, contentType, body) = ready() ? (.ok, "text/plain", Array("ready\n".utf8)) : (.serviceUnavailable, "text/plain", Array("draining\n".utf8))
        case (.GET, _):
            (status, contentType, body) = (.notFound, "text/plain", Array("not found: use /metrics, /healthz or /readyz\n".utf8))
        default:
            (status, contentType, body) = (.methodNotAllowed, "text/plain", Array("only GET\n".utf8))
        }
        var headers = HTTPHeaders([("content-type", contentType), ("content-length", String(body.count)), ("connection", "close")])
        headers.add(name: "cache-control", value: "no-store")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
