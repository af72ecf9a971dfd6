public import Logging
public import MeshlineModels
public import MeshlineRPC
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A gRPC client over h2c that spreads calls round-robin over several endpoints,
/// reconnects with exponential backoff, and skips endpoints whose health check
/// says they are not serving.
public final class RPCClient: Sendable {
    static let version = "0.1.0"

    /// Where a server listens.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// Parses `HOST:PORT` (`[::1]:8080` for IPv6). A listen address may use port 0
        /// (`allowingAnyPort`): the system picks a free one.
        public init(parsing text: String, allowingAnyPort: Bool = false) throws(RPCError) {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
                ((allowingAnyPort ? 0 : 1)...65535).contains(port)
            else {
                throw RPCError(code: .invalidArgument, message: "'\(text)' is not HOST:PORT, e.g. 127.0.0.1:7001")
            }
            var host = String(text[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { throw RPCError(code: .invalidArgument, message: "'\(text)' has no host; write HOST:PORT") }
            self.init(host: host, port: port)
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// Timings and limits of a client.
    public struct Configuration: Sendable {
        public var endpoints: [Endpoint]
        /// Deadline for calls that do not set their own; nil waits indefinitely.
        public var defaultTimeout: Duration? = .seconds(30)
        /// Largest response message accepted.
        public var maxMessageSize = 4 * 1024 * 1024
        public var connectTimeout: Duration = .seconds(5)
        /// Backoff between failed connection attempts to one endpoint: starts here...
        public var initialBackoff: Duration = .milliseconds(200)
        /// ...grows by this factor per failure, with ±20% jitter...
        public var backoffMultiplier = 1.6
        /// ...up to this.
        public var maximumBackoff: Duration = .seconds(30)
        /// How often each endpoint's `grpc.health.v1.Health/Check` is asked; nil turns health checks off.
        public var healthCheckInterval: Duration? = nil
        /// The service whose health decides whether an endpoint is used (`""`: the whole server).
        public var healthCheckService = ""
        public var threads = 1
        /// TLS with ALPN `h2` to every endpoint; nil speaks h2c.
        public var tls: TLSSettings?
        /// A connection silent this long gets a PING, and is closed (its calls fail
        /// UNAVAILABLE) when the PING is not answered within `keepaliveTimeout`; nil: no pings.
        public var keepaliveInterval: Duration?
        public var keepaliveTimeout: Duration = .seconds(20)
        /// Sent with every call, e.g. `authorization: Bearer …` for a mesh service's API key.
        public var defaultMetadata = Metadata()

        public init(endpoints: [Endpoint]) {
            self.endpoints = endpoints
        }
    }

    private let configuration: Configuration
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let connections: [EndpointConnection]
    private let nextIndex = Atomic<Int>(0)
    private let healthTask = Mutex<Task<Void, Never>?>(nil)

    public init(configuration: Configuration, logger: Logger = Logger(label: "meshline.rpc.client")) {
        precondition(!configuration.endpoints.isEmpty, "a client needs at least one endpoint")
        self.configuration = configuration
        self.logger = logger
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        self.group = group
        self.connections = configuration.endpoints.map { EndpointConnection(endpoint: $0, group: group, configuration: configuration) }
        if let interval = configuration.healthCheckInterval {
            let task = Task { [connections, configuration] in
                while !Task.isCancelled {
                    for connection in connections {
                        await connection.checkHealth(service: configuration.healthCheckService)
                    }
                    try? await Task.sleep(for: interval)
                }
            }
            healthTask.withLock { $0 = task }
        }
    }

    /// A client for one or more `HOST:PORT` endpoints with default settings.
    public convenience init(endpoints: [String]) throws(RPCError) {
        var parsed: [Endpoint] = []
        for text in endpoints { parsed.append(try Endpoint(parsing: text)) }
        guard !parsed.isEmpty else { throw RPCError(code: .invalidArgument, message: "no endpoints given; pass at least one HOST:PORT") }
        self.init(configuration: Configuration(endpoints: parsed))
    }

    /// Closes every connection and stops the client's threads.
    public func close() async {
        healthTask.withLock { $0?.cancel() }
        for connection in connections { await connection.close() }
        try? await group.shutdownGracefully()
    }

    // MARK: Calls

    /// The call's metadata plus the client's defaults and the current trace's
    /// `traceparent`, so that the callee's span joins the caller's trace.
    private func outgoing(_ metadata: Metadata) -> Metadata {
        var all = configuration.defaultMetadata
        all.merge(metadata)
        if let trace = TraceContext.current, all["traceparent"] == nil {
            all.add("traceparent", trace.traceparent)
        }
        return all
    }

    /// A unary call: one request, one response.
    public func unary<Request: ProtobufMessage, Response: ProtobufMessage>(
        _ method: RPCMethod, _ request: Request, metadata: Metadata = Metadata(), timeout: Duration? = nil
    ) async throws(RPCError) -> Response {
        try await unaryWithMetadata(method, request, metadata: metadata, timeout: timeout).message
    }

    /// A unary call that also returns the response headers and trailers.
    public func unaryWithMetadata<Request: ProtobufMessage, Response: ProtobufMessage>(
        _ method: RPCMethod, _ request: Request, metadata: Metadata = Metadata(), timeout: Duration? = nil
    ) async throws(RPCError) -> UnaryResponse<Response> {
        let outcome = try await rawUnary(method.path, request.serializedBytes(), metadata: metadata, timeout: timeout)
        do {
            let message = try Response(serializedBytes: outcome.messages[0])
            return UnaryResponse(message: message, headers: outcome.headers, trailers: outcome.trailers)
        } catch {
            throw RPCError(code: .internal, message: "the response does not decode as \(method.responseType): \(error)")
        }
    }

    /// A unary call on raw bytes (any path, any message); used by tools and tests.
    public func rawUnary(_ path: String, _ request: [UInt8], metadata: Metadata = Metadata(), timeout: Duration? = nil) async throws(RPCError) -> (headers: Metadata, messages: [[UInt8]], trailers: Metadata) {
        let metadata = outgoing(metadata)
        let deadline = (timeout ?? configuration.defaultTimeout).map { ContinuousClock.now + $0 }
        let maximumMessageSize = configuration.maxMessageSize
        let outcome = try await withTransparentRetry(deadline: deadline) { connection, timeoutNanoseconds in
            try await connection.unary(path, request, metadata: metadata, timeoutNanoseconds: timeoutNanoseconds, maximumMessageSize: maximumMessageSize)
        }
        return (outcome.headers, outcome.messages, outcome.trailers)
    }

    /// A server-streaming call: one request, a stream of responses. The call starts
    /// at once; iterate the stream to read responses (with backpressure: an idle
    /// reader stops the server through HTTP/2 flow control). Cancelling the reading
    /// task, or dropping the stream, cancels the call.
    public func serverStreaming<Request: ProtobufMessage, Response: ProtobufMessage>(
        _ method: RPCMethod, _ request: Request, metadata: Metadata = Metadata(), timeout: Duration? = nil,
        as responseType: Response.Type = Response.self
    ) async throws(RPCError) -> ResponseStream<Response> {
        let metadata = outgoing(metadata)
        let deadline = (timeout ?? configuration.defaultTimeout).map { ContinuousClock.now + $0 }
        let maximumMessageSize = configuration.maxMessageSize
        let bytes = request.serializedBytes()
        let path = method.path
        return try await withTransparentRetry(deadline: deadline) { connection, timeoutNanoseconds in
            let handler = connection.handler
            let delegate = StreamDelegate(handler: handler)
            let produced = NIOThrowingAsyncSequenceProducer.makeSequence(
                elementType: [UInt8].self,
                backPressureStrategy: NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark(lowWatermark: 4, highWatermark: 32),
                finishOnDeinit: false,
                delegate: delegate
            )
            let source = ResponseStreamSource(source: produced.source)
            let headers = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Metadata, any Error>) in
                handler.eventLoop.execute {
                    let call = ClientCall(
                        path: path, metadata: metadata, request: bytes, timeoutNanoseconds: timeoutNanoseconds,
                        maximumMessageSize: maximumMessageSize, delivery: .streaming(headers: continuation, sink: source))
                    handler.value.start(call)
                    delegate.streamID.withLock { $0 = call.streamID }
                }
            }
            return ResponseStream(headers: headers, messages: produced.sequence, source: source, method: method)
        }
    }

    /// Runs `call` on a picked connection. A call the server provably never processed
    /// (``UnprocessedCallError``: a refused stream, one above a GOAWAY's last-stream-id,
    /// a connection already going away) runs again, as stock gRPC's transparent retry
    /// does: once on each other endpoint, or once more (on a new connection when the old
    /// one is going away) when there is one endpoint. Safe for any call, as the server
    /// never saw it; a call that may have been processed is never sent twice.
    ///
    /// The `deadline` covers picking and connecting too: `call` gets the time left
    /// (nil: no deadline), and the call is DEADLINE_EXCEEDED once it passes, whatever
    /// the connection attempts are doing.
    private func withTransparentRetry<T>(
        deadline: ContinuousClock.Instant?, _ call: (EndpointConnection.Connected, _ timeoutNanoseconds: Int64?) async throws -> T
    ) async throws(RPCError) -> T {
        var tried: Set<Int> = []
        var attempts = 0
        while true {
            let (index, connection) = try await pickConnection(avoiding: tried, deadline: deadline)
            let timeoutNanoseconds: Int64?
            if let deadline {
                let left = deadline - .now
                guard left > .zero else { throw EndpointConnection.deadlineExceeded }
                timeoutNanoseconds = Self.nanoseconds(left)
            } else {
                timeoutNanoseconds = nil
            }
            do {
                return try await call(connection, timeoutNanoseconds)
            } catch let error as UnprocessedCallError {
                attempts += 1
                if attempts == max(connections.count, 2) { throw error.rpcError }
                tried.insert(index)
            } catch {
                throw RPCError.from(error)
            }
        }
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// A healthy endpoint with a connection ready now, if any.
    private func readyEndpoint(avoiding avoided: Set<Int>) -> (index: Int, connection: EndpointConnection.Connected)? {
        for (index, connection) in connections.enumerated() where !avoided.contains(index) && connection.isHealthy {
            if let ready = connection.readyConnection { return (index, ready) }
        }
        return nil
    }

    /// The next usable endpoint in round-robin order (except those `avoiding` names,
    /// unless it names the only one), connecting when needed; waits for a connection
    /// until `deadline` at most.
    private func pickConnection(avoiding tried: Set<Int>, deadline: ContinuousClock.Instant?) async throws(RPCError) -> (index: Int, connection: EndpointConnection.Connected) {
        let avoided = connections.count > 1 ? tried : []
        var lastError = RPCError(code: .unavailable, message: "no endpoint is available")
        var skippedUnhealthy = false
        for _ in 0..<connections.count {
            let index = nextIndex.wrappingAdd(1, ordering: .relaxed).oldValue % connections.count
            let connection = connections[index]
            if avoided.contains(index) { continue }
            if !connection.isHealthy {
                skippedUnhealthy = true
                continue
            }
            // An attempt under way may take the whole connect timeout (a replica that drops
            // packets): rather than wait on it, use an endpoint that is connected now.
            if connection.isConnecting, let ready = readyEndpoint(avoiding: avoided) { return ready }
            do {
                return (index, try await connection.connected(deadline: deadline))
            } catch where error.code == .deadlineExceeded || error.code == .cancelled {
                throw error
            } catch {
                lastError = error
            }
        }
        if skippedUnhealthy {
            // Every healthy endpoint failed: an unhealthy one is better than none.
            for (index, connection) in connections.enumerated() where !connection.isHealthy && !avoided.contains(index) {
                do {
                    return (index, try await connection.connected(deadline: deadline))
                } catch where error.code == .deadlineExceeded || error.code == .cancelled {
                    throw error
                } catch {}
            }
        }
        throw RPCError(code: .unavailable, message: "no endpoint of \(configuration.endpoints.map(\.description).joined(separator: ", ")) is reachable: \(lastError.message)")
    }
}

/// A unary response with its metadata.
public struct UnaryResponse<Message: ProtobufMessage>: Sendable {
    public var message: Message
    public var headers: Metadata
    public var trailers: Metadata
}

/// The responses of a server-streaming call.
public struct ResponseStream<Message: ProtobufMessage>: AsyncSequence, Sendable {
    public typealias Element = Message
    /// The response headers.
    public let headers: Metadata
    fileprivate let messages: NIOThrowingAsyncSequenceProducer<[UInt8], any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, StreamDelegate>
    fileprivate let source: ResponseStreamSource
    fileprivate let method: RPCMethod

    /// The trailers, once the stream has ended.
    public var trailers: Metadata { source.trailers }

    public struct AsyncIterator: AsyncIteratorProtocol {
        fileprivate var inner: NIOThrowingAsyncSequenceProducer<[UInt8], any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, StreamDelegate>.AsyncIterator
        fileprivate let method: RPCMethod

        /// The next response; nil after an OK status; throws ``RPCError`` for any other status.
        public mutating func next() async throws -> Message? {
            let bytes: [UInt8]?
            do {
                bytes = try await inner.next()
            } catch {
                throw RPCError.from(error)
            }
            guard let bytes else { return nil }
            do {
                return try Message(serializedBytes: bytes)
            } catch {
                throw RPCError(code: .internal, message: "a response does not decode as \(method.responseType): \(error)")
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(inner: messages.makeAsyncIterator(), method: method)
    }
}

/// The producing side of a ``ResponseStream``, fed on the connection's loop.
final class ResponseStreamSource: Sendable {
    private let source: NIOThrowingAsyncSequenceProducer<[UInt8], any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, StreamDelegate>.Source
    private let finalTrailers = Mutex(Metadata())

    init(source: NIOThrowingAsyncSequenceProducer<[UInt8], any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, StreamDelegate>.Source) {
        self.source = source
    }

    /// Hands a message to the consumer; false when the consumer is behind and the
    /// server should be slowed down.
    func yield(_ message: [UInt8]) -> Bool {
        switch source.yield(message) {
        case .produceMore: true
        case .stopProducing, .dropped: false
        }
    }

    func finish(error: (any Error)?, trailers: Metadata) {
        finalTrailers.withLock { $0 = trailers }
        if let error { source.finish(error) } else { source.finish() }
    }

    var trailers: Metadata { finalTrailers.withLock { $0 } }
}

/// Connects the consumer's pace and lifetime back to the HTTP/2 stream.
final class StreamDelegate: NIOAsyncSequenceProducerDelegate {
    let handler: NIOLoopBound<ClientConnectionHandler>
    let streamID = Mutex<Int32?>(nil)

    init(handler: NIOLoopBound<ClientConnectionHandler>) {
        self.handler = handler
    }

    func produceMore() {
        let handler = self.handler
        guard let streamID = streamID.withLock({ $0 }) else { return }
        handler.eventLoop.execute { handler.value.resume(streamID) }
    }

    func didTerminate() {
        let handler = self.handler
        guard let streamID = streamID.withLock({ $0 }) else { return }
        handler.eventLoop.execute {
            handler.value.cancel(streamID, error: RPCError(code: .cancelled, message: "the caller stopped reading the stream"))
        }
    }
}

/// One endpoint's connection: connected lazily, reconnected after a failure with backoff.
final class EndpointConnection: Sendable {
    struct Connected: Sendable {
        let channel: any Channel
        let handler: NIOLoopBound<ClientConnectionHandler>

        /// One unary call on this connection; cancelling the calling task resets the stream.
        func unary(_ path: String, _ request: [UInt8], metadata: Metadata, timeoutNanoseconds: Int64?, maximumMessageSize: Int) async throws -> CallOutcome {
            let handler = self.handler
            let cancelled = Mutex<(streamID: Int32?, cancelled: Bool)>((nil, false))
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<CallOutcome, any Error>) in
                    handler.eventLoop.execute {
                        let call = ClientCall(
                            path: path, metadata: metadata, request: request, timeoutNanoseconds: timeoutNanoseconds,
                            maximumMessageSize: maximumMessageSize, delivery: .unary(continuation))
                        handler.value.start(call)
                        let alreadyCancelled = cancelled.withLock { state in
                            state.streamID = call.streamID
                            return state.cancelled
                        }
                        if alreadyCancelled {
                            handler.value.cancel(call.streamID, error: RPCError(code: .cancelled, message: "the caller cancelled the call"))
                        }
                    }
                }
            } onCancel: {
                let streamID = cancelled.withLock { state in
                    state.cancelled = true
                    return state.streamID
                }
                if let streamID {
                    handler.eventLoop.execute {
                        handler.value.cancel(streamID, error: RPCError(code: .cancelled, message: "the caller cancelled the call"))
                    }
                }
            }
        }
    }

    /// A caller waiting for a connection attempt, until its deadline at most.
    private struct Waiter {
        let id: Int
        let continuation: CheckedContinuation<Connected, any Error>
        /// Ends the wait at the caller's deadline.
        let timer: Scheduled<Void>?
    }

    static let deadlineExceeded = RPCError(code: .deadlineExceeded, message: "the deadline passed before a connection to the server was ready")

    private enum State {
        case idle
        case connecting([Waiter])
        case ready(Connected)
        case backoff(until: ContinuousClock.Instant, error: RPCError)
    }

    private struct Shared {
        var state = State.idle
        var failures = 0
        var healthy = true
        var closed = false
        var lastWaiterID = 0
    }

    let endpoint: RPCClient.Endpoint
    private let group: MultiThreadedEventLoopGroup
    private let configuration: RPCClient.Configuration
    private let shared = Mutex(Shared())

    init(endpoint: RPCClient.Endpoint, group: MultiThreadedEventLoopGroup, configuration: RPCClient.Configuration) {
        self.endpoint = endpoint
        self.group = group
        self.configuration = configuration
    }

    var isHealthy: Bool { shared.withLock { $0.healthy } }

    /// The connection, if one is ready now (no waiting, no connecting).
    var readyConnection: Connected? {
        shared.withLock { shared in
            if shared.closed { return nil }
            if case .ready(let connected) = shared.state { return connected }
            return nil
        }
    }

    /// Whether a connection attempt is under way.
    var isConnecting: Bool {
        shared.withLock { shared in
            if case .connecting = shared.state { return true }
            return false
        }
    }

    private enum Next {
        case use(Connected)
        case fail(RPCError)
        case wait
        case connect
    }

    /// A usable connection: the current one, or a new one when there is none and
    /// the backoff has passed. A caller stops waiting for a connection attempt at its
    /// `deadline` (DEADLINE_EXCEEDED) or when its task is cancelled (CANCELLED); the
    /// attempt goes on for the others.
    func connected(deadline: ContinuousClock.Instant? = nil) async throws(RPCError) -> Connected {
        // Every call asks; nearly always the connection is ready: no waiter, no continuation.
        if let ready = readyConnection { return ready }
        let id = shared.withLock { shared in
            shared.lastWaiterID += 1
            return shared.lastWaiterID
        }
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Connected, any Error>) in
                    let next: Next = shared.withLock { shared in
                        if shared.closed { return .fail(RPCError(code: .unavailable, message: "the client is closed")) }
                        var waiters: [Waiter] = []
                        let next: Next
                        switch shared.state {
                        case .ready(let connected):
                            return .use(connected)
                        case .connecting(let current):
                            waiters = current
                            next = .wait
                        case .backoff(let until, let error):
                            if ContinuousClock.now < until { return .fail(error) }
                            next = .connect
                        case .idle:
                            next = .connect
                        }
                        if Task.isCancelled { return .fail(RPCError(code: .cancelled, message: "the call was cancelled")) }
                        let timer = deadline.map { deadline in
                            group.next().scheduleTask(in: TimeAmount(deadline - .now)) { self.stopWaiting(id, Self.deadlineExceeded) }
                        }
                        shared.state = .connecting(waiters + [Waiter(id: id, continuation: continuation, timer: timer)])
                        return next
                    }
                    switch next {
                    case .use(let connected): continuation.resume(returning: connected)
                    case .fail(let error): continuation.resume(throwing: error)
                    case .wait: break
                    case .connect: connect()
                    }
                }
            } onCancel: {
                stopWaiting(id, RPCError(code: .cancelled, message: "the call was cancelled"))
            }
        } catch {
            throw RPCError.from(error)
        }
    }

    /// Fails one waiter's wait for the connection attempt in progress, if it still waits.
    private func stopWaiting(_ id: Int, _ error: RPCError) {
        let waiter: Waiter? = shared.withLock { shared in
            guard case .connecting(var waiters) = shared.state, let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
            let waiter = waiters.remove(at: index)
            shared.state = .connecting(waiters)
            return waiter
        }
        waiter?.timer?.cancel()
        waiter?.continuation.resume(throwing: error)
    }

    private func connect() {
        let endpoint = self.endpoint
        let authority = endpoint.description
        let sslContext: NIOSSLContext?
        do {
            sslContext = try configuration.tls?.makeClientContext()
        } catch {
            connectFinished(.failure(error))
            return
        }
        let serverName = TLSSettings.hostnameForVerification(endpoint.host, override: configuration.tls?.serverName)
        let keepalive = configuration.keepaliveInterval.map { (interval: $0, timeout: configuration.keepaliveTimeout) }
        ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHandler(ClientConnectionHandler(authority: authority, scheme: sslContext == nil ? "http" : "https", keepalive: keepalive))
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .flatMap { channel in
                channel.pipeline.handler(type: ClientConnectionHandler.self).map { handler in
                    handler.onUnusable = { [weak self] in self?.connectionBecameUnusable(channel) }
                    return Connected(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
                }
            }
            .whenComplete { result in
                self.connectFinished(result)
            }
    }

    private func connectFinished(_ result: Result<Connected, any Error>) {
        let (waiters, outcome): ([Waiter], Result<Connected, RPCError>) = shared.withLock { shared in
            guard case .connecting(let waiters) = shared.state else { return ([], .failure(RPCError(code: .unavailable, message: "closed"))) }
            switch result {
            case .success(let connected):
                if shared.closed {
                    connected.channel.close(promise: nil)
                    shared.state = .idle
                    return (waiters, .failure(RPCError(code: .unavailable, message: "the client is closed")))
                }
                shared.failures = 0
                shared.state = .ready(connected)
                return (waiters, .success(connected))
            case .failure(let error):
                shared.failures += 1
                let delay = backoff(failures: shared.failures)
                let rpcError = RPCError(code: .unavailable, message: "cannot connect to \(endpoint): \(error)")
                shared.state = .backoff(until: .now + delay, error: rpcError)
                return (waiters, .failure(rpcError))
            }
        }
        for waiter in waiters {
            waiter.timer?.cancel()
            switch outcome {
            case .success(let connected): waiter.continuation.resume(returning: connected)
            case .failure(let error): waiter.continuation.resume(throwing: error)
            }
        }
    }

    private func backoff(failures: Int) -> Duration {
        var delay = configuration.initialBackoff
        for _ in 1..<max(failures, 1) {
            delay = delay * configuration.backoffMultiplier
            if delay > configuration.maximumBackoff { delay = configuration.maximumBackoff; break }
        }
        return delay * Double.random(in: 0.8...1.2)
    }

    /// GOAWAY or close: the next call opens a new connection.
    private func connectionBecameUnusable(_ channel: any Channel) {
        shared.withLock { shared in
            if case .ready(let connected) = shared.state, connected.channel === channel {
                shared.state = .idle
            }
        }
    }

    /// Asks the endpoint's health service and records the answer.
    func checkHealth(service: String) async {
        let healthy: Bool
        do {
            let outcome = try await connected().unary(
                HealthDescriptor.check.path, HealthCheckRequest(service: service).serializedBytes(), metadata: Metadata(),
                timeoutNanoseconds: 2_000_000_000, maximumMessageSize: 1024)
            healthy = (try? HealthCheckResponse(serializedBytes: outcome.messages[0]))?.status == .serving
        } catch {
            healthy = false
        }
        shared.withLock { $0.healthy = healthy }
    }

    func close() async {
        let channel: (any Channel)? = shared.withLock { shared in
            shared.closed = true
            if case .ready(let connected) = shared.state {
                shared.state = .idle
                return connected.channel
            }
            return nil
        }
        try? await channel?.close()
    }
}
