// The exception router's throughput and timer precision.
//
//   meshline-bench-exceptions report DIR COUNT [CALLERS]
//       a registry and a router in this process, each on its own loopback port with
//       SQLite under DIR. COUNT exports are published (the same-run peer: durable
//       registry publishes per second through the same RPC layer), then each is
//       reported rejected from CALLERS concurrent callers (default 64): every Report
//       reads the export from the registry over gRPC and stores a durable case with
//       its retry timer. Prints `publishes_per_second N` and `reports_per_second N`.
//   meshline-bench-exceptions retry DIR COUNT [CALLERS]
//       a registry, a decision service and a router in this process, each on its own
//       loopback port. 2 x COUNT orders are decided to WH-A and rejected there. The
//       peer: COUNT `Reevaluate` calls straight to the decision service (64 callers),
//       each publishing the retry to WH-B (`reevaluations_per_second N`). Then the
//       other COUNT rejections are reported to the router (64 callers, retry after
//       1 ms, no jitter) and timed until every case is resolved by a published retry
//       (`retried_cases_per_second N`).
//   meshline-bench-exceptions timers DIR COUNT
//       COUNT cases stored with escalation timers due over the next 5 s, worked by the
//       router's scheduler on the real clock; prints the delay between each timer's
//       due time and its firing (`timer_p50_ms`, `timer_p99_ms`, `timer_max_ms`), and
//       the same percentiles for COUNT bare `Task.sleep(until:)` timers with the same
//       due times (`sleep_p50_ms` …): the runtime's own timer precision, the floor.

import Foundation
import MeshlineDecision
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

