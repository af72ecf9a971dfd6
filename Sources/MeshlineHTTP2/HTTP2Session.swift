// The one place where MeshlineHTTP2 touches libnghttp2.
//
// `HTTP2Session` owns an `nghttp2_session`, feeds it the bytes read from the
// socket, reports what it parsed to a delegate as Swift values, and hands back
// the bytes to write. nghttp2 callbacks are file-private functions that find the
// session through `user_data` and copy everything out before returning.

internal import CNghttp2
import NIOCore

/// One header field, as received or to send.
struct HeaderField: Sendable {
    var name: String
    var value: String

    init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// What the session parsed, reported while ``HTTP2Session/receive(_:)`` runs.
protocol HTTP2SessionDelegate: AnyObject {
    /// A HEADERS frame began on `streamID`; `isTrailers` for a second HEADERS block.
    func streamBeganHeaders(_ streamID: Int32, isTrailers: Bool)
    /// One header field. Return false to refuse the stream (the session resets it).
    func streamReceivedHeader(_ streamID: Int32, _ field: HeaderField) -> Bool
    /// A header block ended; `endStream` when the peer also closed its side.
    func streamEndedHeaders(_ streamID: Int32, endStream: Bool)
    /// A DATA payload chunk.
    func streamReceivedData(_ streamID: Int32, _ bytes: [UInt8])
    /// END_STREAM arrived on a DATA frame.
    func streamEndedByPeer(_ streamID: Int32)
    /// The stream is gone; `errorCode` is 0 for a normal close.
    func streamClosed(_ streamID: Int32, errorCode: UInt32)
    /// The peer sent RST_STREAM.
    func streamReset(_ streamID: Int32, errorCode: UInt32)
    /// A frame closing our side of the stream (END_STREAM) went out.
    func streamSentEndStream(_ streamID: Int32)
    /// Data was taken from the stream's outbound buffer; it has `remaining` bytes left.
    func streamDrainedOutbound(_ streamID: Int32, remaining: Int)
    /// The peer sent GOAWAY.
    func receivedGoAway(lastStreamID: Int32, errorCode: UInt32)
    /// A PING we sent was acknowledged.
    func receivedPingAck()
}

/// Errors of the session itself; each ends the connection.
struct HTTP2SessionError: Error, CustomStringConvertible {
    let code: Int32
    let operation: String

    var description: String {
        "\(operation) failed: \(String(cString: nghttp2_strerror(code)))"
    }
}

/// Settings a session announces.
struct HTTP2SessionSettings {
    var maxConcurrentStreams: UInt32 = 100
    var initialWindowSize: UInt32 = 1 << 20
    var connectionWindowSize: Int32 = 16 << 20
    var maxFrameSize: UInt32 = 16_384
    var maxHeaderListSize: UInt32 = 8_192
    /// When true, received DATA is credited back to the peer only when ``HTTP2Session/consume(_:bytes:)`` is called.
    var manualFlowControl = false
}

/// Bytes waiting to go out on one stream, and what follows them.
private final class OutboundStream {
    var chunks: [[UInt8]] = []
    var chunkIndex = 0
    var offset = 0
    var buffered = 0
    var finished = false
    var trailers: [HeaderField]?
    var deferred = false
}

/// An `nghttp2_session` (server or client side) and its callbacks.
///
/// Not thread-safe: it lives on its connection's event loop.
final class HTTP2Session {
    private var session: OpaquePointer?
    unowned(unsafe) var delegate: (any HTTP2SessionDelegate)!
    private var outbound: [Int32: OutboundStream] = [:]

    let isServer: Bool

