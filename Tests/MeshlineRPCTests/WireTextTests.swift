import MeshlineRPC
import Testing

@Suite struct WireTextTests {
    @Test(arguments: [
        ("plain text", "plain text"),
        ("100%", "100%25"),
        ("caf\u{E9}", "caf%C3%A9"),
        ("tab\there", "tab%09here"),
        ("  edges  ", "%20%20edges%20%20"),
        ("", ""),
    ])
    func percentEncoding(message: String, encoded: String) {
        #expect(WireText.percentEncode(message) == encoded)
        #expect(WireText.percentDecode(encoded) == message)
    }

    @Test func malformedEscapesAreKeptAndBadUTF8IsReplaced() {
        #expect(WireText.percentDecode("50%") == "50%")
        #expect(WireText.percentDecode("%zz ok") == "%zz ok")
        #expect(WireText.percentDecode("%FF") == "\u{FFFD}")
    }

    @Test(arguments: [
        ("1H", Int64(3_600_000_000_000)), ("2M", 120_000_000_000), ("3S", 3_000_000_000),
        ("250m", 250_000_000), ("7u", 7_000), ("99999999n", 99_999_999),
    ])
    func timeoutsParse(text: String, nanoseconds: Int64) {
        #expect(WireText.parseTimeout(text) == nanoseconds)
    }

    @Test(arguments: ["", "S", "1", "123456789S", "1s", "-1S", "1.5S", "1 S"])
    func malformedTimeoutsAreRejected(text: String) {
        #expect(WireText.parseTimeout(text) == nil)
    }

    @Test func timeoutsFormatWithinEightDigitsAndNeverShorten() {
        #expect(WireText.formatTimeout(nanoseconds: 250_000_000) == "250000u")
        #expect(WireText.formatTimeout(nanoseconds: 30_000_000_000) == "30000000u")
        #expect(WireText.formatTimeout(nanoseconds: 1_000_000_001) == "1000001u")
        for nanoseconds: Int64 in [1, 999, 123_456_789_012, 86_400_000_000_000] {
            let text = WireText.formatTimeout(nanoseconds: nanoseconds)
            #expect(text.count <= 9)
            #expect(WireText.parseTimeout(text)! >= nanoseconds)
        }
    }
}

@Suite struct MetadataTests {
    @Test func binaryValuesAcceptPaddedAndUnpaddedBase64() {
        for (wire, bytes) in [("AAEC", [0, 1, 2] as [UInt8]), ("AAE", [0, 1]), ("AAE=", [0, 1]), ("AA", [0]), ("AA==", [0]), ("", [])] {
            var metadata = Metadata()
            let accepted = metadata.addFromWire(key: "data-bin", value: wire)
            #expect(accepted)
            #expect(metadata.binary("data-bin") == bytes, "\(wire)")
        }
        var metadata = Metadata()
        let badBase64 = metadata.addFromWire(key: "data-bin", value: "not base64!")
        let upperKey = metadata.addFromWire(key: "Upper", value: "x")
        #expect(!badBase64)
        #expect(!upperKey)
        #expect(metadata.isEmpty)
    }

    @Test func binaryValuesGoOutUnpadded() {
        #expect(Metadata.wireValue(.binary([0, 1])) == "AAE")
        #expect(Metadata.wireValue(.binary(Array(0...255))).count == 342)
    }

    @Test func orderAndRepeatsArePreserved() {
        var metadata = Metadata()
        metadata.add("k", "1")
        metadata.add("K", "2")
        #expect(metadata.values("k") == [.text("1"), .text("2")])
        #expect(metadata["k"] == "1")
    }
}

@Suite struct DeframerTests {
    static func framed(_ messages: [[UInt8]]) -> [UInt8] {
        messages.flatMap { MessageFraming.prefix(length: $0.count) + $0 }
    }

    @Test func messagesSplitAnywhereReassemble() throws {
        let messages: [[UInt8]] = [[], [1], Array(repeating: 7, count: 300), [9, 9]]
        let bytes = Self.framed(messages)
        for chunkSize in [1, 2, 3, 5, 7, 64, bytes.count] {
            var deframer = MessageDeframer(maximumMessageSize: 1024)
            var received: [[UInt8]] = []
            var index = 0
            while index < bytes.count {
                try deframer.append(Array(bytes[index..<min(index + chunkSize, bytes.count)]))
                while let message = deframer.next() { received.append(message) }
                index += chunkSize
            }
            #expect(received == messages, "chunk size \(chunkSize)")
            #expect(!deframer.hasPartialMessage)
        }
    }

    @Test func oversizedMessagesAreRefusedFromTheirPrefix() {
        var deframer = MessageDeframer(maximumMessageSize: 10)
        #expect(throws: RPCError(code: .resourceExhausted, message: "message of 11 bytes exceeds the limit of 10 bytes")) {
            try deframer.append(MessageFraming.prefix(length: 11))
        }
    }

    @Test func compressedMessagesAreRefused() {
        var deframer = MessageDeframer(maximumMessageSize: 10)
        #expect(throws: RPCError.self) { try deframer.append([1, 0, 0, 0, 1, 0]) }
    }
}
