// Orders per second from Decide to export accepted, through running services.
//
//   meshline-bench-mesh --registry H:P[,H:P] --decision H:P[,H:P] [--orders N] [--callers C]
//
// Puts a rule set (two warehouses) on the decision service and stock on every
// decision replica (inventory is each replica's own view), then C callers send N
// Decide calls round-robin over the decision replicas; each Decide publishes its
// export to the registry. A consumer watches every registry replica (a replica
// wakes its watchers on its own commits; the log they read is the shared one) and
// acknowledges each new export `accepted`. The clock runs from the first Decide
// to the last accepted acknowledgement. Prints
//   orders_per_second N
//   decide_to_accepted_p50_ms N
//   decide_to_accepted_p99_ms N

import Foundation
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import Synchronization

let arguments = CommandLine.arguments
func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}
guard let registryList = option("--registry"), let decisionList = option("--decision") else {
    print("usage: meshline-bench-mesh --registry H:P[,H:P] --decision H:P[,H:P] [--orders N] [--callers C]")
    exit(2)
}
let registries = registryList.split(separator: ",").map(String.init)
let decisions = decisionList.split(separator: ",").map(String.init)
let orders = Int(option("--orders") ?? "2000") ?? 2000
let callers = Int(option("--callers") ?? "32") ?? 32
let tenant = "bench"
let runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)

func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
func client(_ endpoints: [String]) throws -> RPCClient {
    var configuration = RPCClient.Configuration(endpoints: try endpoints.map { text throws(RPCError) in try RPCClient.Endpoint(parsing: text) })
    configuration.defaultTimeout = .seconds(30)
    return RPCClient(configuration: configuration)
}

let team = Party(role: .agency, name: "fulfillment-team")
func warehouse(_ id: String, cost: Double) -> Warehouse {
    Warehouse(
        warehouseID: id, name: id, zones: ["us-west"], timeZone: "UTC", cutoffMinuteOfDay: 23 * 60 + 59, costWeight: cost,
        operator: Party(role: .thirdPartyLogistics, name: id.lowercased()))
}
let rules = RuleSet(
    tenantID: tenant, version: "v\(Int(Date().timeIntervalSince1970)).\(Int.random(in: 0...9999))", warehouses: [warehouse("WH-A", cost: 1), warehouse("WH-B", cost: 2)],
    routing: RoutingPreferences(),
    ownership: [OwnershipRule(action: "route-to-warehouse", owner: team), OwnershipRule(action: "backorder", owner: team)],
    serviceLevels: [ServiceLevelPolicy(serviceLevel: "standard", shipWithinDays: 2, pickWindowMinutes: 480)],
    exceptionRules: [
        ExceptionRule(action: "route-to-warehouse", path: ExceptionPath(type: .autoRetry, queue: "agency-ops", contactID: "ops")),
        ExceptionRule(action: "backorder", path: ExceptionPath(type: .humanQueue, queue: "backorder", contactID: "ops")),
    ],
    ttl: TtlPolicy(ttlMs: 4 * 3_600_000, staleTTLMs: 30 * 60_000, freshnessLimitMs: 6 * 3_600_000))

let decisionClient = try client(decisions)
let registryClient = try client(registries)
let _: PutRuleSetResponse = try await decisionClient.unary(DecisionServiceDescriptor.putRuleSet, PutRuleSetRequest(ruleSet: rules))
for endpoint in decisions {
    let replica = try client([endpoint])
    // Replicas read rule sets another replica put from the shared directory within a second or so;
    // a replica takes inventory only for the warehouses of rules it holds.
    for _ in 0..<100 {
        let response: GetRuleSetResponse? = try? await replica.unary(DecisionServiceDescriptor.getRuleSet, GetRuleSetRequest(tenantID: tenant))
        if response?.ruleSet?.version == rules.version { break }
        try await Task.sleep(for: .milliseconds(100))
    }
    let _: UpdateInventoryResponse = try await replica.unary(DecisionServiceDescriptor.updateInventory, UpdateInventoryRequest(
        tenantID: tenant, levels: ["WH-A", "WH-B"].map { InventoryLevel(warehouseID: $0, sku: "SKU-1", onHand: 1_000_000_000, asOfUnixMs: nowMs()) }))
    await replica.close()
}

/// Decide start times by export id, and the accepted latencies.
final class Progress: Sendable {
    private struct State {
        var started: [String: ContinuousClock.Instant] = [:]
        var acknowledged: Set<String> = []
        var latencies: [Double] = []
    }
    private let state = Mutex(State())
    let done = AsyncStream<Void>.makeStream()
    let total: Int

