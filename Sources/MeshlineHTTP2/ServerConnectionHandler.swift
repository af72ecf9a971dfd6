import Logging
import MeshlineModels
import MeshlineRPC
import NIOCore

/// One gRPC call on the server side of a connection.
private final class ServerStream {
    enum Phase {
        /// Reading request headers.
        case headers
        /// Headers accepted; reading the request message.
        case body
        /// The handler runs.
        case running
        /// The status went out (or the stream was reset); waiting for nghttp2 to close it.
        case done
    }

    let id: Int32
    var phase = Phase.headers
    var method: String?
    var path: String?
    var contentType: String?
    var encoding: String?
    var timeout: String?
    var metadata = Metadata()
    var headerBytes = 0
    /// The first problem with the request headers, answered once they are complete.
    var headerError: RPCError?
    var deframer: MessageDeframer
    var request: [UInt8]?
    var handler: RPCHandler?
    var callContext: ServerCallContext?
    var task: Task<Void, Never>?
    var deadline: Scheduled<Void>?
    var responseHeadersSent = false
    var remoteClosed = false
    /// RST_STREAM code to send once our END_STREAM is out while the peer's side is open.
    var resetAfterEndStream: UInt32 = 0
    var sendWaiters: [CheckedContinuation<Void, any Error>] = []
    /// When the request headers arrived, for the observer's latency.
    var startedAt: ContinuousClock.Instant?
    /// The call's span, when its trace is sampled and a recorder is installed.
    var span: (any RecordingSpan)?

    init(id: Int32, maximumMessageSize: Int) {
        self.id = id
        self.deframer = MessageDeframer(maximumMessageSize: maximumMessageSize)
    }
}

/// The server side of one HTTP/2 connection: an nghttp2 session, the calls on it,
/// and the handlers serving them.
///
/// Everything here runs on the connection's event loop; handlers run in tasks that
/// prefer that loop's executor and report back through ``NIOLoopBound``.
final class ServerConnectionHandler: ChannelInboundHandler, HTTP2SessionDelegate {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let router: RPCRouter
    private let configuration: RPCServer.Configuration
    private let logger: Logger
    private let tracker: ConnectionTracker
    private let session: HTTP2Session
    private var context: ChannelHandlerContext?
    private var streams: [Int32: ServerStream] = [:]
    private var readyToDispatch: [ServerStream] = []
    private var inReadLoop = false
    private var flushScheduled = false
    private var remoteAddress = "unknown"
    private var executor: EventLoopTaskExecutor?
    private var isClosing = false
    /// After a GOAWAY for misbehaviour: reads are dropped until the connection closes.
    private var discardingInput = false

    // Graceful drain.
    private var draining = false
    private var finalGoAwaySent = false

    private let keepalive: Keepalive

    // Rapid-reset defence: resets received in the current window.
    private var resetWindowStart = NIODeadline.now()
    private var resetsInWindow = 0

