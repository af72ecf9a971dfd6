// The decision service's speed: a 10-line order against 50 warehouses and 10,000 SKUs.
//
//   meshline-bench-decision in-process COUNT
//       COUNT decisions by the engine alone, one after another; prints
//       `decisions_per_second N`, `p50_us N`, `p99_us N`, the share of orders routed
//       (not backordered) and the exports per decision (shipments)
//   meshline-bench-decision serve --registry HOST:PORT
//       serves DecisionService and the Echo test service on one server (one event-loop
//       thread) on a free loopback port; prints `listening on PORT`; runs until SIGTERM
//   meshline-bench-decision wire PORT COUNT CALLERS [publish]
//       against `serve`: puts the rules and inventory, then COUNT Echo round trips
//       with messages the size of a Decide request and response (the same-run peer),
//       then COUNT Decide calls (dry runs, or published with `publish`), each from
//       CALLERS concurrent callers; prints `<name>_per_second N`, `<name>_p50_us N`,
//       `<name>_p99_us N` for `echo` and `decide`
//
// Every input comes from a fixed seed, so runs decide the same orders.

import Foundation
import Logging
import MeshlineDecision
import MeshlineEcho
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineTestSupport
import ServiceLifecycle
import UnixSignals

/// The benchmark's tenant: rules, inventory and orders, all from one seed.
enum Workload {
    static let tenant = "bench"
    static let zones = ["us-west", "us-mountain", "us-central", "us-east", "us-south"]
    static let timeZones = ["America/Los_Angeles", "America/Denver", "America/Chicago", "America/New_York"]
    static let skus = (0..<10_000).map { "SKU-\($0)" }
    static let now = Int64(Date().timeIntervalSince1970 * 1000)

    static func rules() -> RuleSet {
        var random = SplitMix64(state: 1)
        let agency = Party(role: .agency, name: "fulfillment-team")
        let warehouses = (0..<50).map { index -> Warehouse in
            let served = zones.shuffled(using: &random).prefix(Int.random(in: 2...3, using: &random))
            return Warehouse(
                warehouseID: "WH-\(index)", name: "Warehouse \(index)", zones: Array(served), timeZone: timeZones[index % timeZones.count],
                cutoffMinuteOfDay: Int32.random(in: 600...1380, using: &random), dailyCapacity: 1_000_000_000,
                costWeight: Double(Int.random(in: 50...200, using: &random)) / 100, safetyStock: 1,
                distances: served.map { ZoneDistance(zone: $0, distanceKm: Int32.random(in: 50...3000, using: &random)) },
                operator: Party(role: .thirdPartyLogistics, name: "wh-\(index)"))
        }
        return RuleSet(
            tenantID: tenant, version: "v1.0", warehouses: warehouses,
            routing: RoutingPreferences(allowSplit: true, minShipmentValueMinor: 500, maxShipments: 4),
            ownership: [
                OwnershipRule(action: "route-to-warehouse", owner: agency, watchers: [Party(role: .merchant, name: "bench-ops")]),
                OwnershipRule(action: "backorder", owner: Party(role: .merchant, name: "bench-ops"), watchers: [agency]),
            ],
            serviceLevels: [ServiceLevelPolicy(serviceLevel: "standard", shipWithinDays: 2, pickWindowMinutes: 480)],
            exceptionRules: [
                ExceptionRule(action: "route-to-warehouse", path: ExceptionPath(type: .autoRetry, queue: "agency-ops")),
                ExceptionRule(action: "backorder", path: ExceptionPath(type: .humanQueue, queue: "backorder")),
            ],
            ttl: TtlPolicy(ttlMs: 4 * 3_600_000, staleTTLMs: 1_800_000, freshnessLimitMs: 6 * 3_600_000),
            packingRules: [PackingRule(promotion: "spring-catalog", instruction: PackingInstruction(code: "insert:spring-catalog", text: "Add a catalog."))])
    }

    /// Each warehouse holds 80 % of the SKUs, 0 to 40 units each.
    static func levels() -> [InventoryLevel] {
        var random = SplitMix64(state: 2)
        var levels: [InventoryLevel] = []
        for warehouse in 0..<50 {
            for sku in skus where Int.random(in: 0..<10, using: &random) < 8 {
                levels.append(InventoryLevel(warehouseID: "WH-\(warehouse)", sku: sku, onHand: Int64.random(in: 0...40, using: &random), asOfUnixMs: now))
            }
        }
        return levels
    }

    /// Orders of 10 distinct SKUs, 1 to 3 units each.
    static func orders(_ count: Int, prefix: String) -> [Order] {
        var random = SplitMix64(state: 3)
        return (0..<count).map { index in
            Order(
                orderID: "\(prefix)-\(index)", tenantID: tenant, placedAtUnixMs: now - Int64.random(in: 0..<86_400_000, using: &random),
                serviceLevel: "standard",
                shipTo: Address(name: "Pat Doe", lines: ["1 Main St"], city: "Reno", region: "NV", postalCode: "89501", country: "US"),
                zone: zones.randomElement(using: &random)!,
                lines: skus.shuffled(using: &random).prefix(10).map { OrderLine(sku: $0, quantity: Int64.random(in: 1...3, using: &random), unitPriceMinor: 1500) },
                promotions: index % 4 == 0 ? ["spring-catalog"] : [], currency: "USD")
        }
    }
}

func microseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
}