    init(total: Int) { self.total = total }

    func decided(_ exportID: String, at start: ContinuousClock.Instant) {
        state.withLock { $0.started[exportID] = start }
    }

    /// Whether this consumer should acknowledge `exportID` (first sighting only).
    func claim(_ exportID: String) -> Bool {
        state.withLock { $0.acknowledged.insert(exportID).inserted }
    }

    func accepted(_ exportID: String, startedAt fallback: ContinuousClock.Instant) {
        let finished = state.withLock { state -> Bool in
            let elapsed = ContinuousClock.now - (state.started[exportID] ?? fallback)
            state.latencies.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
            return state.latencies.count == total
        }
        if finished { done.continuation.yield() }
    }

    var latencies: [Double] { state.withLock { $0.latencies } }
}

let progress = Progress(total: orders)
let prefix = "order-\(runID)-"
let benchStart = ContinuousClock.now

// The consumer: one Watch per registry replica, from the current end of the log.
var watchers: [Task<Void, Never>] = []
for endpoint in registries {
    let watchClient = try client([endpoint])
    watchers.append(Task {
        await withTaskGroup(of: Void.self) { acks in
            do {
                // The call returns once the first event comes (with the response headers).
                let stream: ResponseStream<WatchEvent> = try await watchClient.serverStreaming(
                    ExportRegistryDescriptor.watch, WatchRequest(tenantID: tenant), timeout: .seconds(3600))
                for try await event in stream {
                    guard let export = event.export, export.state == .published, export.orderID.hasPrefix(prefix), progress.claim(export.exportID) else { continue }
                    acks.addTask {
                        do {
                            let _: AcknowledgeResponse = try await registryClient.unary(
                                ExportRegistryDescriptor.acknowledge,
                                AcknowledgeRequest(tenantID: tenant, exportID: export.exportID, version: export.version, outcome: .accepted,
                                                   actor: Party(role: .thirdPartyLogistics, name: "wh-ops")))
                            progress.accepted(export.exportID, startedAt: benchStart)
                        } catch {
                            FileHandle.standardError.write(Data("acknowledge \(export.exportID) failed: \(error)\n".utf8))
                        }
                    }
                }
            } catch {}
        }
        await watchClient.close()
    })
}
// The registry fixes each Watch's starting point when the request arrives: let
// the requests arrive before the first Decide.
try await Task.sleep(for: .milliseconds(500))

let start = ContinuousClock.now
let next = Atomic<Int>(0)
try await withThrowingTaskGroup(of: Void.self) { group in
    for _ in 0..<callers {
        group.addTask {
            while true {
                let index = next.add(1, ordering: .relaxed).oldValue
                guard index < orders else { return }
                let order = Order(
                    orderID: "\(prefix)\(index)", tenantID: tenant, placedAtUnixMs: nowMs(), serviceLevel: "standard",
                    shipTo: Address(name: "Pat Doe", lines: ["1 Main St"], city: "Reno", region: "NV", postalCode: "89501", country: "US"),
                    zone: "us-west", lines: [OrderLine(sku: "SKU-1", quantity: 1, unitPriceMinor: 1000)], currency: "USD")
                let begun = ContinuousClock.now
                let response: DecideResponse = try await decisionClient.unary(DecisionServiceDescriptor.decide, DecideRequest(tenantID: tenant, order: order))
                for export in response.decision?.exports ?? [] { progress.decided(export.exportID, at: begun) }
            }
        }
    }
    try await group.waitForAll()
}

let waited = Task {
    var iterator = progress.done.stream.makeAsyncIterator()
    _ = await iterator.next()
}
let timeout = Task {
    try? await Task.sleep(for: .seconds(120))
    waited.cancel()
}
await waited.value
timeout.cancel()
let latencies = progress.latencies.sorted()
guard latencies.count == orders else {
    FileHandle.standardError.write(Data("only \(latencies.count) of \(orders) orders were accepted within 120 s\n".utf8))
    exit(1)
}
let elapsed = ContinuousClock.now - start
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print("orders_per_second \(Int(Double(orders) / seconds))")
print("decide_to_accepted_p50_ms \(String(format: "%.1f", latencies[latencies.count / 2]))")
print("decide_to_accepted_p99_ms \(String(format: "%.1f", latencies[min(latencies.count - 1, latencies.count * 99 / 100)]))")
for watcher in watchers { watcher.cancel() }
await decisionClient.close()
await registryClient.close()
exit(0)
