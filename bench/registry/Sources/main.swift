// Durable publishes per second through the RPC layer, next to the storage ceiling.
//
//   meshline-bench-registry sqlite-ceiling DIR COUNT
//       inserts COUNT export rows into a fresh SQLite file with the registry's
//       durability settings (WAL, synchronous=FULL), 64 rows per transaction (what
//       64 concurrent callers give the registry's group commit at best);
//       prints `sqlite_rows_per_second N`
//   meshline-bench-registry publish PORT COUNT [CALLERS]
//       COUNT publishes from CALLERS concurrent callers (default 64) against a
//       running meshline-registry, then Get latencies
//       (from a `get` process of its own) while the same load runs; with
//       MESHLINE_BENCH_SERVER_PID set, also the registry's CPU per publish;
//       prints `publishes_per_second N`, `client_cpu_us_per_publish N` (and
//       `server_cpu_us_per_publish N`), `get_p50_us N`, `get_p99_us N`; with
//       MESHLINE_BENCH_PUBLISH_ONLY set, stops after the publishes (for profiling)
//   meshline-bench-registry serve-without-storage PORT
//       the peer without storage: serves ExportRegistry.Publish on PORT with the
//       registry's work per publish except storage (decode, QA gate, request hash,
//       audit seal, encoded answer), on the same RPC layer with the same two event
//       loops; runs until killed

import Crypto
import Foundation
import GRDB
import MeshlineHTTP2
import MeshlineModels
import MeshlineRegistry
import MeshlineRPC
import MeshlineStorage
import Synchronization

let arguments = CommandLine.arguments
guard arguments.count >= 4 || (arguments.count == 3 && arguments[1] == "serve-without-storage") else {
    print("usage: meshline-bench-registry sqlite-ceiling DIR COUNT | publish PORT COUNT [CALLERS] | serve-without-storage PORT")
    exit(2)
}

let hour: Int64 = 3_600_000
let now = Int64(Date().timeIntervalSince1970 * 1000)
let runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)

func export(_ index: Int) -> Export {
    Export(
        exportID: "bench-\(runID)-\(index)", tenantID: "bench", orderID: "order-\(runID)-\(index)", kind: .routing,
        owningParty: Party(role: .agency, name: "fulfillment-team"), watchers: [Party(role: .merchant, name: "bench-ops")],
        decisionVersion: "v3.1", intendedAction: "route-to-warehouse:WH-A",
        sla: Sla(shipByUnixMs: now + 24 * hour, pickWindow: PickWindow(startUnixMs: now + hour, endUnixMs: now + 6 * hour), serviceLevel: "standard"),
        expiresAtUnixMs: now + 12 * hour, exceptionPath: ExceptionPath(type: .autoRetry, queue: "agency-ops"),
        warehouseID: "WH-A", lines: [ExportLine(sku: "SKU-1", quantity: 1), ExportLine(sku: "SKU-2", quantity: 3)])
}

