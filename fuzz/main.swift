// meshline-fuzz: bounded mutation fuzzing of the two places where bytes from the
// network enter Meshline — protobuf decoding (every request message) and the
// server's HTTP/2 frame path (nghttp2 and our connection handler).
//
//   meshline-fuzz proto N [SEED]   decode N random and mutated inputs as each request type
//   meshline-fuzz h2 N [SEED]      feed N mutated client conversations to a server connection
//
// A crash, a hang or a failed round-trip check ends the process with a non-zero
// status and the seed and iteration to replay it.
import Foundation
import MeshlineModels
@_spi(Fuzzing) import MeshlineHTTP2

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

/// Byte-level mutations: flips, interesting values, truncation, insertion, duplication.
func mutate(_ input: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
    var bytes = input
    for _ in 0..<Int.random(in: 1...6, using: &random) {
        guard !bytes.isEmpty else { bytes = [UInt8.random(in: 0...255, using: &random)]; continue }
        let position = Int.random(in: 0..<bytes.count, using: &random)
        switch Int.random(in: 0..<6, using: &random) {
        case 0: bytes[position] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &random)
        case 1: bytes[position] = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0x3F, 0x40][Int.random(in: 0..<7, using: &random)]
        case 2: bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...64, using: &random)))
        case 3: bytes.insert(contentsOf: (0..<Int.random(in: 1...8, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }, at: position)
        case 4:
            let end = min(bytes.count, position + Int.random(in: 1...128, using: &random))
            bytes.insert(contentsOf: bytes[position..<end], at: Int.random(in: 0...bytes.count, using: &random))
        default: bytes.removeSubrange(position...)
        }
    }
    return bytes
}

func probe<M: ProtobufMessage>(_ bytes: [UInt8], _ type: M.Type) -> Bool {
    guard let value = try? M(serializedBytes: bytes) else { return false }
    guard (try? M(serializedBytes: value.serializedBytes())) == value else {
        fatalError("re-encoding changed a decoded \(M.self): \(bytes)")
    }
    return true
}

func fuzzProto(iterations: Int, seed: UInt64) -> (decoded: Int, refused: Int) {
    let hour: Int64 = 3_600_000
    let export = Export(
        exportID: "exp-1", tenantID: "acme", orderID: "o-1", kind: .routing, owningParty: Party(role: .agency, name: "ops"),
        watchers: [Party(role: .merchant, name: "m")], decisionVersion: "v3.1", intendedAction: "route-to-warehouse:WH-A",
        sla: Sla(shipByUnixMs: 24 * hour, pickWindow: PickWindow(startUnixMs: hour, endUnixMs: 2 * hour), serviceLevel: "standard"),
        expiresAtUnixMs: hour, exceptionPath: ExceptionPath(type: .autoRetry, queue: "q"),
        auditTrail: [AuditEntry(sequence: 1, atUnixMs: 1, actor: "a", change: "c", version: 1, entryHash: Array(0..<32), traceID: "t")],
        lines: [ExportLine(sku: "S", quantity: 2)],
        order: Order(orderID: "o-1", shipTo: Address(name: "n", lines: ["l"]), lines: [OrderLine(sku: "S", quantity: 2, unitPriceMinor: 100)]))
    let seeds: [[UInt8]] = [
        PublishRequest(tenantID: "acme", export: export, idempotencyKey: "k").serializedBytes(),
        OverrideRequest(override: SignedOverride(change: OverrideChange(tenantID: "acme", exportID: "e", baseVersion: 1, justification: "j", nonce: "n"), signature: Array(0..<64))).serializedBytes(),
        DecideRequest(tenantID: "acme", order: export.order!).serializedBytes(),
        ReportRequest(tenantID: "acme", exportID: "e", exportVersion: 2, kind: .rejection, reason: .outOfStock).serializedBytes(),
        PutRuleSetRequest(ruleSet: RuleSet(tenantID: "acme", version: "v1", warehouses: [Warehouse(warehouseID: "WH-A", zones: ["z"])])).serializedBytes(),
    ]
    var random = SplitMix64(state: seed)
    var decoded = 0, refused = 0
    for index in 0..<iterations {
        let bytes = index % 4 == 0
            ? (0..<Int.random(in: 0...96, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            : mutate(seeds[index % seeds.count], &random)
        let results = [
            probe(bytes, PublishRequest.self), probe(bytes, OverrideRequest.self), probe(bytes, DecideRequest.self),
            probe(bytes, ReportRequest.self), probe(bytes, PutRuleSetRequest.self), probe(bytes, AcknowledgeRequest.self),
        ]
        decoded += results.filter { $0 }.count
        refused += results.filter { !$0 }.count
    }
    return (decoded, refused)
}

func fuzzH2(iterations: Int, seed: UInt64) -> (inputs: Int, answeredBytes: Int) {
    let fuzzer = ServerFrameFuzzer()
    let seeds = ServerFrameFuzzer.seeds()
    precondition(seeds.allSatisfy { !$0.isEmpty }, "could not build the seed conversations")
    // The unmutated seeds must be served: otherwise the fuzzer would only ever test refusals.
    for conversation in seeds where fuzzer.feed([conversation]) == 0 {
        fatalError("a valid seed conversation got no answer")
    }
    var random = SplitMix64(state: seed)
    var answered = 0
    for index in 0..<iterations {
        let bytes = mutate(seeds[index % seeds.count], &random)
        // Split the bytes at random points, as TCP may deliver them.
        var chunks: [[UInt8]] = []
        var rest = bytes[...]
        while !rest.isEmpty {
            let size = Int.random(in: 1...max(1, rest.count), using: &random)
            chunks.append(Array(rest.prefix(size)))
            rest = rest.dropFirst(size)
        }
        answered += fuzzer.feed(chunks)
    }
    return (iterations, answered)
}

let arguments = CommandLine.arguments.dropFirst()
guard let target = arguments.first, let count = arguments.dropFirst().first.flatMap(Int.init), ["proto", "h2"].contains(target) else {
    FileHandle.standardError.write(Data("usage: meshline-fuzz proto|h2 ITERATIONS [SEED]\n".utf8))
    exit(2)
}
let seed = arguments.dropFirst(2).first.flatMap(UInt64.init) ?? 0x6D65_7368
let start = Date()
switch target {
case "proto":
    let outcome = fuzzProto(iterations: count, seed: seed)
    print("proto: \(count) inputs × 6 message types, \(outcome.decoded) decoded and re-encoded stably, \(outcome.refused) refused cleanly, \(String(format: "%.1f", Date().timeIntervalSince(start))) s, seed \(seed)")
default:
    let outcome = fuzzH2(iterations: count, seed: seed)
    print("h2: \(outcome.inputs) mutated conversations, \(outcome.answeredBytes) bytes answered, no crash, \(String(format: "%.1f", Date().timeIntervalSince(start))) s, seed \(seed)")
}
