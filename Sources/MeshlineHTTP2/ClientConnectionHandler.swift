import MeshlineRPC
import NIOCore

/// What a finished call produced.
struct CallOutcome: Sendable {
    var headers: Metadata
    var messages: [[UInt8]]
    var trailers: Metadata
}

/// Where a call's results go.
enum CallDelivery {
    /// Unary: the whole outcome at once.
    case unary(CheckedContinuation<CallOutcome, any Error>)
    /// Server streaming: headers once, then messages into `sink` with backpressure.
    case streaming(headers: CheckedContinuation<Metadata, any Error>?, sink: ResponseStreamSource)
}

/// A call the server provably never processed: its stream was refused, it lay above a
/// GOAWAY's last-stream-id, or the connection was already going away before the request
/// was written. Sending it again elsewhere is safe even when the call is not idempotent;
/// ``RPCClient`` does so, and otherwise it reaches the caller as its ``rpcError``.
struct UnprocessedCallError: RPCErrorConvertible {
    let rpcError: RPCError

    init(_ message: String) {
        rpcError = RPCError(code: .unavailable, message: message)
    }
}

/// One call on the client side of a connection.
final class ClientCall {
    let path: String
    let metadata: Metadata
    let request: [UInt8]
    let timeoutNanoseconds: Int64?
    let maximumMessageSize: Int
    var delivery: CallDelivery
    var streamID: Int32 = -1

    var httpStatus: Int?
    var contentType: String?
    var grpcStatus: String?
    var grpcMessage: String?
    var headers = Metadata()
    var trailers = Metadata()
    var readingTrailers = false
    var headersDelivered = false
    var deframer: MessageDeframer
    var messages: [[UInt8]] = []
    var resetCode: UInt32?
    var deadline: Scheduled<Void>?
    var finished = false
    /// Received DATA bytes not yet credited back to the server (streaming backpressure).
    var unconsumedBytes = 0
    var paused = false

    init(path: String, metadata: Metadata, request: [UInt8], timeoutNanoseconds: Int64?, maximumMessageSize: Int, delivery: CallDelivery) {
        self.path = path
        self.metadata = metadata
        self.request = request
        self.timeoutNanoseconds = timeoutNanoseconds
        self.maximumMessageSize = maximumMessageSize
        self.delivery = delivery
        self.deframer = MessageDeframer(maximumMessageSize: maximumMessageSize)
    }
}

/// The client side of one HTTP/2 connection: starts calls as streams and turns
/// response frames back into messages and statuses.
final class ClientConnectionHandler: ChannelInboundHandler, HTTP2SessionDelegate {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let session: HTTP2Session
    private let authority: String
    private let scheme: String
    private var context: ChannelHandlerContext?
    private var calls: [Int32: ClientCall] = [:]
    private var inReadLoop = false
    private var flushScheduled = false
    private var closed = false
    /// Set when the server sent GOAWAY: no new calls on this connection.
    private(set) var goingAway = false
    /// Called once when the connection can take no more calls (GOAWAY or close).
    var onUnusable: (@Sendable () -> Void)?

    private let keepalive: Keepalive?

    init(authority: String, scheme: String, keepalive: (interval: Duration, timeout: Duration)? = nil) throws {
        self.authority = authority
        self.scheme = scheme
        self.keepalive = keepalive.map { Keepalive(interval: $0.interval, timeout: $0.timeout) }
        var settings = HTTP2SessionSettings()
        settings.manualFlowControl = true
        session = try HTTP2Session(isServer: false, settings: settings)
        session.delegate = self
    }

