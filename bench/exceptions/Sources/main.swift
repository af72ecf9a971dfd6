// The exception router's throughput and timer precision.
//
//   meshline-bench-exceptions report DIR COUNT [CALLERS]
//       a registry and a router in this process, each on its own loopback port with
//       SQLite under DIR. COUNT exports are published (the same-run peer: durable
//       registry publishes per second through the same RPC layer), then each is
//       reported rejected from CALLERS concurrent callers (default 64): every Report
//       reads the export from the registry over gRPC and stores a durable case with
//       its retry timer. Prints `publishes_per_second N` and `reports_per_second N`.
//   meshline-bench-exceptions timers DIR COUNT
//       COUNT cases stored with escalation timers due over the next 5 s, worked by the
//       router's scheduler on the real clock; prints the delay between each timer's
//       due time and its firing (`timer_p50_ms`, `timer_p99_ms`, `timer_max_ms`), and
//       the same percentiles for COUNT bare `Task.sleep(until:)` timers with the same
//       due times (`sleep_p50_ms` …): the runtime's own timer precision, the floor.

import Foundation
import MeshlineExceptions
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineRegistry
import Synchronization

let arguments = CommandLine.arguments
guard arguments.count >= 4, let count = Int(arguments[3]) else {
    print("usage: meshline-bench-exceptions report DIR COUNT [CALLERS] | timers DIR COUNT")
    exit(2)
}
let directory = arguments[2]
let hour: Int64 = 3_600_000

func perSecond(_ count: Int, since start: ContinuousClock.Instant) -> Int {
    let elapsed = ContinuousClock.now - start
    return Int(Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
}

func percentiles(_ name: String, _ values: [Int64]) {
    let sorted = values.sorted()
    print("\(name)_p50_ms \(sorted[sorted.count / 2])")
    print("\(name)_p99_ms \(sorted[sorted.count * 99 / 100])")
    print("\(name)_max_ms \(sorted.last!)")
}

func export(_ index: Int, now: Int64) -> Export {
    Export(
        exportID: "bench-\(index)", tenantID: "bench", orderID: "order-\(index)", kind: .routing,
        owningParty: Party(role: .agency, name: "fulfillment-team"), decisionVersion: "v1", intendedAction: "route-to-warehouse:WH-A",
        sla: Sla(shipByUnixMs: now + 48 * hour, pickWindow: PickWindow(startUnixMs: now, endUnixMs: now + 24 * hour), serviceLevel: "standard"),
        expiresAtUnixMs: now + 12 * hour, exceptionPath: ExceptionPath(type: .autoRetry, queue: "agency-ops"),
        escalationContacts: [
            Contact(contactID: "ops", party: Party(role: .agency, name: "ops"), channel: "pager", address: "ops", level: 1),
            Contact(contactID: "lead", party: Party(role: .agency, name: "ops"), channel: "email", address: "lead", level: 2),
        ],
        warehouseID: "WH-A", lines: [ExportLine(sku: "SKU-1", quantity: 1)])
}

func benchReports(directory: String, count: Int) async throws {
    let callers = arguments.count > 4 ? Int(arguments[4])! : 64
    let registryStore = try SQLiteRegistryStore(path: directory + "/registry.sqlite")
    let registryService = ExportRegistryService(store: registryStore, tenants: TenantDirectory())
    var serverConfiguration = RPCServer.Configuration()
    serverConfiguration.threads = 1
    let registryServer = RPCServer(configuration: serverConfiguration, services: [registryService])
    let registryPort = try await registryServer.start()
    let registryClient = try RPCClient(endpoints: ["127.0.0.1:\(registryPort)"])
    let caseStore = try SQLiteCaseStore(path: directory + "/exceptions.sqlite")
    var policy = RouterPolicy()
    policy.defaults.retry.initialIntervalMs = hour
    policy.defaults.retry.maximumIntervalMs = hour
    let router = ExceptionRouterService(store: caseStore, policy: policy, registry: registryClient, decision: nil)
    let routerServer = RPCServer(configuration: serverConfiguration, services: [router])
    let routerPort = try await routerServer.start()
    let client = try RPCClient(endpoints: ["127.0.0.1:\(routerPort)"])
    let registryCaller = try RPCClient(endpoints: ["127.0.0.1:\(registryPort)"])
    let now = UnixTime.nowMilliseconds()

    var start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for caller in 0..<callers {
            group.addTask {
                for index in stride(from: caller, to: count, by: callers) {
                    let _: PublishResponse = try await registryCaller.unary(
                        ExportRegistryDescriptor.publish, PublishRequest(tenantID: "bench", export: export(index, now: now)))
                }
            }
        }
        try await group.waitForAll()
    }
    print("publishes_per_second \(perSecond(count, since: start))")

    start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for caller in 0..<callers {
            group.addTask {
                for index in stride(from: caller, to: count, by: callers) {
                    let response: ReportResponse = try await client.unary(
                        ExceptionRouterDescriptor.report,
                        ReportRequest(tenantID: "bench", exportID: "bench-\(index)", exportVersion: 1, kind: .rejection, reason: .capacity, warehouseID: "WH-A"))
                    precondition(response.exceptionCase?.state == .retrying && !response.duplicate)
                }
            }
        }
        try await group.waitForAll()
    }
    print("reports_per_second \(perSecond(count, since: start))")
    await client.close()
    await registryCaller.close()
    await registryClient.close()
    await routerServer.shutdown(gracePeriod: .seconds(1))
    await registryServer.shutdown(gracePeriod: .seconds(1))
    await caseStore.close()
    await registryStore.close()

}