@Sendable func export(_ index: Int, now: Int64) -> Export {
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
    try await inParallel(count, callers: callers) { index in
        let _: PublishResponse = try await registryCaller.unary(
            ExportRegistryDescriptor.publish, PublishRequest(tenantID: "bench", export: export(index, now: now)))
    }
    print("publishes_per_second \(perSecond(count, since: start))")

    start = ContinuousClock.now
    try await inParallel(count, callers: callers) { index in
        let response: ReportResponse = try await client.unary(
            ExceptionRouterDescriptor.report,
            ReportRequest(tenantID: "bench", exportID: "bench-\(index)", exportVersion: 1, kind: .rejection, reason: .capacity, warehouseID: "WH-A"))
        precondition(response.exceptionCase?.state == .retrying && !response.duplicate)
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
    // Stored from 64 callers (group commit): one at a time, 10,000 durable commits
    // would not fit before the first timer is due.
    try await withThrowingTaskGroup(of: Void.self) { group in
        for caller in 0..<64 {
            group.addTask {
                for index in stride(from: caller, to: count, by: 64) {
                    let exceptionCase = ExceptionCase(
                        caseID: "case-\(index)", tenantID: "bench", exportID: "bench-\(index)", exportVersion: 1, orderID: "order-\(index)",
                        kind: .rejection, reason: .capacity, state: .queued, queue: "agency-ops", escalationLevel: 1, dueAtUnixMs: dues[index])
                    let record = CaseRecord(
                        exceptionCase: exceptionCase, export: export(index, now: base), timer: CaseTimer(kind: .escalate, at: dues[index]))
                    _ = try await store.open(CaseChange(record: record))
                }
            }
        }
        try await group.waitForAll()
    }
    guard UnixTime.nowMilliseconds() < base - 500 else {
        print("storing \(count) cases took until 0.5 s before the first timer was due; use fewer timers")
        exit(1)
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

/// Registry, decision service and router on loopback ports; rules with two warehouses.
func benchRetries(directory: String, count: Int) async throws {
    let callers = arguments.count > 4 ? Int(arguments[4])! : 64
    var serverConfiguration = RPCServer.Configuration()
    serverConfiguration.threads = 1
    let registryStore = try SQLiteRegistryStore(path: directory + "/registry.sqlite")
    let registryServer = RPCServer(configuration: serverConfiguration, services: [ExportRegistryService(store: registryStore, tenants: TenantDirectory())])
    let registryEndpoint = "127.0.0.1:\(try await registryServer.start())"
    let decisionService = try DecisionService(rules: RuleStore(), registryEndpoints: [registryEndpoint], clock: DecisionService.wallClock)
    let decisionServer = RPCServer(configuration: serverConfiguration, services: [decisionService])
    let decisionEndpoint = "127.0.0.1:\(try await decisionServer.start())"
    let caseStore = try SQLiteCaseStore(path: directory + "/exceptions.sqlite")
    let routerRegistry = try RPCClient(endpoints: [registryEndpoint])
    let routerDecision = try RPCClient(endpoints: [decisionEndpoint])
    var policy = RouterPolicy()
    policy.defaults.retry.initialIntervalMs = 1
    policy.defaults.retry.jitter = false
    let router = ExceptionRouterService(store: caseStore, policy: policy, registry: routerRegistry, decision: routerDecision)
    let routerServer = RPCServer(configuration: serverConfiguration, services: [router])
    let routerClient = try RPCClient(endpoints: ["127.0.0.1:\(try await routerServer.start())"])
    let registry = try RPCClient(endpoints: [registryEndpoint])
    let decision = try RPCClient(endpoints: [decisionEndpoint])

    let team = Party(role: .agency, name: "fulfillment-team")
    let warehouses = [("WH-A", 1.0), ("WH-B", 2.0)].map { id, cost in
        Warehouse(warehouseID: id, name: id, zones: ["us-west"], timeZone: "UTC", cutoffMinuteOfDay: 23 * 60 + 59, costWeight: cost,
                  operator: Party(role: .thirdPartyLogistics, name: id.lowercased()))
    }
    let rules = RuleSet(
        tenantID: "bench", version: "v1.0", warehouses: warehouses,
        ownership: [OwnershipRule(action: "route-to-warehouse", owner: team), OwnershipRule(action: "backorder", owner: team)],
        serviceLevels: [ServiceLevelPolicy(serviceLevel: "standard", shipWithinDays: 2, pickWindowMinutes: 480)],
        exceptionRules: [
            ExceptionRule(action: "route-to-warehouse", path: ExceptionPath(type: .autoRetry, queue: "agency-ops")),
            ExceptionRule(action: "backorder", path: ExceptionPath(type: .humanQueue, queue: "backorder")),
        ],
        ttl: TtlPolicy(ttlMs: 4 * hour, staleTTLMs: 30 * 60_000, freshnessLimitMs: 6 * hour))
    let _: PutRuleSetResponse = try await decision.unary(DecisionServiceDescriptor.putRuleSet, PutRuleSetRequest(ruleSet: rules))
    let now = UnixTime.nowMilliseconds()
    let _: UpdateInventoryResponse = try await decision.unary(DecisionServiceDescriptor.updateInventory, UpdateInventoryRequest(
        tenantID: "bench", levels: ["WH-A", "WH-B"].map { InventoryLevel(warehouseID: $0, sku: "SKU-1", onHand: 1_000_000, asOfUnixMs: now) }))

    // Untimed: 2 x COUNT orders decided to WH-A, each rejected there.
    let rejected = Versions()
    try await inParallel(2 * count, callers: callers) { index in
        let order = Order(
            orderID: "order-\(index)", tenantID: "bench", placedAtUnixMs: now, serviceLevel: "standard",
            shipTo: Address(name: "Pat Doe", lines: ["1 Main St"], city: "Reno", region: "NV", postalCode: "89501", country: "US"),
            zone: "us-west", lines: [OrderLine(sku: "SKU-1", quantity: 1, unitPriceMinor: 1000)], currency: "USD")
        let decided: DecideResponse = try await decision.unary(DecisionServiceDescriptor.decide, DecideRequest(tenantID: "bench", order: order))
        let export = decided.decision!.exports[0]
        let acknowledged: AcknowledgeResponse = try await registry.unary(ExportRegistryDescriptor.acknowledge, AcknowledgeRequest(
            tenantID: "bench", exportID: export.exportID, version: export.version, outcome: .rejected, reason: .capacity,
            actor: Party(role: .thirdPartyLogistics, name: "wh-a")))
        rejected.values.withLock { $0[index] = acknowledged.export! }
    }
    let exports = rejected.values.withLock { $0 }

    var start = ContinuousClock.now
    try await inParallel(count, callers: callers) { index in
        let export = exports[index]!
        let response: ReevaluateResponse = try await decision.unary(DecisionServiceDescriptor.reevaluate, ReevaluateRequest(
            tenantID: "bench", exportID: export.exportID, baseVersion: export.version, excludeWarehouses: ["WH-A"], cause: .rejection))
        precondition(response.decision?.exports.first?.warehouseID == "WH-B")
    }
    print("reevaluations_per_second \(perSecond(count, since: start))")

    let scheduler = CaseScheduler(service: router)
    let running = Task { await scheduler.run() }
    start = ContinuousClock.now
    try await inParallel(count, callers: callers) { index in
        let export = exports[count + index]!
        let _: ReportResponse = try await routerClient.unary(ExceptionRouterDescriptor.report, ReportRequest(
            tenantID: "bench", exportID: export.exportID, exportVersion: export.version, kind: .rejection, reason: .capacity, warehouseID: "WH-A"))
    }
    while try await caseStore.list(QueueFilter(tenantID: "bench", state: .resolved, limit: count)).count < count {
        try await Task.sleep(for: .milliseconds(20))
    }
    print("retried_cases_per_second \(perSecond(count, since: start))")
    running.cancel()
    await running.value
    for client in [routerClient, registry, decision, routerRegistry, routerDecision] { await client.close() }
    await routerServer.shutdown(gracePeriod: .seconds(1))
    await decisionServer.shutdown(gracePeriod: .seconds(1))
    await decisionService.close()
    await registryServer.shutdown(gracePeriod: .seconds(1))
    await caseStore.close()
    await registryStore.close()
}

/// Runs `body` for 0..<count from `callers` concurrent tasks.
func inParallel(_ count: Int, callers: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for caller in 0..<callers {
            group.addTask {
                for index in stride(from: caller, to: count, by: callers) { try await body(index) }
            }
        }
        try await group.waitForAll()
    }
}

/// Rejected versions by order index, filled from the callers.
final class Versions: Sendable {
    let values = Mutex<[Int: Export]>([:])
}

switch arguments[1] {
case "retry":
    try await benchRetries(directory: directory, count: count)
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
