/// Custom metadata of a call: request headers, response headers or trailers.
///
/// Keys are lower-case ASCII (`0-9 a-z - _ .`). A key ending in `-bin` carries
/// binary values, sent base64-encoded; every other key carries printable ASCII
/// text. Order and repeated keys are preserved.
public struct Metadata: Sendable, Hashable, Sequence {
    /// One value.
    public enum Value: Sendable, Hashable {
        case text(String)
        case binary([UInt8])
    }

    /// One key and value.
    public struct Entry: Sendable, Hashable {
        public var key: String
        public var value: Value
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    /// Metadata with the given text entries, in order.
    public init(_ entries: [(String, String)]) {
        for (key, value) in entries { add(key, value) }
    }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }

    public func makeIterator() -> IndexingIterator<[Entry]> {
        entries.makeIterator()
    }

    /// Adds a text value. The key must be valid (``isValidKey(_:)``) and not end in `-bin`;
    /// the value must be printable ASCII (``isValidText(_:)``).
    public mutating func add(_ key: String, _ value: String) {
        let key = key.lowercased()
        precondition(Self.isValidKey(key) && !key.hasSuffix("-bin"), "invalid text metadata key '\(key)'")
        precondition(Self.isValidText(value), "metadata value for '\(key)' must be printable ASCII")
        entries.append(Entry(key: key, value: .text(value)))
    }

    /// Adds a binary value under a key ending in `-bin`.
    public mutating func add(_ key: String, binary value: [UInt8]) {
        let key = key.lowercased()
        precondition(Self.isValidKey(key) && key.hasSuffix("-bin"), "binary metadata keys end in -bin, not '\(key)'")
        entries.append(Entry(key: key, value: .binary(value)))
    }

    /// Adds an entry as received from the wire (for transports), decoding `-bin`
    /// values; false when the key or value is not valid gRPC metadata.
    public mutating func addFromWire(key: String, value: String) -> Bool {
        guard Self.isValidKey(key) else { return false }
        if key.hasSuffix("-bin") {
            guard let bytes = Base64.decode(value) else { return false }
            entries.append(Entry(key: key, value: .binary(bytes)))
        } else {
            entries.append(Entry(key: key, value: .text(value)))
        }
        return true
    }

    /// The first text value for `key`.
    public subscript(key: String) -> String? {
        for entry in entries where entry.key == key {
            if case .text(let text) = entry.value { return text }
        }
        return nil
    }

    /// The first binary value for `key` (a key ending in `-bin`).
    public func binary(_ key: String) -> [UInt8]? {
        for entry in entries where entry.key == key {
            if case .binary(let bytes) = entry.value { return bytes }
        }
        return nil
    }

    /// Every value for `key`, in order.
    public func values(_ key: String) -> [Value] {
        entries.filter { $0.key == key }.map(\.value)
    }

    /// Removes every entry for `key`.
    public mutating func remove(_ key: String) {
        entries.removeAll { $0.key == key }
    }

    /// Appends every entry of `other`.
    public mutating func merge(_ other: Metadata) {
        entries += other.entries
    }

    /// The entry as it goes on the wire: binary values base64-encoded without padding.
    public static func wireValue(_ value: Value) -> String {
        switch value {
        case .text(let text): text
        case .binary(let bytes): Base64.encode(bytes)
        }
    }

    /// Whether `key` is a valid gRPC metadata key: non-empty, `0-9 a-z - _ .`, and
    /// not reserved for the protocol (pseudo-headers and `grpc-` keys other than
    /// `grpc-status-details-bin`).
    public static func isValidKey(_ key: String) -> Bool {
        guard !key.isEmpty, key.utf8.count <= 1024 else { return false }
        for byte in key.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                continue
            default:
                return false
            }
        }
        return true
    }

    /// Whether `value` may be sent as a text value: printable ASCII (space to `~`).
    public static func isValidText(_ value: String) -> Bool {
        value.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }
    }

    /// Keys the transport sets itself; a handler's metadata never overrides them.
    public static func isReservedKey(_ key: String) -> Bool {
        switch key {
        case "content-type", "te", "user-agent", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding",
            "grpc-status", "grpc-message", "connection", "keep-alive", "transfer-encoding", "upgrade",
            "proxy-connection", "host":
            true
        default:
            key.hasPrefix(":")
        }
    }
}

/// Base64 (RFC 4648 standard alphabet) for `-bin` metadata.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let inverse: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    /// Encodes without padding, as gRPC recommends senders do.
    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let n = UInt32(bytes[index]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)]]
        } else if rest == 2 {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)]]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes padded or unpadded base64; nil for anything else.
    static func decode(_ text: String) -> [UInt8]? {
        var input = Array(text.utf8)
        while input.last == UInt8(ascii: "=") { input.removeLast() }
        guard input.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(input.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in input {
            let value = inverse[Int(byte)]
            guard value != 0xFF else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return out
    }
}