    init(router: RPCRouter, configuration: RPCServer.Configuration, logger: Logger, tracker: ConnectionTracker) throws {
        self.router = router
        self.configuration = configuration
        self.logger = logger
        self.tracker = tracker
        var settings = HTTP2SessionSettings()
        settings.maxConcurrentStreams = configuration.maxConcurrentStreams
        settings.maxHeaderListSize = UInt32(configuration.maxHeaderListSize)
        self.session = try HTTP2Session(isServer: true, settings: settings)
        self.keepalive = Keepalive(interval: configuration.keepaliveInterval, timeout: configuration.keepaliveTimeout)
        self.session.delegate = self
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        executor = EventLoopTaskExecutor(loop: context.eventLoop)
        remoteAddress = context.channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "unknown"
        tracker.add(self, loop: context.eventLoop)
        keepalive.start(on: context.eventLoop, ping: { [unowned self] in
            // Nothing arrived for a whole interval: ask the peer to prove it is there.
            session.submitPing()
            flushNow()
        }, expired: { [unowned self] in
            logger.debug("closing connection: keepalive ping unanswered", metadata: ["peer": "\(remoteAddress)"])
            session.submitGoAway(lastStreamID: session.lastProcessedStreamID, errorCode: 0, debug: "keepalive timeout")
            closeAfterGoAway()
        })
        flushNow()  // our SETTINGS
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        keepalive.stop()
        tracker.remove(self)
        failAllStreams()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAllStreams()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !discardingInput else { return }
        let buffer = unwrapInboundIn(data)
        keepalive.noteRead()
        inReadLoop = true
        do {
            try session.receive(buffer)
        } catch let error as HTTP2SessionError {
            // Not HTTP/2 (garbage, a wrong preface) or a connection-level protocol error:
            // send nghttp2's GOAWAY if it queued one, then close this connection only.
            logger.debug("closing connection", metadata: ["peer": "\(remoteAddress)", "reason": "\(error)"])
            inReadLoop = false
            closeAfterGoAway()
            return
        } catch {
            close()
            return
        }
        dispatchReadyStreams()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadLoop = false
        flushNow()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { flushNow() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("connection error", metadata: ["peer": "\(remoteAddress)", "error": "\(error)"])
        close()
    }

    // MARK: Writing

    /// Writes what nghttp2 has queued, unless the socket is backed up: then the
    /// frames wait in nghttp2 and handlers wait on their send buffers.
    private func flushNow() {
        flushScheduled = false
        guard let context, !isClosing else { return }
        if context.channel.isWritable {
            do {
                try session.writePending(to: context)
            } catch {
                close()
                return
            }
        }
        if !session.isActive || (finalGoAwaySent && streams.isEmpty && !session.wantsWrite) {
            close()
        }
    }

    /// Flushes soon: at the end of the current read, or in one batch for everything
    /// that completes in this event-loop tick.
    private func scheduleFlush() {
        guard !inReadLoop, !flushScheduled, let context else { return }
        flushScheduled = true
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute { bound.value.flushNow() }
    }

    private func close() {
        guard !isClosing, let context else { return }
        isClosing = true
        failAllStreams()
        context.close(promise: nil)
    }

    /// Ends a connection whose peer misbehaved: write what nghttp2 queued (its
    /// GOAWAY), close our side, drop whatever the peer still sends, and close fully
    /// a moment later. Closing at once with unread input would make the kernel send
    /// a TCP reset that can overtake the GOAWAY.
    private func closeAfterGoAway() {
        guard !isClosing, !discardingInput, let context else { return }
        flushNow()
        discardingInput = true
        failAllStreams()
        context.close(mode: .output, promise: nil)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: .seconds(1)) { bound.value.close() }
    }

    // MARK: HTTP2SessionDelegate

    func streamBeganHeaders(_ streamID: Int32, isTrailers: Bool) {
        guard !isTrailers else { return }
        streams[streamID] = ServerStream(id: streamID, maximumMessageSize: configuration.maxMessageSize)
    }

    func streamReceivedHeader(_ streamID: Int32, _ field: HeaderField) -> Bool {
        guard let stream = streams[streamID], stream.phase == .headers else { return true }
        // The same accounting as HTTP/2's SETTINGS_MAX_HEADER_LIST_SIZE.
        stream.headerBytes += field.name.utf8.count + field.value.utf8.count + 32
        if stream.headerBytes > configuration.maxHeaderListSize {
            if stream.headerError == nil {
                stream.headerError = RPCError(code: .resourceExhausted, message: "request headers exceed \(configuration.maxHeaderListSize) bytes; send less metadata")
            }
            return true
        }
        switch field.name {
        case ":method": stream.method = field.value
        case ":path": stream.path = field.value
        case ":scheme", ":authority", "te", "user-agent", "grpc-accept-encoding", "grpc-message-type": break
        case "content-type": stream.contentType = field.value
        case "grpc-encoding": stream.encoding = field.value
        case "grpc-timeout": stream.timeout = field.value
        default:
            if Metadata.isReservedKey(field.name) || field.name.hasPrefix("grpc-") && field.name != "grpc-status-details-bin" { break }
            if !stream.metadata.addFromWire(key: field.name, value: field.value), stream.headerError == nil {
                stream.headerError = RPCError(code: .internal, message: "metadata '\(field.name)' is not valid: keys are 0-9 a-z - _ . and -bin values are base64")
            }
        }
        return true
    }

