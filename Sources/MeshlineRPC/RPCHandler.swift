public import MeshlineModels

/// Sends the responses of a server-streaming call, with backpressure.
public protocol ResponseSink: Sendable {
    /// Sends one serialized message. Suspends while the transport's buffer for the
    /// call is full (a slow reader slows the handler instead of growing memory);
    /// throws when the call has ended (cancelled, deadline passed, peer gone).
    func send(_ message: [UInt8]) async throws
}

/// The typed face of a ``ResponseSink``.
public struct ResponseWriter<Message: ProtobufMessage>: Sendable {
    let sink: any ResponseSink

    public init(sink: any ResponseSink) {
        self.sink = sink
    }

    /// Sends one message; see ``ResponseSink/send(_:)``.
    public func write(_ message: Message) async throws {
        try await sink.send(message.serializedBytes())
    }
}

/// The code that serves one method.
public struct RPCHandler: Sendable {
    /// How the handler runs.
    public enum Body: Sendable {
        /// Runs synchronously on the connection's event loop, without a task. Only for
        /// handlers that never block and never wait (e.g. reading an in-memory table).
        case inlineUnary(@Sendable (_ request: [UInt8], _ context: ServerCallContext) throws(RPCError) -> [UInt8])
        /// Runs in a task; returns the one response.
        case unary(@Sendable (_ request: [UInt8], _ context: ServerCallContext) async throws -> [UInt8])
        /// Tries `fast` inline on the event loop (e.g. a cache hit) and runs `slow` in a
        /// task only when `fast` returns nil: no task and no thread hop for the common case.
        case unaryWithFastPath(
            fast: @Sendable (_ request: [UInt8], _ context: ServerCallContext) throws(RPCError) -> [UInt8]?,
            slow: @Sendable (_ request: [UInt8], _ context: ServerCallContext) async throws -> [UInt8])
        /// Runs in a task; sends any number of responses.
        case serverStreaming(@Sendable (_ request: [UInt8], _ context: ServerCallContext, _ sink: any ResponseSink) async throws -> Void)
    }

    public let method: RPCMethod
    public let body: Body
    /// Told about each finished call, when the server has a ``CallObserver``.
    public internal(set) var observer: (any MethodObserver)?

    public init(method: RPCMethod, body: Body) {
        self.method = method
        self.body = body
    }

    /// A unary handler on typed messages. A request that does not decode fails the
    /// call with INVALID_ARGUMENT naming the problem.
    public static func unary<Request: ProtobufMessage, Response: ProtobufMessage>(
        _ method: RPCMethod,
        _ handler: @escaping @Sendable (Request, ServerCallContext) async throws -> Response
    ) -> RPCHandler {
        RPCHandler(method: method, body: .unary { bytes, context in
            try await handler(try decodeRequest(bytes, context), context).serializedBytes()
        })
    }

    /// A unary handler with an inline fast path; see ``Body/unaryWithFastPath(fast:slow:)``.
    /// `fast` must never block or wait.
    public static func unary<Request: ProtobufMessage, Response: ProtobufMessage>(
        _ method: RPCMethod,
        fast: @escaping @Sendable (Request, ServerCallContext) throws(RPCError) -> Response?,
        _ slow: @escaping @Sendable (Request, ServerCallContext) async throws -> Response
    ) -> RPCHandler {
        RPCHandler(method: method, body: .unaryWithFastPath(
            fast: { (bytes, context) throws(RPCError) in
                try fast(try decodeRequest(bytes, context), context)?.serializedBytes()
            },
            slow: { bytes, context in
                try await slow(try decodeRequest(bytes, context), context).serializedBytes()
            }))
    }

    /// A unary handler that runs inline on the event loop; see ``Body/inlineUnary(_:)``.
    public static func inlineUnary<Request: ProtobufMessage, Response: ProtobufMessage>(
        _ method: RPCMethod,
        _ handler: @escaping @Sendable (Request, ServerCallContext) throws(RPCError) -> Response
    ) -> RPCHandler {
        RPCHandler(method: method, body: .inlineUnary { (bytes, context) throws(RPCError) in
            try handler(try decodeRequest(bytes, context), context).serializedBytes()
        })
    }

    /// A server-streaming handler on typed messages.
    public static func serverStreaming<Request: ProtobufMessage, Response: ProtobufMessage>(
        _ method: RPCMethod,
        _ handler: @escaping @Sendable (Request, ResponseWriter<Response>, ServerCallContext) async throws -> Void
    ) -> RPCHandler {
        RPCHandler(method: method, body: .serverStreaming { bytes, context, sink in
            try await handler(try decodeRequest(bytes, context), ResponseWriter(sink: sink), context)
        })
    }

    /// Decodes the request and authorizes the tenant it names, so that no handler can forget to.
    static func decodeRequest<Request: ProtobufMessage>(_ bytes: [UInt8], _ context: ServerCallContext) throws(RPCError) -> Request {
        let request: Request
        do {
            request = try Request(serializedBytes: bytes)
        } catch {
            throw RPCError.badRequest(
                "the request does not decode: \(error)",
                violations: [BadRequest.FieldViolation(field: error.fieldPath ?? "", description: error.description)])
        }
        try context.authorize(request)
        return request
    }
}

/// A set of handlers served together, e.g. one gRPC service.
public protocol RPCService: Sendable {
    /// The service's full name, e.g. `meshline.v1.ExportRegistry`, as health checks name it.
    var serviceName: String { get }
    /// One handler per method.
    var handlers: [RPCHandler] { get }
}

/// Finds the handler for a `:path`.
public struct RPCRouter: Sendable {
    private var handlers: [String: RPCHandler] = [:]
    /// Names of the services registered, in order.
    public private(set) var serviceNames: [String] = []

    public init() {}

    public init(services: [any RPCService]) {
        for service in services { register(service) }
    }

    /// Adds a service's handlers. A method registered twice keeps the last handler.
    public mutating func register(_ service: any RPCService) {
        for handler in service.handlers {
            handlers[handler.method.path] = handler
        }
        if !serviceNames.contains(service.serviceName) { serviceNames.append(service.serviceName) }
    }

    /// Calls no handler serves, as the observer sees them.
    public private(set) var unknownMethodObserver: (any MethodObserver)?

    /// Gives every handler its method's observer from `observer`.
    public mutating func observe(with observer: any CallObserver) {
        for path in handlers.keys { handlers[path]?.observer = observer.observer(forMethod: path) }
        unknownMethodObserver = observer.observer(forMethod: "unknown")
    }

    /// The handler for `path`, or the UNIMPLEMENTED error to answer with.
    public func handler(for path: String) -> Result<RPCHandler, RPCError> {
        if let handler = handlers[path] { return .success(handler) }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 3, parts[0].isEmpty, serviceNames.contains(String(parts[1])) {
            return .failure(RPCError(code: .unimplemented, message: "method '\(parts[2])' is not implemented by service '\(parts[1])'"))
        }
        return .failure(RPCError(code: .unimplemented, message: "no service serves '\(path)'; check the service name and that the server runs this service"))
    }
}
