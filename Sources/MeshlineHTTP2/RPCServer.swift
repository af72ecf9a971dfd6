public import Logging
public import MeshlineRPC
import NIOCore
import NIOPosix
import NIOSSL
public import ServiceLifecycle
import Synchronization

/// A gRPC server: h2c with prior knowledge on SwiftNIO sockets, one nghttp2
/// session per connection, serving ``RPCService``s and `grpc.health.v1.Health`.
public final class RPCServer: Sendable {
    /// Limits and timings of a server.
    public struct Configuration: Sendable {
        /// Address to listen on; loopback unless a service is meant to be reached from elsewhere.
        public var host = "127.0.0.1"
        /// Port; 0 picks a free one (see ``RPCServer/start()``).
        public var port = 0
        /// Largest request message accepted; larger ones fail with RESOURCE_EXHAUSTED.
        public var maxMessageSize = 4 * 1024 * 1024
        /// Largest request header block (HTTP/2 accounting: name + value + 32 per field).
        public var maxHeaderListSize = 8 * 1024
        /// Calls one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
        public var maxConcurrentStreams: UInt32 = 100
        /// Bytes a streaming call may have queued before its handler waits for the peer.
        public var streamSendBufferSize = 256 * 1024
        /// A connection silent this long gets a PING...
        public var keepaliveInterval: Duration = .seconds(60)
        /// ...and is closed when the PING is not answered within this.
        public var keepaliveTimeout: Duration = .seconds(20)
        /// Stream resets a client may send per window before its connection is closed
        /// with ENHANCE_YOUR_CALM (the rapid-reset defence).
        public var maxResetsPerWindow = 1000
        public var resetWindow: Duration = .seconds(10)
        /// Event-loop threads; one per core by default.
        public var threads = System.coreCount
        /// How long calls in flight may run after a graceful shutdown begins.
        public var drainGracePeriod: Duration = .seconds(10)
        /// TLS with ALPN `h2`; nil serves h2c (cleartext HTTP/2 with prior knowledge).
        public var tls: TLSSettings?
        /// Authentication, tenant authorization and rate limits; nil admits every call.
        public var policy: (any CallPolicy)?
        /// Told about every finished call (metrics); nil costs nothing.
        public var observer: (any CallObserver)?

        public init() {}
    }

    private struct State {
        var channel: (any Channel)?
        var shuttingDown = false
    }

    private let configuration: Configuration
    private let router: RPCRouter
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let tracker = ConnectionTracker()
    private let state = Mutex(State())
    /// The health service the server answers `grpc.health.v1.Health` with.
    public let health: HealthService

    /// A server for `services`; nothing listens until ``start()``.
    public init(configuration: Configuration = Configuration(), services: [any RPCService], logger: Logger = Logger(label: "meshline.rpc.server")) {
        self.configuration = configuration
        self.logger = logger
        let health = HealthService(services: services.map(\.serviceName))
        self.health = health
        var router = RPCRouter(services: services + [health])
        if let observer = configuration.observer { router.observe(with: observer) }
        self.router = router
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
    }

    /// Binds and starts accepting; returns the port listened on.
    @discardableResult
    public func start() async throws -> Int {
        let router = self.router
        let configuration = self.configuration
        let logger = self.logger
        let tracker = self.tracker
        let sslContext = try configuration.tls?.makeServerContext()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                    }
                    let handler = try ServerConnectionHandler(router: router, configuration: configuration, logger: logger, tracker: tracker)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        state.withLock { $0.channel = channel }
        let port = channel.localAddress?.port ?? configuration.port
        logger.info("serving gRPC", metadata: ["address": "\(configuration.host):\(port)", "services": "\(router.serviceNames.joined(separator: ","))"])
        return port
    }

    /// The address the server listens on (its configured host).
    public var host: String { configuration.host }

    /// The port the server listens on, once started.
    public var port: Int? {
        state.withLock { $0.channel?.localAddress?.port }
    }

    /// Connections currently open.
    public var connectionCount: Int { tracker.count }

    /// Stops gracefully: health turns NOT_SERVING, no new connections are accepted,
    /// every connection gets GOAWAY so that new calls go elsewhere (UNAVAILABLE),
    /// calls in flight may finish for `gracePeriod`, then whatever is left is ended
    /// and the event loops stop.
    public func shutdown(gracePeriod: Duration = .seconds(10)) async {
        let channel: (any Channel)? = state.withLock { state in
            guard !state.shuttingDown else { return nil }
            state.shuttingDown = true
            return state.channel
        }
        guard let channel else { return }
        health.markNotServing(endWatches: true)
        try? await channel.close()
        tracker.forEach { $0.beginDrain() }
        let deadline = ContinuousClock.now + gracePeriod
        while tracker.count > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if tracker.count > 0 {
            logger.warning("grace period over; ending the calls still running", metadata: ["connections": "\(tracker.count)"])
            tracker.forEach { $0.forceClose() }
            let hardDeadline = ContinuousClock.now + .seconds(2)
            while tracker.count > 0, ContinuousClock.now < hardDeadline {
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        try? await group.shutdownGracefully()
    }
}

/// The open connections of a server, so that shutdown can reach each on its loop.
final class ConnectionTracker: Sendable {
    private let connections = Mutex<[ObjectIdentifier: NIOLoopBound<ServerConnectionHandler>]>([:])

    func add(_ handler: ServerConnectionHandler, loop: any EventLoop) {
        let bound = NIOLoopBound(handler, eventLoop: loop)
        connections.withLock { $0[ObjectIdentifier(handler)] = bound }
    }

    func remove(_ handler: ServerConnectionHandler) {
        _ = connections.withLock { $0.removeValue(forKey: ObjectIdentifier(handler)) }
    }

    var count: Int { connections.withLock { $0.count } }

    /// Runs `body` for every connection, on that connection's loop.
    func forEach(_ body: @escaping @Sendable (ServerConnectionHandler) -> Void) {
        let all = connections.withLock { Array($0.values) }
        for bound in all {
            bound.eventLoop.execute { body(bound.value) }
        }
    }
}

/// Run in a `ServiceGroup`: starts the server (unless started), serves until the
/// group shuts down gracefully (SIGTERM), then drains as ``RPCServer/shutdown(gracePeriod:)``.
extension RPCServer: Service {
    public func run() async throws {
        if port == nil { try await start() }
        try? await gracefulShutdown()
        await shutdown(gracePeriod: configuration.drainGracePeriod)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