    func streamEndedHeaders(_ streamID: Int32, endStream: Bool) {
        guard let stream = streams[streamID] else { return }
        if endStream { stream.remoteClosed = true }
        guard stream.phase == .headers else {
            // Trailers from a client: their fields are ignored, but their END_STREAM ends the request.
            if endStream && stream.phase == .body { requestComplete(stream) }
            return
        }
        if let method = stream.method, method != "POST" {
            respondHTTPError(stream, status: 405, message: "gRPC calls use POST, not \(method)")
            return
        }
        guard let contentType = stream.contentType, contentType.hasPrefix("application/grpc") else {
            respondHTTPError(stream, status: 415, message: "content-type '\(stream.contentType ?? "")' is not application/grpc")
            return
        }
        if let error = stream.headerError {
            fail(stream, error)
            return
        }
        if let encoding = stream.encoding, encoding != "identity" {
            var error = RPCError(code: .unimplemented, message: "message encoding '\(encoding)' is not supported; send uncompressed messages")
            error.metadata.add("grpc-accept-encoding", "identity")
            fail(stream, error)
            return
        }
        let handler: RPCHandler
        switch router.handler(for: stream.path ?? "") {
        case .success(let found): handler = found
        case .failure(let error):
            fail(stream, error)
            return
        }
        var deadline: ContinuousClock.Instant?
        if let timeout = stream.timeout {
            guard let nanoseconds = WireText.parseTimeout(timeout) else {
                fail(stream, RPCError(code: .internal, message: "grpc-timeout '\(timeout)' is malformed; use 1 to 8 digits and a unit (H M S m u n)"))
                return
            }
            deadline = .now + .nanoseconds(nanoseconds)
            startDeadline(stream, nanoseconds: nanoseconds)
        }
        if configuration.observer != nil { stream.startedAt = .now }
        var principal: Principal?
        if let policy = configuration.policy {
            do {
                principal = try policy.admit(method: handler.method, metadata: stream.metadata, remoteAddress: remoteAddress)
            } catch {
                stream.handler = handler  // observed under its method
                fail(stream, error)
                return
            }
        }
        stream.handler = handler
        let (trace, span) = TraceRecording.startServerSpan(handler.method.path, traceparent: stream.metadata["traceparent"])
        stream.span = span
        stream.callContext = ServerCallContext(
            method: handler.method, requestMetadata: stream.metadata, deadline: deadline, remoteAddress: remoteAddress,
            principal: principal, policy: configuration.policy, trace: trace)
        stream.phase = .body
        if endStream { requestComplete(stream) }
    }

    func streamReceivedData(_ streamID: Int32, _ bytes: [UInt8]) {
        guard let stream = streams[streamID], stream.phase == .body else { return }
        do {
            try stream.deframer.append(bytes)
        } catch {
            fail(stream, error)
            return
        }
        // Every method takes one request message, and nghttp2 keeps opening the window:
        // refuse a second message as soon as its first byte arrives instead of at
        // END_STREAM, so a stream never holds more than one message.
        if stream.deframer.readyCount > 1 || (stream.deframer.readyCount == 1 && stream.deframer.hasPartialMessage) {
            fail(stream, Self.moreThanOneMessage)
        }
    }

    func streamEndedByPeer(_ streamID: Int32) {
        guard let stream = streams[streamID] else { return }
        stream.remoteClosed = true
        if stream.phase == .body { requestComplete(stream) }
    }

