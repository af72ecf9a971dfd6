import Foundation
import MeshlineDecision
import MeshlineModels

/// Rule sets, orders and inventory that the engine and wire tests share.
enum Fixture {
    static let tenant = "acme"
    /// 2025-11-28 12:00:00 UTC, a Friday: 07:00 in New York, 04:00 in Los Angeles, 13:00 in Berlin.
    static let noon: Int64 = 1_764_331_200_000
    static let hour: Int64 = 3_600_000
    static let minute: Int64 = 60_000

    static let fulfillment = Party(role: .agency, name: "fulfillment-team")
    static let acmeOps = Party(role: .merchant, name: "acme-ops")
    static let outletDesk = Party(role: .merchant, name: "outlet-desk")

    static func warehouse(_ id: String, zones: [String] = ["us-west"], timeZone: String = "America/Los_Angeles", cutoff: Int32 = 14 * 60,
                          capacity: Int64 = 0, cost: Double = 1.0, safety: Int64 = 0, distances: [String: Int32] = [:]) -> Warehouse {
        Warehouse(
            warehouseID: id, name: id, zones: zones, timeZone: timeZone, cutoffMinuteOfDay: cutoff, dailyCapacity: capacity,
            costWeight: cost, safetyStock: safety,
            distances: distances.sorted { $0.key < $1.key }.map { ZoneDistance(zone: $0.key, distanceKm: $0.value) },
            operator: Party(role: .thirdPartyLogistics, name: id.lowercased()))
    }

    /// A valid rule set of tenant `acme` with the given warehouses.
    static func rules(_ warehouses: [Warehouse], version: String = "v1.0", split: Bool = false, maxShipments: Int32 = 0, minShipmentValue: Int64 = 0,
                      packing: [PackingRule] = [], rollout: Rollout? = nil) -> RuleSet {
        RuleSet(
            tenantID: tenant, version: version, warehouses: warehouses,
            routing: RoutingPreferences(allowSplit: split, minShipmentValueMinor: minShipmentValue, maxShipments: maxShipments),
            ownership: [
                OwnershipRule(action: "route-to-warehouse", owner: fulfillment, watchers: [acmeOps]),
                OwnershipRule(action: "route-to-warehouse", merchantID: "acme-outlet", owner: outletDesk, watchers: [fulfillment]),
                OwnershipRule(action: "backorder", owner: acmeOps, watchers: [fulfillment]),
            ],
            serviceLevels: [
                ServiceLevelPolicy(serviceLevel: "standard", shipWithinDays: 2, pickWindowMinutes: 480),
                ServiceLevelPolicy(serviceLevel: "express", shipWithinDays: 0, pickWindowMinutes: 120),
            ],
            exceptionRules: [
                ExceptionRule(action: "route-to-warehouse", path: ExceptionPath(type: .autoRetry, queue: "agency-ops", contactID: "ops-oncall"),
                              escalationContacts: [Contact(contactID: "ops-oncall", party: fulfillment, channel: "pager", address: "oncall", level: 1)]),
                ExceptionRule(action: "backorder", path: ExceptionPath(type: .humanQueue, queue: "backorder", contactID: "acme-lead")),
            ],
            ttl: TtlPolicy(ttlMs: 4 * hour, staleTTLMs: 30 * minute, freshnessLimitMs: 6 * hour),
            packingRules: packing, rollout: rollout)
    }

    static func order(_ id: String = "order-1", lines: [(String, Int64)] = [("SKU-1", 1)], zone: String = "us-west", placedAt: Int64 = noon,
                      level: String = "standard", merchant: String = "", promotions: [String] = [], price: Int64 = 1000) -> Order {
        Order(
            orderID: id, tenantID: tenant, merchantID: merchant, placedAtUnixMs: placedAt, serviceLevel: level,
            shipTo: Address(name: "Pat Doe", lines: ["1 Main St"], city: "Reno", region: "NV", postalCode: "89501", country: "US"),
            zone: zone, lines: lines.map { OrderLine(sku: $0.0, quantity: $0.1, unitPriceMinor: price) },
            promotions: promotions, currency: "USD")
    }

    /// An inventory view with `levels` (warehouse, SKU, units), all counted at `asOf`.
    static func inventory(_ levels: [(String, String, Int64)], asOf: Int64 = noon) -> InventoryView {
        var view = InventoryView()
        for (warehouse, sku, units) in levels {
            view.apply(InventoryLevel(warehouseID: warehouse, sku: sku, onHand: units, asOfUnixMs: asOf))
        }
        return view
    }

    static func decide(_ order: Order, _ rules: RuleSet, _ inventory: InventoryView, now: Int64 = noon, used: [CapacityDay: Int64] = [:],
                       excluding: Set<String> = []) throws -> Decision {
        try DecisionEngine.decide(
            order: order, rules: CompiledRuleSet(rules), inventory: inventory, capacityUsed: { used[$0] ?? 0 }, now: now, excluding: excluding
        ).decision
    }
}

extension Decision {
    /// Warehouses of the routing exports, in export order.
    var warehouses: [String] { exports.map(\.warehouseID) }
    func candidate(_ id: String) -> CandidateScore? { explanation?.candidates.first { $0.warehouseID == id } }
}