func perSecond(_ count: Int, since start: ContinuousClock.Instant) -> Int {
    let elapsed = ContinuousClock.now - start
    return Int(Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
}

switch arguments[1] {
case "sqlite-ceiling":
    let count = Int(arguments[3]) ?? 20_000
    let pool = try SQLiteSetup.openDurablePool(path: arguments[2] + "/ceiling.sqlite")
    try pool.write { db in
        try db.execute(sql: "CREATE TABLE export_versions (seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, export_id TEXT NOT NULL, version INTEGER NOT NULL, body BLOB NOT NULL, UNIQUE (tenant_id, export_id, version))")
    }
    let bodies = (0..<count).map { (export($0).exportID, Data(export($0).serializedBytes())) }
    let start = ContinuousClock.now
    for batch in stride(from: 0, to: count, by: 64) {
        try pool.write { db in
            let statement = try db.cachedStatement(sql: "INSERT INTO export_versions (tenant_id, export_id, version, body) VALUES ('bench', ?, 1, ?)")
            for (id, body) in bodies[batch..<min(batch + 64, count)] {
                try statement.execute(arguments: [id, body])
            }
        }
    }
    print("sqlite_rows_per_second \(perSecond(count, since: start))")

case "publish":
    let port = Int(arguments[2])!
    let count = Int(arguments[3]) ?? 20_000
    let callers = arguments.count > 4 ? Int(arguments[4])! : 64
    var clientConfiguration = RPCClient.Configuration(endpoints: [.init(host: "127.0.0.1", port: port)])
    clientConfiguration.threads = 1
    let client = RPCClient(configuration: clientConfiguration)
    let requests = (0..<count).map { PublishRequest(tenantID: "bench", export: export($0), idempotencyKey: "k-\(runID)-\($0)") }
    let serverPID = ProcessInfo.processInfo.environment["MESHLINE_BENCH_SERVER_PID"].flatMap { Int32($0) }
    let cpuBefore = (client: processCPUMicroseconds(nil), server: processCPUMicroseconds(serverPID))
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for caller in 0..<callers {
            group.addTask {
                for index in stride(from: caller, to: count, by: callers) {
                    let _: PublishResponse = try await client.unary(ExportRegistryDescriptor.publish, requests[index])
                }
            }
        }
        try await group.waitForAll()
    }
    print("publishes_per_second \(perSecond(count, since: start))")
    print("client_cpu_us_per_publish \((processCPUMicroseconds(nil) - cpuBefore.client) / count)")
    if serverPID != nil { print("server_cpu_us_per_publish \((processCPUMicroseconds(serverPID) - cpuBefore.server) / count)") }
    if ProcessInfo.processInfo.environment["MESHLINE_BENCH_PUBLISH_ONLY"] != nil {
        // For profiling the publish path alone.
        await client.close()
        exit(0)
    }

    // Get latency under the same publishing load, from a reader in a process of its own
    // (as a connector reading exports is): its calls neither wait in the publishers'
    // HTTP/2 queue nor for a thread of this process's busy task pool.
    let state = LoadState()
    let reader = Process()
    reader.executableURL = URL(fileURLWithPath: "/proc/self/exe")
    reader.arguments = ["get", String(port), runID, "5000", String(count)]
    let readerOutput = Pipe()
    reader.standardOutput = readerOutput
    try await withThrowingTaskGroup(of: Void.self) { group in
        for caller in 0..<callers {
            group.addTask {
                var index = caller
                while !state.stop.load(ordering: .relaxed) {
                    var request = PublishRequest(tenantID: "bench", export: export(count + index), idempotencyKey: "")
                    request.export.exportID = "load-\(runID)-\(index)"
                    request.export.orderID = "load-order-\(runID)-\(index)"
                    let _: PublishResponse = try await client.unary(ExportRegistryDescriptor.publish, request)
                    index += callers
                }
            }
        }
        group.addTask {
            await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
                reader.terminationHandler = { _ in finished.resume() }
                do { try reader.run() } catch { finished.resume() }
            }
            state.stop.store(true, ordering: .relaxed)
        }
        try await group.waitForAll()
    }
    let report = String(decoding: readerOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    guard reader.terminationStatus == 0, report.contains("get_p99_us") else {
        print("the Get reader failed (status \(reader.terminationStatus)): \(report)")
        exit(1)
    }
    print(report, terminator: "")
    await client.close()

case "get":
    // get PORT RUN_ID COUNT PUBLISHED: COUNT Gets, one at a time, of the exports the
    // publish phase of run RUN_ID stored (PUBLISHED of them), oldest first.
    let port = Int(arguments[2])!
    let publishedRun = arguments[3]
    let count = Int(arguments[4])!
    let published = Int(arguments[5])!
    var configuration = RPCClient.Configuration(endpoints: [.init(host: "127.0.0.1", port: port)])
    configuration.threads = 1
    let reader = RPCClient(configuration: configuration)
    var latencies: [Int] = []
    for index in 0..<count {
        let started = ContinuousClock.now
        let _: GetExportResponse = try await reader.unary(
            ExportRegistryDescriptor.get, GetExportRequest(tenantID: "bench", exportID: "bench-\(publishedRun)-\(index % published)"))
        let elapsed = ContinuousClock.now - started
        latencies.append(Int(elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000))
    }
    latencies.sort()
    print("get_p50_us \(latencies[count / 2])")
    print("get_p99_us \(latencies[count * 99 / 100])")
    await reader.close()

case "serve-without-storage":
    var configuration = RPCServer.Configuration()
    configuration.port = Int(arguments[2])!
    configuration.threads = 2
    let server = RPCServer(configuration: configuration, services: [PublishWithoutStorage()])
    try await server.start()
    while true { try await Task.sleep(for: .seconds(3600)) }  // until the run script's SIGTERM

default:
    print("unknown mode \(arguments[1])")
    exit(2)
}

/// CPU time (user + system) of this process, or of `pid` read from /proc, in microseconds.
func processCPUMicroseconds(_ pid: Int32?) -> Int {
    guard let pid else {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000 + Int(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
    }
    // Fields 14 and 15 of /proc/PID/stat (after the parenthesised name) are utime and stime in clock ticks.
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return 0 }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    let ticks = (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    return ticks * 1_000_000 / sysconf(Int32(_SC_CLK_TCK))
}

/// The peer without storage: what the registry does for a new export's publish
/// (ExportRegistryService.publish), less the store, so that its rate next to the
/// registry's shows what storage costs and what the RPC layer and the rest leave.
struct PublishWithoutStorage: RPCService {
    var serviceName: String { ExportRegistryDescriptor.fullName }

    var handlers: [RPCHandler] {
        [.unary(ExportRegistryDescriptor.publish) { (request: PublishRequest, _) in
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let violations = request.export.qaViolations(context: ExportQAContext(nowUnixMs: now))
            guard violations.isEmpty else { throw RPCError(code: .invalidArgument, message: "QA gate: \(violations.count) violations") }
            var export = request.export
            export.auditTrail = []
            _ = Array(SHA256.hash(data: export.serializedBytes() + Array(String(request.expectedVersion).utf8)))
            export.version = 1
            export.state = .published
            export.committedAtUnixMs = now
            export.auditTrail.append(AuditChain.seal(
                AuditEntry(atUnixMs: now, actor: "tenant:\(request.tenantID)", change: "published", version: 1),
                after: nil, tenantID: export.tenantID, exportID: export.exportID))
            return PublishResponse(export: export, replayed: false)
        }]
    }
}

/// Tells the publishing callers that the Get reader has finished.
final class LoadState: Sendable {
    let stop = Atomic<Bool>(false)
}