func benchTimers(directory: String, count: Int) async throws {
    let store = try SQLiteCaseStore(path: directory + "/timers.sqlite")
    let unused = try RPCClient(endpoints: ["127.0.0.1:1"])
    var policy = RouterPolicy()
    policy.defaults.escalationDelaysMs = [hour]
    let service = ExceptionRouterService(store: store, policy: policy, registry: unused, decision: nil)
    let base = UnixTime.nowMilliseconds() + 3_000
    let spread: Int64 = 5_000
    let dues = (0..<count).map { base + Int64($0) * spread / Int64(count) }
    for index in 0..<count {
        let exceptionCase = ExceptionCase(
            caseID: "case-\(index)", tenantID: "bench", exportID: "bench-\(index)", exportVersion: 1, orderID: "order-\(index)", kind: .rejection,
            reason: .capacity, state: .queued, queue: "agency-ops", escalationLevel: 1, dueAtUnixMs: dues[index])
        let record = CaseRecord(exceptionCase: exceptionCase, export: export(index, now: base), timer: CaseTimer(kind: .escalate, at: dues[index]))
        _ = try await store.open(CaseChange(record: record))
    }
    let scheduler = CaseScheduler(service: service)
    let running = Task { await scheduler.run() }
    // Bare timers with the same due times, in the same process, at the same time.
    let sleeps = Lateness()
    let sleepers = Task {
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                group.addTask {
                    let wait = dues[index] - UnixTime.nowMilliseconds()
                    try? await Task.sleep(for: .milliseconds(wait))
                    let late = UnixTime.nowMilliseconds() - dues[index]
                    sleeps.values.withLock { $0.append(late) }
                }
            }
        }
    }
    await sleepers.value
    var delays: [Int64] = []
    while delays.count < count {
        try await Task.sleep(for: .milliseconds(500))
        let page = try await store.list(QueueFilter(tenantID: "bench", limit: count + 1))
        delays = page.compactMap { record in
            guard let fired = record.exceptionCase.history.last(where: { $0.change.hasPrefix("escalated") }) else { return nil }
            return fired.atUnixMs - dues[Int(record.exceptionCase.caseID.dropFirst(5))!]
        }
    }
    running.cancel()
    await running.value
    percentiles("timer", delays)
    percentiles("sleep", sleeps.values.withLock { $0 })
    await unused.close()
    await store.close()

}

switch arguments[1] {
case "report":
    try await benchReports(directory: directory, count: count)
case "timers":
    try await benchTimers(directory: directory, count: count)
default:
    print("unknown mode \(arguments[1])")
    exit(2)
}

/// Lateness of the bare timers, appended from their tasks.
final class Lateness: Sendable {
    let values = Mutex<[Int64]>([])
}