    func streamReset(_ streamID: Int32, errorCode: UInt32) {
        countReset()
        // The peer cancelled; streamClosed follows and stops the handler.
    }

    func streamClosed(_ streamID: Int32, errorCode: UInt32) {
        guard let stream = streams.removeValue(forKey: streamID) else { return }
        end(stream, cancelled: true, code: .cancelled)
        if draining && streams.isEmpty { scheduleFlush() }
    }

    func streamSentEndStream(_ streamID: Int32) {
        guard let stream = streams[streamID] else { return }
        // The status is out but the client has not finished sending: tell it to stop
        // (RST_STREAM NO_ERROR, or CANCEL after a deadline), as the protocol asks.
        if !session.isRemoteClosed(streamID) {
            session.submitReset(streamID, errorCode: stream.resetAfterEndStream)
        }
    }

    func streamDrainedOutbound(_ streamID: Int32, remaining: Int) {
        guard let stream = streams[streamID], !stream.sendWaiters.isEmpty,
            remaining <= configuration.streamSendBufferSize / 2
        else { return }
        let waiters = stream.sendWaiters
        stream.sendWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
    }

    func receivedGoAway(lastStreamID: Int32, errorCode: UInt32) {}

    func receivedPingAck() {
        keepalive.pingAcknowledged()
        if draining && !finalGoAwaySent { sendFinalGoAway() }
    }

    // MARK: Calls

    private static let moreThanOneMessage = RPCError(
        code: .internal, message: "the request has more than one message; unary and server-streaming calls take exactly one")

    private func requestComplete(_ stream: ServerStream) {
        guard let request = stream.deframer.next() else {
            if stream.deframer.hasPartialMessage {
                fail(stream, RPCError(code: .internal, message: "the request ended inside a message; send whole length-prefixed messages"))
            } else {
                fail(stream, RPCError(code: .internal, message: "the request has no message; unary and server-streaming calls take exactly one"))
            }
            return
        }
        if stream.deframer.next() != nil {
            fail(stream, Self.moreThanOneMessage)
            return
        }
        stream.request = request
        stream.phase = .running
        readyToDispatch.append(stream)
        if !inReadLoop { dispatchReadyStreams() }
    }

    /// Starts the handlers of completed requests, after nghttp2 has returned from parsing.
    private func dispatchReadyStreams() {
        guard !readyToDispatch.isEmpty else { return }
        let ready = readyToDispatch
        readyToDispatch.removeAll(keepingCapacity: true)
        for stream in ready where stream.phase == .running {
            dispatch(stream)
        }
    }

    private func dispatch(_ stream: ServerStream) {
        guard let handler = stream.handler, let request = stream.request, let callContext = stream.callContext,
            let context, let executor
        else { return }
        stream.request = nil
        let streamID = stream.id
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        switch handler.body {
        case .inlineUnary(let body):
            do {
                respond(stream, message: try body(request, callContext))
            } catch {
                fail(stream, error)
            }
        case .unaryWithFastPath(let fast, let slow):
            do {
                if let response = try fast(request, callContext) {
                    respond(stream, message: response)
                    return
                }
            } catch {
                fail(stream, error)
                return
            }
            runUnary(stream, slow, request, callContext, executor: executor, bound: bound, loop: loop)
        case .unary(let body):
            runUnary(stream, body, request, callContext, executor: executor, bound: bound, loop: loop)
        case .serverStreaming(let body):
            let sink = StreamSink(connection: bound, streamID: streamID)
            stream.task = Task(executorPreference: executor) {
                let result: Result<[UInt8], RPCError>
                do {
                    try await TraceContext.$current.withValue(callContext.trace) { try await body(request, callContext, sink) }
                    result = .success([])
                } catch {
                    result = .failure(RPCError.from(error))
                }
                loop.runOnLoop { bound.value.handlerFinished(streamID, result, streaming: true) }
            }
        }
    }