    init(isServer: Bool, settings: HTTP2SessionSettings) throws {
        self.isServer = isServer
        var callbacks: OpaquePointer?
        try Self.check(nghttp2_session_callbacks_new(&callbacks), "nghttp2_session_callbacks_new")
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameReceived)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunk)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, onFrameSent)

        var options: OpaquePointer?
        try Self.check(nghttp2_option_new(&options), "nghttp2_option_new")
        defer { nghttp2_option_del(options) }
        if settings.manualFlowControl { nghttp2_option_set_no_auto_window_update(options, 1) }
        // gRPC peers send grpc-message values with leading or trailing spaces (only
        // other bytes are percent-encoded); RFC 9113's strict check would reset them.
        nghttp2_option_set_no_rfc9113_leading_and_trailing_ws_validation(options, 1)
        // Our own limit on header block size; nghttp2 refuses larger blocks on receipt.
        nghttp2_option_set_max_send_header_block_length(options, 65_536)

        let userData = Unmanaged.passUnretained(self).toOpaque()
        if isServer {
            try Self.check(nghttp2_session_server_new2(&session, callbacks, userData, options), "nghttp2_session_server_new2")
        } else {
            try Self.check(nghttp2_session_client_new2(&session, callbacks, userData, options), "nghttp2_session_client_new2")
        }
        var entries = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: settings.maxConcurrentStreams),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: settings.initialWindowSize),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_FRAME_SIZE.rawValue), value: settings.maxFrameSize),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: settings.maxHeaderListSize),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
        ]
        if isServer { entries.removeLast() }  // ENABLE_PUSH is a client setting
        try Self.check(nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count), "nghttp2_submit_settings")
        try Self.check(nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, settings.connectionWindowSize), "nghttp2_session_set_local_window_size")
    }

    deinit {
        nghttp2_session_del(session)
    }

    private static func check(_ code: Int32, _ operation: String) throws {
        if code != 0 { throw HTTP2SessionError(code: code, operation: operation) }
    }

    // MARK: Reading

    /// Parses bytes read from the socket; the delegate hears about every frame.
    func receive(_ buffer: ByteBuffer) throws {
        let result = buffer.withUnsafeReadableBytes { bytes in
            nghttp2_session_mem_recv(session, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        }
        if result < 0 { throw HTTP2SessionError(code: Int32(result), operation: "reading HTTP/2 frames") }
    }

    /// Credits `bytes` of a stream's received DATA back to the peer (manual flow control).
    func consume(_ streamID: Int32, bytes: Int) {
        guard bytes > 0 else { return }
        _ = nghttp2_session_consume(session, streamID, bytes)
    }

    // MARK: Writing

    /// Appends every frame nghttp2 wants to send to `buffer`; returns whether it wrote anything.
    @discardableResult
    func drainOutput(into buffer: inout ByteBuffer) throws -> Bool {
        var wrote = false
        while true {
            var data: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(session, &data)
            if count < 0 { throw HTTP2SessionError(code: Int32(count), operation: "writing HTTP/2 frames") }
            guard count > 0, let data else { return wrote }
            buffer.writeBytes(UnsafeRawBufferPointer(start: data, count: count))
            wrote = true
        }
    }

    /// Writes every frame nghttp2 has queued to the channel, as one buffer.
    func writePending(to context: ChannelHandlerContext) throws {
        var buffer = context.channel.allocator.buffer(capacity: 4096)
        if try drainOutput(into: &buffer) {
            context.writeAndFlush(NIOAny(buffer), promise: nil)
        }
    }

    /// Whether nghttp2 still wants to read or write; false once the connection can close.
    var isActive: Bool {
        nghttp2_session_want_read(session) != 0 || nghttp2_session_want_write(session) != 0
    }

    /// Whether frames are waiting to be written.
    var wantsWrite: Bool { nghttp2_session_want_write(session) != 0 }

    /// Response HEADERS; with `endStream` a Trailers-Only response, otherwise DATA
    /// follows from the stream's outbound buffer (``enqueue(_:bytes:)``).
    func submitResponse(_ streamID: Int32, headers: [HeaderField], endStream: Bool) throws {
        let code = withHeaderVector(headers) { vector, count in
            if endStream {
                return nghttp2_submit_response(session, streamID, vector, count, nil)
            }
            var provider = dataProvider()
            outbound[streamID] = outbound[streamID] ?? OutboundStream()
            return nghttp2_submit_response(session, streamID, vector, count, &provider)
        }
        try Self.check(code, "nghttp2_submit_response")
    }

    /// A request on a new stream whose body comes from the outbound buffer; returns the stream id.
    func submitRequest(headers: [HeaderField]) throws -> Int32 {
        var provider = dataProvider()
        let streamID = withHeaderVector(headers) { vector, count in
            nghttp2_submit_request(session, nil, vector, count, &provider, nil)
        }
        if streamID < 0 { throw HTTP2SessionError(code: streamID, operation: "nghttp2_submit_request") }
        outbound[streamID] = outbound[streamID] ?? OutboundStream()
        return streamID
    }

    /// Queues body bytes on a stream whose HEADERS were submitted with a data provider.
    func enqueue(_ streamID: Int32, bytes: [UInt8]) {
        guard let stream = outbound[streamID], !stream.finished, !bytes.isEmpty else { return }
        stream.chunks.append(bytes)
        stream.buffered += bytes.count
        resumeIfDeferred(streamID, stream)
    }

    /// Ends the stream's body: after the buffered bytes, trailers (a server's status)
    /// or, with nil, END_STREAM on the last DATA frame (a client's request).
    func finish(_ streamID: Int32, trailers: [HeaderField]?) {
        guard let stream = outbound[streamID], !stream.finished else { return }
        stream.finished = true
        stream.trailers = trailers
        resumeIfDeferred(streamID, stream)
    }

    /// Bytes queued on a stream and not yet framed.
    func bufferedBytes(_ streamID: Int32) -> Int {
        outbound[streamID]?.buffered ?? 0
    }

    private func resumeIfDeferred(_ streamID: Int32, _ stream: OutboundStream) {
        if stream.deferred {
            stream.deferred = false
            _ = nghttp2_session_resume_data(session, streamID)
        }
    }

    func submitReset(_ streamID: Int32, errorCode: UInt32) {
        _ = nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, errorCode)
    }

    /// GOAWAY announcing that no stream above `lastStreamID` will be processed.
    func submitGoAway(lastStreamID: Int32, errorCode: UInt32, debug: String = "") {
        var debugBytes = Array(debug.utf8)
        _ = debugBytes.withUnsafeMutableBufferPointer { buffer in
            nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), lastStreamID, errorCode, buffer.baseAddress, buffer.count)
        }
    }

    /// The first, advisory GOAWAY of a graceful shutdown (server only).
    func submitShutdownNotice() {
        _ = nghttp2_submit_shutdown_notice(session)
    }

    /// The highest stream id the peer opened that we processed.
    var lastProcessedStreamID: Int32 {
        nghttp2_session_get_last_proc_stream_id(session)
    }

    func submitPing() {
        _ = nghttp2_submit_ping(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil)
    }

    /// Whether the peer has closed its side of the stream.
    func isRemoteClosed(_ streamID: Int32) -> Bool {
        nghttp2_session_get_stream_remote_close(session, streamID) == 1
    }

    private func dataProvider() -> nghttp2_data_provider {
        nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: onReadOutbound)
    }

    // Reused between calls so that submitting headers allocates nothing once warm.
    private var headerBytes: [UInt8] = []
    private var headerVector: [nghttp2_nv] = []

    private func withHeaderVector<R>(_ headers: [HeaderField], _ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
        // All names and values in one buffer, then the vector pointing into it;
        // nghttp2 copies both during the call.
        headerBytes.removeAll(keepingCapacity: true)
        for field in headers {
            headerBytes += field.name.utf8
            headerBytes += field.value.utf8
        }
        return headerBytes.withUnsafeMutableBufferPointer { bytes in
            var cursor = bytes.baseAddress ?? UnsafeMutablePointer<UInt8>(bitPattern: 1)!
            headerVector.removeAll(keepingCapacity: true)
            for field in headers {
                let nameLength = field.name.utf8.count
                let valueLength = field.value.utf8.count
                headerVector.append(nghttp2_nv(
                    name: cursor, value: cursor + nameLength, namelen: nameLength, valuelen: valueLength,
                    flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
                cursor += nameLength + valueLength
            }
            return headerVector.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
        }
    }

    // MARK: Callback bodies

    fileprivate func readOutbound(streamID: Int32, into target: UnsafeMutablePointer<UInt8>, capacity: Int, flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard let stream = outbound[streamID] else {
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            return 0
        }
        var written = 0
        while written < capacity, stream.chunkIndex < stream.chunks.count {
            let chunk = stream.chunks[stream.chunkIndex]
            let count = min(capacity - written, chunk.count - stream.offset)
            chunk.withUnsafeBufferPointer { source in
                (target + written).update(from: source.baseAddress! + stream.offset, count: count)
            }
            written += count
            stream.offset += count
            if stream.offset == chunk.count {
                stream.chunkIndex += 1
                stream.offset = 0
            }
        }
        if stream.chunkIndex == stream.chunks.count {
            stream.chunks.removeAll(keepingCapacity: true)
            stream.chunkIndex = 0
        } else if stream.chunkIndex > 32 {
            stream.chunks.removeFirst(stream.chunkIndex)
            stream.chunkIndex = 0
        }
        stream.buffered -= written
        if stream.buffered == 0 && stream.finished {
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            if let trailers = stream.trailers {
                flags.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
                let code = withHeaderVector(trailers) { vector, count in
                    nghttp2_submit_trailer(session, streamID, vector, count)
                }
                if code != 0 { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
            }
            outbound[streamID] = nil
        } else if written == 0 {
            stream.deferred = true
            return Int(NGHTTP2_ERR_DEFERRED.rawValue)
        }
        if written > 0 { delegate.streamDrainedOutbound(streamID, remaining: stream.buffered) }
        return written
    }

    fileprivate func frameReceived(_ frame: UnsafePointer<nghttp2_frame>) {
        let header = frame.pointee.hd
        let endStream = header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        switch Int(header.type) {
        case Int(NGHTTP2_HEADERS.rawValue):
            delegate.streamEndedHeaders(header.stream_id, endStream: endStream)
        case Int(NGHTTP2_DATA.rawValue):
            if endStream { delegate.streamEndedByPeer(header.stream_id) }
        case Int(NGHTTP2_RST_STREAM.rawValue):
            delegate.streamReset(header.stream_id, errorCode: frame.pointee.rst_stream.error_code)
        case Int(NGHTTP2_GOAWAY.rawValue):
            delegate.receivedGoAway(lastStreamID: frame.pointee.goaway.last_stream_id, errorCode: frame.pointee.goaway.error_code)
        case Int(NGHTTP2_PING.rawValue):
            if header.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0 { delegate.receivedPingAck() }
        default:
            break
        }
    }

    fileprivate func frameSent(_ frame: UnsafePointer<nghttp2_frame>) {
        let header = frame.pointee.hd
        let type = Int(header.type)
        if (type == Int(NGHTTP2_HEADERS.rawValue) || type == Int(NGHTTP2_DATA.rawValue)),
            header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        {
            delegate.streamSentEndStream(header.stream_id)
        }
    }

    fileprivate func streamClosed(_ streamID: Int32, errorCode: UInt32) {
        outbound[streamID] = nil
        delegate.streamClosed(streamID, errorCode: errorCode)
    }
}

// MARK: - C callbacks

@inline(__always)
private func owner(_ userData: UnsafeMutableRawPointer?) -> HTTP2Session {
    Unmanaged<HTTP2Session>.fromOpaque(userData!).takeUnretainedValue()
}

private func onBeginHeaders(_ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let frame else { return 0 }
    let category = frame.pointee.headers.cat
    let isTrailers = category == NGHTTP2_HCAT_HEADERS
    owner(userData).delegate.streamBeganHeaders(frame.pointee.hd.stream_id, isTrailers: isTrailers)
    return 0
}

private func onHeader(
    _ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ name: UnsafePointer<UInt8>?, _ nameLength: Int,
    _ value: UnsafePointer<UInt8>?, _ valueLength: Int, _ flags: UInt8, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let frame else { return 0 }
    let field = HeaderField(
        String(decoding: UnsafeBufferPointer(start: name, count: nameLength), as: UTF8.self),
        String(decoding: UnsafeBufferPointer(start: value, count: valueLength), as: UTF8.self)
    )
    let accepted = owner(userData).delegate.streamReceivedHeader(frame.pointee.hd.stream_id, field)
    // Refusing a header resets just this stream (RST_STREAM INTERNAL_ERROR), not the connection.
    return accepted ? 0 : Int32(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
}

private func onFrameReceived(_ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let frame else { return 0 }
    owner(userData).frameReceived(frame)
    return 0
}

private func onDataChunk(
    _ session: OpaquePointer?, _ flags: UInt8, _ streamID: Int32, _ data: UnsafePointer<UInt8>?, _ length: Int,
    _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: length))
    owner(userData).delegate.streamReceivedData(streamID, bytes)
    return 0
}

private func onStreamClose(_ session: OpaquePointer?, _ streamID: Int32, _ errorCode: UInt32, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    owner(userData).streamClosed(streamID, errorCode: errorCode)
    return 0
}

private func onFrameSent(_ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    guard let frame else { return 0 }
    owner(userData).frameSent(frame)
    return 0
}

private func onReadOutbound(
    _ session: OpaquePointer?, _ streamID: Int32, _ buffer: UnsafeMutablePointer<UInt8>?, _ length: Int,
    _ flags: UnsafeMutablePointer<UInt32>?, _ source: UnsafeMutablePointer<nghttp2_data_source>?, _ userData: UnsafeMutableRawPointer?
) -> Int {
    owner(userData).readOutbound(streamID: streamID, into: buffer!, capacity: length, flags: flags!)
}
