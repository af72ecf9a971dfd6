import MeshlineModels
import Testing

/// A small, seedable generator so that a failing case can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Decoding arbitrary bytes must never crash; whatever decodes must re-encode to a
/// message that decodes to the same value.
@Suite struct FuzzTests {
    static let randomCases = 10_000
    static let mutationCases = 10_000

    /// Decodes `bytes` as `M`; on success checks that re-encoding is stable.
    static func probe<M: ProtobufMessage>(_ bytes: [UInt8], as type: M.Type) -> Bool {
        guard let value = try? M(serializedBytes: bytes) else { return false }
        let again = try? M(serializedBytes: value.serializedBytes())
        #expect(again == value, "re-encoding changed a decoded \(M.self); input \(bytes)")
        return true
    }

    static func probeAll(_ bytes: [UInt8]) -> Int {
        var decoded = 0
        if probe(bytes, as: Export.self) { decoded += 1 }
        if probe(bytes, as: PublishRequest.self) { decoded += 1 }
        if probe(bytes, as: OverrideRequest.self) { decoded += 1 }
        if probe(bytes, as: RuleSet.self) { decoded += 1 }
        if probe(bytes, as: HealthCheckRequest.self) { decoded += 1 }
        if probe(bytes, as: RPCStatus.self) { decoded += 1 }
        return decoded
    }

    @Test func randomBytesNeverCrash() {
        var random = SplitMix64(state: 0x6D65_7368_6C69_6E65)
        var decoded = 0
        for _ in 0..<Self.randomCases {
            let length = Int.random(in: 0...256, using: &random)
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            decoded += Self.probeAll(bytes)
        }
        // Random bytes rarely form a valid message, but short ones sometimes do.
        #expect(decoded < Self.randomCases * 6)
    }

    @Test func mutatedValidMessagesNeverCrash() {
        var random = SplitMix64(state: 42)
        let seeds = [
            InteropSamples.fullExport.serializedBytes(),
            InteropSamples.ruleSet.serializedBytes(),
            InteropSamples.rpcStatus.serializedBytes(),
            PublishRequest(tenantID: "acme", export: InteropSamples.fullExport, idempotencyKey: "k").serializedBytes(),
        ]
        var failures = 0
        for index in 0..<Self.mutationCases {
            var bytes = seeds[index % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let position = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<4, using: &random) {
                case 0: bytes[position] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &random)
                case 1: bytes.removeSubrange(position...)
                case 2: bytes.insert(UInt8.random(in: 0...255, using: &random), at: position)
                default: bytes[position] = [0x00, 0x7F, 0x80, 0xFF][Int.random(in: 0..<4, using: &random)]
                }
                if bytes.isEmpty { break }
            }
            if Self.probeAll(bytes) == 0 { failures += 1 }
        }
        #expect(failures > 0, "mutations never produced an invalid message; the fuzzer is not reaching error paths")
    }
}