    private func runUnary(
        _ stream: ServerStream, _ body: @escaping @Sendable ([UInt8], ServerCallContext) async throws -> [UInt8], _ request: [UInt8],
        _ callContext: ServerCallContext, executor: EventLoopTaskExecutor, bound: NIOLoopBound<ServerConnectionHandler>, loop: any EventLoop
    ) {
        let streamID = stream.id
        stream.task = Task(executorPreference: executor) {
            let result: Result<[UInt8], RPCError>
            do {
                result = .success(try await TraceContext.$current.withValue(callContext.trace) { try await body(request, callContext) })
            } catch {
                result = .failure(RPCError.from(error))
            }
            loop.runOnLoop { bound.value.handlerFinished(streamID, result) }
        }
    }

    private func handlerFinished(_ streamID: Int32, _ result: Result<[UInt8], RPCError>, streaming: Bool = false) {
        guard let stream = streams[streamID], stream.phase == .running else { return }
        stream.task = nil
        switch result {
        case .success(let message):
            if streaming {
                finishStreaming(stream)
            } else {
                respond(stream, message: message)
            }
        case .failure(let error):
            fail(stream, error)
        }
        scheduleFlush()
    }

    /// Response headers: HTTP 200, the gRPC content type, and the handler's metadata.
    private func responseHeaders(_ stream: ServerStream) -> [HeaderField] {
        var headers = [HeaderField(":status", "200"), HeaderField("content-type", "application/grpc")]
        if let metadata = stream.callContext?.responseHeaders { headers.append(metadata: metadata) }
        return headers
    }

    private func statusFields(_ stream: ServerStream, code: StatusCode, message: String, metadata: Metadata) -> [HeaderField] {
        var fields = [HeaderField("grpc-status", String(code.rawValue))]
        if !message.isEmpty { fields.append(HeaderField("grpc-message", WireText.percentEncode(message))) }
        fields.append(metadata: metadata)
        if let trailers = stream.callContext?.trailers { fields.append(metadata: trailers) }
        return fields
    }

    private func respond(_ stream: ServerStream, message: [UInt8]) {
        do {
            try session.submitResponse(stream.id, headers: responseHeaders(stream), endStream: false)
            stream.responseHeadersSent = true
            session.enqueue(stream.id, bytes: MessageFraming.prefix(length: message.count))
            session.enqueue(stream.id, bytes: message)
            session.finish(stream.id, trailers: statusFields(stream, code: .ok, message: "", metadata: Metadata()))
        } catch {
            session.submitReset(stream.id, errorCode: 0x2)  // INTERNAL_ERROR
        }
        end(stream, cancelled: false, code: .ok)
        scheduleFlush()
    }

    private func finishStreaming(_ stream: ServerStream) {
        if !stream.responseHeadersSent {
            sendTrailersOnly(stream, code: .ok, message: "", metadata: Metadata())
        } else {
            session.finish(stream.id, trailers: statusFields(stream, code: .ok, message: "", metadata: Metadata()))
        }
        end(stream, cancelled: false, code: .ok)
    }

    /// Ends the call with an error status: Trailers-Only when nothing was sent yet.
    private func fail(_ stream: ServerStream, _ error: RPCError) {
        guard stream.phase != .done else { return }
        if stream.responseHeadersSent {
            session.finish(stream.id, trailers: statusFields(stream, code: error.code, message: error.message, metadata: error.metadata))
        } else {
            sendTrailersOnly(stream, code: error.code, message: error.message, metadata: error.metadata)
        }
        end(stream, cancelled: true, code: error.code)
        scheduleFlush()
    }

    private func sendTrailersOnly(_ stream: ServerStream, code: StatusCode, message: String, metadata: Metadata) {
        var fields = responseHeaders(stream)
        fields += statusFields(stream, code: code, message: message, metadata: metadata)
        do {
            try session.submitResponse(stream.id, headers: fields, endStream: true)
        } catch {
            session.submitReset(stream.id, errorCode: 0x2)
        }
        stream.responseHeadersSent = true
    }

