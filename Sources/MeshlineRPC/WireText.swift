/// `grpc-message` percent-encoding and `grpc-timeout` values, as gRPC's HTTP/2
/// protocol document defines them.
public enum WireText {
    /// Percent-encodes a status message: bytes of its UTF-8 outside space to `~`, and `%`, become `%XX`.
    /// Leading and trailing spaces are encoded too, since strict HTTP/2 peers refuse
    /// header values that start or end with whitespace.
    public static func percentEncode(_ message: String) -> String {
        let bytes = Array(message.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        let hex = Array("0123456789ABCDEF".utf8)
        let firstNonSpace = bytes.firstIndex { $0 != UInt8(ascii: " ") } ?? bytes.count
        let lastNonSpace = bytes.lastIndex { $0 != UInt8(ascii: " ") } ?? -1
        for (index, byte) in bytes.enumerated() {
            let edgeSpace = byte == UInt8(ascii: " ") && (index < firstNonSpace || index > lastNonSpace)
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") && !edgeSpace {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes a percent-encoded status message. Malformed escapes are kept as they
    /// are and invalid UTF-8 becomes U+FFFD, as the protocol asks receivers to do.
    public static func percentDecode(_ encoded: String) -> String {
        let bytes = Array(encoded.utf8)
        guard bytes.contains(UInt8(ascii: "%")) else { return encoded }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Parses a `grpc-timeout` value (1 to 8 digits and a unit H, M, S, m, u or n) into nanoseconds.
    public static func parseTimeout(_ value: String) -> Int64? {
        let bytes = Array(value.utf8)
        guard (2...9).contains(bytes.count), let unit = bytes.last else { return nil }
        var amount: Int64 = 0
        for digit in bytes.dropLast() {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            amount = amount * 10 + Int64(digit - UInt8(ascii: "0"))
        }
        let nanosecondsPerUnit: Int64
        switch unit {
        case UInt8(ascii: "H"): nanosecondsPerUnit = 3_600_000_000_000
        case UInt8(ascii: "M"): nanosecondsPerUnit = 60_000_000_000
        case UInt8(ascii: "S"): nanosecondsPerUnit = 1_000_000_000
        case UInt8(ascii: "m"): nanosecondsPerUnit = 1_000_000
        case UInt8(ascii: "u"): nanosecondsPerUnit = 1_000
        case UInt8(ascii: "n"): nanosecondsPerUnit = 1
        default: return nil
        }
        let (product, overflow) = amount.multipliedReportingOverflow(by: nanosecondsPerUnit)
        return overflow ? Int64.max : product
    }

    /// Formats a timeout for `grpc-timeout`, in the finest unit that fits 8 digits.
    public static func formatTimeout(nanoseconds: Int64) -> String {
        let value = max(nanoseconds, 0)
        let units: [(Int64, Character)] = [(1, "n"), (1_000, "u"), (1_000_000, "m"), (1_000_000_000, "S"), (60_000_000_000, "M"), (3_600_000_000_000, "H")]
        for (size, unit) in units {
            // Round up so that the peer never sees a shorter deadline than ours.
            let amount = (value + size - 1) / size
            if amount <= 99_999_999 { return "\(amount)\(unit)" }
        }
        return "99999999H"
    }
}