    var isUsable: Bool { !goingAway && !closed }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        flushNow()  // preface and SETTINGS
        keepalive?.start(on: context.eventLoop, ping: { [unowned self] in
            session.submitPing()
            flushNow()
        }, expired: { [unowned self] in
            connectionLost(RPCError(code: .unavailable, message: "the server stopped answering keepalive pings"))
            self.context?.close(promise: nil)
        })
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        keepalive?.stop()
        connectionLost(RPCError(code: .unavailable, message: "the connection to the server closed"))
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        connectionLost(RPCError(code: .unavailable, message: "the connection to the server closed"))
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        keepalive?.noteRead()
        inReadLoop = true
        do {
            try session.receive(unwrapInboundIn(data))
        } catch {
            inReadLoop = false
            connectionLost(RPCError(code: .internal, message: "the server broke the HTTP/2 protocol: \(error)"))
            context.close(promise: nil)
        }
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
        connectionLost(RPCError(code: .unavailable, message: "connection error: \(error)"))
        context.close(promise: nil)
    }

    private func flushNow() {
        flushScheduled = false
        guard let context, !closed, context.channel.isWritable else { return }
        do {
            try session.writePending(to: context)
        } catch {
            connectionLost(RPCError(code: .internal, message: "HTTP/2 session failed: \(error)"))
            context.close(promise: nil)
        }
    }

    private func scheduleFlush() {
        guard !inReadLoop, !flushScheduled, let context else { return }
        flushScheduled = true
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute { bound.value.flushNow() }
    }

    private func connectionLost(_ error: RPCError) {
        let wasUsable = isUsable
        closed = true
        let open = calls.values
        calls.removeAll()
        for call in open { complete(call, error: error) }
        if wasUsable { onUnusable?() }
    }

    // MARK: Calls

    /// Starts `call` as a new stream; fails it at once when the connection cannot take it.
    func start(_ call: ClientCall) {
        guard isUsable, let context else {
            complete(call, error: UnprocessedCallError("the connection to the server was closing before the call was sent"))
            return
        }
        var headers = [
            HeaderField(":method", "POST"), HeaderField(":scheme", scheme), HeaderField(":path", call.path),
            HeaderField(":authority", authority), HeaderField("content-type", "application/grpc"),
            HeaderField("te", "trailers"), HeaderField("user-agent", "meshline-rpc/\(RPCClient.version)"),
        ]
        if let timeout = call.timeoutNanoseconds {
            headers.append(HeaderField("grpc-timeout", WireText.formatTimeout(nanoseconds: timeout)))
        }
        headers.append(metadata: call.metadata)
        do {
            call.streamID = try session.submitRequest(headers: headers)
        } catch {
            complete(call, error: UnprocessedCallError("could not open a stream: \(error)"))
            return
        }
        calls[call.streamID] = call
        session.enqueue(call.streamID, bytes: MessageFraming.prefix(length: call.request.count))
        session.enqueue(call.streamID, bytes: call.request)
        session.finish(call.streamID, trailers: nil)
        if let timeout = call.timeoutNanoseconds {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let streamID = call.streamID
            call.deadline = context.eventLoop.scheduleTask(in: .nanoseconds(timeout)) {
                bound.value.cancel(streamID, error: RPCError(code: .deadlineExceeded, message: "the deadline passed before the server answered"))
            }
        }
        scheduleFlush()
    }

    /// Ends a call from our side: RST_STREAM(CANCEL) and `error` to the caller.
    func cancel(_ streamID: Int32, error: RPCError) {
        guard let call = calls.removeValue(forKey: streamID) else { return }
        session.submitReset(streamID, errorCode: 0x8)
        complete(call, error: error)
        scheduleFlush()
    }

    /// The consumer of a streaming call wants more: credit what it has taken.
    func resume(_ streamID: Int32) {
        guard let call = calls[streamID] else { return }
        call.paused = false
        session.consume(streamID, bytes: call.unconsumedBytes)
        call.unconsumedBytes = 0
        scheduleFlush()
    }

    private func complete(_ call: ClientCall, error: (any Error)?) {
        guard !call.finished else { return }
        call.finished = true
        call.deadline?.cancel()
        // Bytes held back while the consumer was paused still count against the
        // connection's window: give them back, or every later call on it stalls.
        if call.unconsumedBytes > 0 {
            session.consume(call.streamID, bytes: call.unconsumedBytes)
            call.unconsumedBytes = 0
            scheduleFlush()
        }
        switch call.delivery {
        case .unary(let continuation):
            if let error {
                continuation.resume(throwing: error)
            } else {
                continuation.resume(returning: CallOutcome(headers: call.headers, messages: call.messages, trailers: call.trailers))
            }
        case .streaming(let headersContinuation, let sink):
            if let headersContinuation {
                call.delivery = .streaming(headers: nil, sink: sink)
                if let error { headersContinuation.resume(throwing: error) } else { headersContinuation.resume(returning: call.headers) }
            }
            sink.finish(error: error, trailers: call.trailers)
        }
    }

    /// The call's status from its headers or trailers, as the protocol defines it.
    private func status(of call: ClientCall) -> RPCError? {
        if let httpStatus = call.httpStatus, httpStatus != 200 {
            if let grpcStatus = call.grpcStatus, let code = Int32(grpcStatus), code != 0 {
                return RPCError(code: StatusCode(wireValue: code), message: call.grpcMessage.map(WireText.percentDecode) ?? "", metadata: call.trailers)
            }
            return RPCError(code: StatusCode(httpStatus: httpStatus), message: "the server answered HTTP \(httpStatus)", metadata: call.trailers)
        }
        guard let grpcStatus = call.grpcStatus else {
            return RPCError(code: .internal, message: "the response ended without a grpc-status", metadata: call.trailers)
        }
        guard let code = Int32(grpcStatus) else {
            return RPCError(code: .unknown, message: "grpc-status '\(grpcStatus)' is not a number", metadata: call.trailers)
        }
        if code == 0 { return nil }
        return RPCError(code: StatusCode(wireValue: code), message: call.grpcMessage.map(WireText.percentDecode) ?? "", metadata: call.trailers)
    }

    // MARK: HTTP2SessionDelegate

    func streamBeganHeaders(_ streamID: Int32, isTrailers: Bool) {
        guard let call = calls[streamID] else { return }
        call.readingTrailers = isTrailers || call.httpStatus != nil
    }

    func streamReceivedHeader(_ streamID: Int32, _ field: HeaderField) -> Bool {
        guard let call = calls[streamID] else { return true }
        switch field.name {
        case ":status": call.httpStatus = Int(field.value)
        case "content-type": call.contentType = field.value
        case "grpc-status": call.grpcStatus = field.value
        case "grpc-message": call.grpcMessage = field.value
        default:
            if Metadata.isReservedKey(field.name) { break }
            if call.readingTrailers {
                _ = call.trailers.addFromWire(key: field.name, value: field.value)
            } else if field.name == "grpc-status-details-bin" || call.grpcStatus != nil {
                _ = call.trailers.addFromWire(key: field.name, value: field.value)
            } else {
                _ = call.headers.addFromWire(key: field.name, value: field.value)
            }
        }
        return true
    }

    func streamEndedHeaders(_ streamID: Int32, endStream: Bool) {
        guard let call = calls[streamID] else { return }
        if endStream {
            // Trailers-Only, or trailers after the messages: the call is over.
            if !call.readingTrailers {
                // In a Trailers-Only response, metadata sits in the only header block.
                call.trailers.merge(call.headers)
                call.headers = Metadata()
            }
            finishFromStatus(call)
            return
        }
        if let httpStatus = call.httpStatus, httpStatus != 200 {
            calls[streamID] = nil
            session.submitReset(streamID, errorCode: 0x8)
            complete(call, error: status(of: call))
            return
        }
        guard let contentType = call.contentType, contentType.hasPrefix("application/grpc") else {
            calls[streamID] = nil
            session.submitReset(streamID, errorCode: 0x8)
            complete(call, error: RPCError(code: .internal, message: "the response's content-type '\(call.contentType ?? "")' is not application/grpc"))
            return
        }
        if case .streaming(let headersContinuation?, let sink) = call.delivery {
            call.delivery = .streaming(headers: nil, sink: sink)
            headersContinuation.resume(returning: call.headers)
        }
    }

    private func finishFromStatus(_ call: ClientCall) {
        calls[call.streamID] = nil
        if var error = status(of: call) {
            error.metadata = call.trailers
            complete(call, error: error)
            return
        }
        if call.deframer.hasPartialMessage {
            complete(call, error: RPCError(code: .internal, message: "the response ended inside a message"))
            return
        }
        if case .unary = call.delivery, call.messages.count != 1 {
            complete(call, error: RPCError(code: .internal, message: "a unary response must carry one message, this one carried \(call.messages.count)"))
            return
        }
        complete(call, error: nil)
    }

    func streamReceivedData(_ streamID: Int32, _ bytes: [UInt8]) {
        guard let call = calls[streamID] else {
            session.consume(streamID, bytes: bytes.count)
            return
        }
        do {
            try call.deframer.append(bytes)
        } catch {
            cancel(streamID, error: error)
            return
        }
        switch call.delivery {
        case .unary:
            session.consume(streamID, bytes: bytes.count)
            while let message = call.deframer.next() { call.messages.append(message) }
            if call.messages.count > 1 {
                cancel(streamID, error: RPCError(code: .internal, message: "a unary response carried more than one message"))
            }
        case .streaming(_, let sink):
            var wantsMore = true
            while let message = call.deframer.next() {
                wantsMore = sink.yield(message) && wantsMore
            }
            if call.paused || !wantsMore {
                // Hold the flow-control credit until the consumer catches up.
                call.paused = true
                call.unconsumedBytes += bytes.count
            } else {
                session.consume(streamID, bytes: bytes.count)
            }
        }
    }

    func streamEndedByPeer(_ streamID: Int32) {
        // END_STREAM on DATA without trailers: the status is missing.
        guard let call = calls[streamID] else { return }
        finishFromStatus(call)
    }

    func streamClosed(_ streamID: Int32, errorCode: UInt32) {
        guard let call = calls.removeValue(forKey: streamID) else { return }
        let code = call.resetCode ?? errorCode
        if code == 0x7 && call.httpStatus == nil {
            // REFUSED_STREAM, from the server or from nghttp2 for a stream above a GOAWAY's
            // last-stream-id, means no application processing happened (RFC 9113 §8.7).
            complete(call, error: UnprocessedCallError("the server refused the stream before processing it (it may be shutting down)"))
        } else {
            complete(call, error: RPCError(code: StatusCode(http2ErrorCode: code), message: "the server reset the stream (HTTP/2 error \(code)) before sending a status"))
        }
    }

    func streamReset(_ streamID: Int32, errorCode: UInt32) {
        calls[streamID]?.resetCode = errorCode
    }

    func streamSentEndStream(_ streamID: Int32) {}

    func streamDrainedOutbound(_ streamID: Int32, remaining: Int) {}

    func receivedGoAway(lastStreamID: Int32, errorCode: UInt32) {
        let wasUsable = isUsable
        goingAway = true
        if wasUsable { onUnusable?() }
    }

    func receivedPingAck() {
        keepalive?.pingAcknowledged()
    }
}
