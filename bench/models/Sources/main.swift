// Encode/decode cost of a typical export: MeshlineModels (Swift values bridged
// through protobuf-c) next to protobuf-c's own pack/unpack of the same message.
//
//   meshline-bench-models [--iterations N] [--write-sample FILE] [--only NAME]
//
// `--only swift_decode` (or swift_encode, protobuf_c_pack, protobuf_c_unpack)
// runs one measurement, for profiling it with perf.
//
// Prints one line per measurement: `name ns_per_message`. bench/models/run
// builds it in release mode and puts Python's numbers beside it.

internal import CProtobufC
internal import MeshlineModels
internal import MeshlineProtoC

#if canImport(Glibc)
    internal import Glibc
#endif

let arguments = CommandLine.arguments
func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}
let iterations = Int(option("--iterations") ?? "") ?? 200_000

/// A routing export as the decision service publishes it after one acknowledgement.
let now: Int64 = 1_764_400_000_000
let hour: Int64 = 3_600_000
let sample = Export(
    exportID: "exp-7f3a9c2e", tenantID: "acme-apparel", orderID: "order-100045873", kind: .routing, version: 2,
    owningParty: Party(role: .agency, name: "fulfillment-team"),
    watchers: [Party(role: .merchant, name: "acme-ops"), Party(role: .thirdPartyLogistics, name: "wh-east")],
    decisionVersion: "v3.1", intendedAction: "route-to-warehouse:WH-EAST",
    sla: Sla(shipByUnixMs: now + 24 * hour, pickWindow: PickWindow(startUnixMs: now + 2 * hour, endUnixMs: now + 6 * hour), serviceLevel: "standard"),
    expiresAtUnixMs: now + hour,
    exceptionPath: ExceptionPath(type: .autoRetry, queue: "agency-ops", contactID: "ops-oncall"),
    escalationContacts: [
        Contact(contactID: "ops-oncall", party: Party(role: .agency, name: "oncall"), channel: "pager", address: "ops-oncall", level: 1),
        Contact(contactID: "acme-lead", party: Party(role: .merchant, name: "acme-ops"), channel: "email", address: "lead@acme.example", level: 2),
    ],
    packingInstructions: [PackingInstruction(code: "insert:spring-catalog", text: "Add one spring catalog on top of the items", skus: [], source: "promo-spring")],
    state: .accepted,
    auditTrail: [
        AuditEntry(sequence: 1, atUnixMs: now, actor: "service:decision", change: "published v1", version: 1, entryHash: Array(repeating: 0xA1, count: 32)),
        AuditEntry(sequence: 2, atUnixMs: now + 1_000, actor: "3pl:wh-east", change: "accepted", version: 2,
                   previousHash: Array(repeating: 0xA1, count: 32), entryHash: Array(repeating: 0xB2, count: 32)),
    ],
    committedAtUnixMs: now + 1_000, supersedesVersion: 1, warehouseID: "WH-EAST",
    lines: [ExportLine(sku: "TEE-BLK-M", quantity: 2), ExportLine(sku: "HOODIE-GRY-L", quantity: 1), ExportLine(sku: "SOCK-3PK", quantity: 3)]
)
let bytes = sample.serializedBytes()

if let path = option("--write-sample") {
    guard let file = fopen(path, "wb") else { fatalError("cannot write \(path)") }
    _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    fclose(file)
}

func nanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

let only = option("--only")

/// Best of five rounds of `iterations` calls, in nanoseconds per call: the least
/// disturbed round on a noisy machine.
func measure(_ name: String, _ body: () -> Void) -> Double {
    if let only, only != name { return 0 }
    for _ in 0..<(iterations / 10) { body() }  // warm-up
    var best = Double.infinity
    for _ in 0..<5 {
        let start = nanoseconds()
        for _ in 0..<iterations { body() }
        best = min(best, Double(nanoseconds() - start) / Double(iterations))
    }
    return best
}

var sink = 0
let swiftEncode = measure("swift_encode") { sink &+= sample.serializedBytes().count }
let swiftDecode = measure("swift_decode") { sink &+= (try! Export(serializedBytes: bytes)).lines.count }

// protobuf-c alone: pack a C struct tree that already exists, and unpack + free
// with protobuf-c's default allocator.
let unpacked = bytes.withUnsafeBufferPointer { meshline__v1__export__unpack(nil, $0.count, $0.baseAddress)! }
var packBuffer = [UInt8](repeating: 0, count: bytes.count * 2)
let cPack = measure("protobuf_c_pack") {
    let size = meshline__v1__export__get_packed_size(unpacked)
    sink &+= packBuffer.withUnsafeMutableBufferPointer { meshline__v1__export__pack(unpacked, $0.baseAddress) } + size
}
let cUnpack = measure("protobuf_c_unpack") {
    bytes.withUnsafeBufferPointer { buffer in
        let message = meshline__v1__export__unpack(nil, buffer.count, buffer.baseAddress)
        sink &+= Int(message?.pointee.n_lines ?? 0)
        meshline__v1__export__free_unpacked(message, nil)
    }
}
meshline__v1__export__free_unpacked(unpacked, nil)

print("message_bytes \(bytes.count)")
print("swift_encode_ns \(String(format: swiftEncode))")
print("swift_decode_ns \(String(format: swiftDecode))")
print("protobuf_c_pack_ns \(String(format: cPack))")
print("protobuf_c_unpack_ns \(String(format: cUnpack))")
if sink == 42 { print("") }  // keeps the work observable

func String(format value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}