    /// A response for a request that is not gRPC at all (wrong method or content type).
    private func respondHTTPError(_ stream: ServerStream, status: Int, message: String) {
        let fields = [
            HeaderField(":status", String(status)), HeaderField("content-type", "text/plain"),
            HeaderField("grpc-status", String(StatusCode.internal.rawValue)), HeaderField("grpc-message", WireText.percentEncode(message)),
        ]
        try? session.submitResponse(stream.id, headers: fields, endStream: true)
        stream.responseHeadersSent = true
        end(stream, cancelled: true, code: .internal)
        scheduleFlush()
    }

    /// The call is over for us: stop its timer, and stop its handler if it still runs.
    private func end(_ stream: ServerStream, cancelled: Bool, code: StatusCode) {
        if stream.phase != .done {
            observe(stream, code: code)
        }
        stream.phase = .done
        stream.deadline?.cancel()
        stream.deadline = nil
        if cancelled { stream.task?.cancel() }
        stream.task = nil
        let waiters = stream.sendWaiters
        stream.sendWaiters.removeAll()
        for waiter in waiters {
            waiter.resume(throwing: RPCError(code: .cancelled, message: "the call ended before the response was sent"))
        }
    }

    /// Tells the observer and the span how the call ended (once per call).
    private func observe(_ stream: ServerStream, code: StatusCode) {
        if let span = stream.span {
            span.setAttribute("rpc.grpc.status_code", String(code.rawValue))
            span.end(failed: code != .ok)
            stream.span = nil
        }
        guard let startedAt = stream.startedAt, let observer = stream.handler?.observer ?? router.unknownMethodObserver else { return }
        let elapsed = ContinuousClock.now - startedAt
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        observer.callFinished(code: code, seconds: seconds)
    }

    private func failAllStreams() {
        let all = streams.values
        streams.removeAll()
        for stream in all { end(stream, cancelled: true, code: .unavailable) }
    }

