/// gRPC's length-prefixed messages: a compressed-flag byte, a 4-byte big-endian
/// length, then the message.
public enum MessageFraming {
    /// The 5-byte prefix of an uncompressed message of `length` bytes.
    public static func prefix(length: Int) -> [UInt8] {
        let length = UInt32(length)
        return [0, UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
    }
}

/// Reassembles length-prefixed messages from DATA frame payloads, however they
/// split or pack them, refusing messages above a size limit before buffering them.
public struct MessageDeframer: Sendable {
    public let maximumMessageSize: Int
    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var ready: [[UInt8]] = []
    private var readyIndex = 0

    public init(maximumMessageSize: Int) {
        self.maximumMessageSize = maximumMessageSize
    }

    /// Whether bytes of an unfinished message are buffered.
    public var hasPartialMessage: Bool { readIndex < buffer.count }

    /// Complete messages not yet taken with ``next()``.
    public var readyCount: Int { ready.count - readyIndex }

    /// Adds received bytes; throws RESOURCE_EXHAUSTED for a message above the limit
    /// and INTERNAL for a compressed message (no compression is negotiated).
    public mutating func append(_ bytes: [UInt8]) throws(RPCError) {
        if buffer.isEmpty {
            buffer = bytes
        } else {
            if readIndex > 0 && readIndex == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                readIndex = 0
            }
            buffer += bytes
        }
        while buffer.count - readIndex >= 5 {
            let flag = buffer[readIndex]
            let length = Int(buffer[readIndex + 1]) << 24 | Int(buffer[readIndex + 2]) << 16
                | Int(buffer[readIndex + 3]) << 8 | Int(buffer[readIndex + 4])
            guard flag == 0 else {
                if flag == 1 {
                    throw RPCError(code: .internal, message: "received a compressed message, but no compression was negotiated; send messages uncompressed")
                }
                throw RPCError(code: .internal, message: "invalid message prefix flag \(flag); the stream is not gRPC length-prefixed messages")
            }
            guard length <= maximumMessageSize else {
                throw RPCError(code: .resourceExhausted, message: "message of \(length) bytes exceeds the limit of \(maximumMessageSize) bytes")
            }
            guard buffer.count - readIndex - 5 >= length else { break }
            let start = readIndex + 5
            ready.append(Array(buffer[start..<start + length]))
            readIndex = start + length
        }
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 65_536)
            readIndex = 0
        } else if readIndex > 65_536 {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
    }

    /// The next complete message, in order.
    public mutating func next() -> [UInt8]? {
        guard readyIndex < ready.count else { return nil }
        let message = ready[readyIndex]
        readyIndex += 1
        if readyIndex == ready.count {
            ready.removeAll(keepingCapacity: true)
            readyIndex = 0
        }
        return message
    }
}