func report(_ name: String, latencies: [Double], elapsed: Duration) {
    let sorted = latencies.sorted()
    print("\(name)_per_second \(Int(Double(sorted.count) / (microseconds(elapsed) / 1e6)))")
    print("\(name)_p50_us \(Int(sorted[sorted.count / 2]))")
    print("\(name)_p99_us \(Int(sorted[sorted.count * 99 / 100]))")
}

/// Runs `count` calls of `call` from `callers` concurrent tasks; reports throughput and latency.
func load(_ name: String, count: Int, callers: Int, _ call: @escaping @Sendable (Int) async throws -> Void) async throws {
    let start = ContinuousClock.now
    let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
        for caller in 0..<callers {
            group.addTask {
                var latencies: [Double] = []
                for index in stride(from: caller, to: count, by: callers) {
                    let begin = ContinuousClock.now
                    try await call(index)
                    latencies.append(microseconds(ContinuousClock.now - begin))
                }
                return latencies
            }
        }
        return try await group.reduce(into: []) { $0 += $1 }
    }
    report(name, latencies: latencies, elapsed: ContinuousClock.now - start)
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    print("usage: meshline-bench-decision in-process COUNT | serve --registry HOST:PORT | wire PORT COUNT CALLERS [publish]")
    exit(2)
}

switch arguments[1] {
case "in-process":
    let count = arguments.count > 2 ? Int(arguments[2])! : 20_000
    let rules = try CompiledRuleSet(Workload.rules())
    var inventory = InventoryView()
    for level in Workload.levels() { inventory.apply(level) }
    let orders = Workload.orders(count, prefix: "order")
    var routed = 0
    var exports = 0
    // Warm up caches and time-zone data on the first 1,000 orders.
    for order in orders.prefix(1_000) {
        _ = try DecisionEngine.decide(order: order, rules: rules, inventory: inventory, capacityUsed: { _ in 0 }, now: Workload.now)
    }
    var latencies: [Double] = []
    latencies.reserveCapacity(count)
    let start = ContinuousClock.now
    for order in orders {
        let begin = ContinuousClock.now
        let outcome = try DecisionEngine.decide(order: order, rules: rules, inventory: inventory, capacityUsed: { _ in 0 }, now: Workload.now)
        latencies.append(microseconds(ContinuousClock.now - begin))
        if !outcome.capacity.isEmpty { routed += 1 }
        exports += outcome.decision.exports.count
    }
    report("decisions", latencies: latencies, elapsed: ContinuousClock.now - start)
    print("routed_share \(Double(routed) / Double(count))")
    print("exports_per_decision \(Double(exports) / Double(count))")

case "serve":
    var logger = Logger(label: "meshline.bench.decision")
    logger.logLevel = .error
    guard let flag = arguments.firstIndex(of: "--registry"), flag + 1 < arguments.count else {
        print("serve needs --registry HOST:PORT: UpdateInventory asks the registry which exports the levels affect")
        exit(2)
    }
    let registry = arguments[flag + 1]
    let service = try DecisionService(rules: RuleStore(), registryEndpoints: [registry], clock: DecisionService.wallClock, logger: logger)
    var configuration = RPCServer.Configuration()
    configuration.threads = 1
    configuration.maxConcurrentStreams = 1000
    let server = RPCServer(configuration: configuration, services: [service, EchoService()], logger: logger)
    // Unbuffered, so that the run script reads the port while the server runs.
    FileHandle.standardOutput.write(Data("listening on \(try await server.start())\n".utf8))
    try await ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
    await service.close()

case "wire":
    let port = Int(arguments[2])!
    let count = Int(arguments[3])!
    let callers = Int(arguments[4])!
    let publish = arguments.count > 5 && arguments[5] == "publish"
    var configuration = RPCClient.Configuration(endpoints: [.init(host: "127.0.0.1", port: port)])
    configuration.threads = 1
    let client = RPCClient(configuration: configuration)
    let _: PutRuleSetResponse = try await client.unary(DecisionServiceDescriptor.putRuleSet, PutRuleSetRequest(ruleSet: Workload.rules()))
    let levels = Workload.levels()
    for batch in stride(from: 0, to: levels.count, by: 10_000) {
        let _: UpdateInventoryResponse = try await client.unary(
            DecisionServiceDescriptor.updateInventory, UpdateInventoryRequest(tenantID: Workload.tenant, levels: Array(levels[batch..<min(batch + 10_000, levels.count)])))
    }
    // Each run decides new order ids, so published runs never replay earlier exports.
    let requests = Workload.orders(count, prefix: "order-\(UInt32.random(in: 0...UInt32.max))").map {
        DecideRequest(tenantID: Workload.tenant, order: $0, dryRun: !publish)
    }
    let sample: DecideResponse = try await client.unary(DecisionServiceDescriptor.decide, DecideRequest(tenantID: Workload.tenant, order: requests[0].order, dryRun: true))
    let requestSize = requests[0].serializedBytes().count
    let responseSize = sample.serializedBytes().count
    print("decide_request_bytes \(requestSize)")
    print("decide_response_bytes \(responseSize)")
    let echo = EchoRequest(text: "", payload: [UInt8](repeating: 7, count: requestSize), responseSize: Int32(responseSize))
    try await load("echo", count: count, callers: callers) { _ in
        let _: EchoResponse = try await client.unary(EchoDescriptor.get, echo)
    }
    try await load("decide", count: count, callers: callers) { index in
        let _: DecideResponse = try await client.unary(DecisionServiceDescriptor.decide, requests[index])
    }
    await client.close()

default:
    print("unknown mode '\(arguments[1])'")
    exit(2)
}