    private func startDeadline(_ stream: ServerStream, nanoseconds: Int64) {
        guard let context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let streamID = stream.id
        stream.deadline = context.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) {
            bound.value.deadlinePassed(streamID)
        }
    }

    private func deadlinePassed(_ streamID: Int32) {
        guard let stream = streams[streamID], stream.phase != .done else { return }
        // The status goes out; streamSentEndStream then resets with CANCEL if the client is still sending.
        stream.resetAfterEndStream = 0x8
        fail(stream, RPCError(code: .deadlineExceeded, message: "the deadline passed before the server answered"))
    }

    // MARK: Streaming responses

    /// Sends one message of a server-streaming call; waits while its buffer is full.
    fileprivate func send(_ streamID: Int32, _ message: [UInt8], continuation: CheckedContinuation<Void, any Error>?) -> SendOutcome {
        guard let stream = streams[streamID], stream.phase == .running else {
            return .failed(RPCError(code: .cancelled, message: "the call has ended; stop sending"))
        }
        if !stream.responseHeadersSent {
            do {
                try session.submitResponse(streamID, headers: responseHeaders(stream), endStream: false)
            } catch {
                return .failed(RPCError(code: .internal, message: "could not start the response"))
            }
            stream.responseHeadersSent = true
        }
        session.enqueue(streamID, bytes: MessageFraming.prefix(length: message.count))
        session.enqueue(streamID, bytes: message)
        scheduleFlush()
        if session.bufferedBytes(streamID) > configuration.streamSendBufferSize {
            if let continuation {
                stream.sendWaiters.append(continuation)
                return .waiting
            }
            return .mustWait
        }
        return .sent
    }

    fileprivate enum SendOutcome {
        case sent, waiting, mustWait
        case failed(RPCError)
    }

    fileprivate func waitForRoom(_ streamID: Int32, _ continuation: CheckedContinuation<Void, any Error>) {
        guard let stream = streams[streamID], stream.phase == .running else {
            continuation.resume(throwing: RPCError(code: .cancelled, message: "the call has ended; stop sending"))
            return
        }
        if session.bufferedBytes(streamID) <= configuration.streamSendBufferSize / 2 {
            continuation.resume()
        } else {
            stream.sendWaiters.append(continuation)
        }
    }

    // MARK: Resets, drain

    private func countReset() {
        let now = NIODeadline.now()
        if now - resetWindowStart > TimeAmount(configuration.resetWindow) {
            resetWindowStart = now
            resetsInWindow = 0
        }
        resetsInWindow += 1
        if resetsInWindow > configuration.maxResetsPerWindow {
            // Rapid-reset flood (CVE-2023-44487): refuse to keep working for this peer.
            logger.warning("closing connection: too many stream resets", metadata: ["peer": "\(remoteAddress)", "resets": "\(resetsInWindow)"])
            session.submitGoAway(lastStreamID: session.lastProcessedStreamID, errorCode: 0xB, debug: "too many stream resets")
            inReadLoop = false
            closeAfterGoAway()
        }
    }

    /// Begins a graceful shutdown: an advisory GOAWAY and a PING; when the PING is
    /// answered (the client has seen the GOAWAY), the final GOAWAY fixes the last
    /// stream. Calls in flight finish; the connection closes when none is left.
    func beginDrain() {
        guard !draining, let context else { return }
        draining = true
        session.submitShutdownNotice()
        session.submitPing()
        flushNow()
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        // If the PING is never answered, send the final GOAWAY anyway.
        context.eventLoop.scheduleTask(in: .seconds(1)) { bound.value.sendFinalGoAway() }
    }

    private func sendFinalGoAway() {
        guard !finalGoAwaySent else { return }
        finalGoAwaySent = true
        session.submitGoAway(lastStreamID: session.lastProcessedStreamID, errorCode: 0)
        flushNow()
    }

    /// Ends every call now (the grace period is over) and closes.
    func forceClose() {
        for stream in streams.values where stream.phase != .done {
            fail(stream, RPCError(code: .unavailable, message: "the server is shutting down; retry on another replica"))
        }
        sendFinalGoAway()
        close()
    }

    // MARK: The sink handed to streaming handlers

    /// A handler's way to send messages; hops to the connection's loop when needed.
    fileprivate struct StreamSink: ResponseSink {
        let connection: NIOLoopBound<ServerConnectionHandler>
        let streamID: Int32

        func send(_ message: [UInt8]) async throws {
            let loop = connection.eventLoop
            if loop.inEventLoop {
                switch connection.value.send(streamID, message, continuation: nil) {
                case .sent: return
                case .failed(let error): throw error
                case .waiting: return
                case .mustWait:
                    let streamID = streamID
                    let connection = connection
                    try await withCheckedThrowingContinuation { continuation in
                        connection.value.waitForRoom(streamID, continuation)
                    }
                }
                return
            }
            let streamID = streamID
            let connection = connection
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                loop.execute {
                    switch connection.value.send(streamID, message, continuation: continuation) {
                    case .sent, .mustWait: continuation.resume()
                    case .waiting: break
                    case .failed(let error): continuation.resume(throwing: error)
                    }
                }
            }
        }
    }
}

extension EventLoop {
    /// Runs `body` now when already on this loop, else soon on it.
    func runOnLoop(_ body: @escaping @Sendable () -> Void) {
        if inEventLoop { body() } else { execute(body) }
    }
}

extension Array where Element == HeaderField {
    /// Appends metadata entries as header fields, skipping keys the transport owns.
    mutating func append(metadata: Metadata) {
        for entry in metadata where !Metadata.isReservedKey(entry.key) || entry.key == "grpc-accept-encoding" {
            append(HeaderField(entry.key, Metadata.wireValue(entry.value)))
        }
    }
}
