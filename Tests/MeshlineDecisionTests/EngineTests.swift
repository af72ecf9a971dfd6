import MeshlineDecision
import MeshlineModels
import MeshlineRPC
import Testing

/// Each routing rule, table by table, against the pure engine.
@Suite struct EngineTests {
    /// Every export a decision makes passes the registry's QA gate at decision time.
    static func expectPassesQA(_ decision: Decision, now: Int64 = Fixture.noon, sourceLocation: SourceLocation = #_sourceLocation) {
        for export in decision.exports {
            let violations = export.qaViolations(context: ExportQAContext(nowUnixMs: now, serviceLevels: ["standard", "express"]))
            #expect(violations.isEmpty, "\(export.exportID): \(violations)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [
        // (order zone, expected warehouse or nil for a backorder)
        ("us-west", "W-WEST"),
        ("us-east", "W-EAST"),
        ("us-central", nil),
    ] as [(String, String?)])
    func zonesServed(zone: String, expected: String?) throws {
        let rules = Fixture.rules([Fixture.warehouse("W-WEST", zones: ["us-west"]), Fixture.warehouse("W-EAST", zones: ["us-east"], timeZone: "America/New_York")])
        let decision = try Fixture.decide(Fixture.order(zone: zone), rules, Fixture.inventory([("W-WEST", "SKU-1", 5), ("W-EAST", "SKU-1", 5)]))
        Self.expectPassesQA(decision)
        if let expected {
            #expect(decision.warehouses == [expected])
            let other = expected == "W-WEST" ? "W-EAST" : "W-WEST"
            #expect(decision.candidate(other)?.eligible == false)
            #expect(decision.candidate(other)?.reason == "lost: does not serve the order's zone")
        } else {
            #expect(decision.exports.map(\.kind) == [.backorder])
            #expect(decision.explanation?.candidates.allSatisfy { !$0.eligible } == true)
        }
    }

    @Test(arguments: [
        // (case, time zone, cutoff minute, service level, placed at, expected ship-by) — expectations computed with Python's zoneinfo.
        ("before the cutoff ships within the day's count", "America/Los_Angeles", Int32(14 * 60), "standard", Int64(1_764_331_200_000), Int64(1_764_540_000_000)),
        ("after the cutoff counts from the next day", "America/Los_Angeles", 14 * 60, "standard", 1_764_370_800_000, 1_764_626_400_000),
        ("local day before UTC midnight, before a late cutoff", "America/New_York", 23 * 60 + 30, "express", 1_764_389_700_000, 1_764_390_600_000),
        ("after a late cutoff, across midnight", "America/New_York", 23 * 60 + 30, "express", 1_764_391_500_000, 1_764_477_000_000),
        ("east of UTC: already the next local day", "Europe/Berlin", 30, "express", 1_764_371_700_000, 1_764_372_600_000),
        ("ship-by after DST ends keeps local 14:00", "America/New_York", 14 * 60, "standard", 1_761_998_400_000, 1_762_196_400_000),
        ("cutoff inside the DST gap maps past the gap", "America/New_York", 2 * 60 + 30, "express", 1_772_949_600_000, 1_772_955_000_000),
    ] as [(String, String, Int32, String, Int64, Int64)])
    func cutoffsAndTimeZones(name: String, timeZone: String, cutoff: Int32, level: String, placedAt: Int64, shipBy: Int64) throws {
        let rules = Fixture.rules([Fixture.warehouse("W-1", timeZone: timeZone, cutoff: cutoff)])
        let decision = try Fixture.decide(Fixture.order(placedAt: placedAt, level: level), rules, Fixture.inventory([("W-1", "SKU-1", 5)], asOf: placedAt), now: placedAt)
        Self.expectPassesQA(decision, now: placedAt)
        let sla = try #require(decision.exports.first?.sla)
        #expect(sla.shipByUnixMs == shipBy, "\(name)")
        let window = try #require(sla.pickWindow)
        #expect(window.endUnixMs == shipBy)
        #expect(window.startUnixMs == max(shipBy - Int64(level == "express" ? 120 : 480) * Fixture.minute, placedAt))
    }

    @Test(arguments: [
        // (capacity, orders already taken that day, expected warehouse)
        (Int64(2), Int64(1), "W-CHEAP"),
        (2, 2, "W-DEAR"),
        (0, 1_000, "W-CHEAP"),
    ])
    func dailyCapacity(capacity: Int64, taken: Int64, expected: String) throws {
        let rules = Fixture.rules([Fixture.warehouse("W-CHEAP", capacity: capacity, cost: 0.5), Fixture.warehouse("W-DEAR", cost: 2)])
        // Noon UTC is 04:00 in Los Angeles, before the cutoff: local day 2025-11-28 (day 20420).
        let used = [CapacityDay(warehouseID: "W-CHEAP", day: 20_420): taken]
        let decision = try Fixture.decide(Fixture.order(), rules, Fixture.inventory([("W-CHEAP", "SKU-1", 9), ("W-DEAR", "SKU-1", 9)]), used: used)
        #expect(decision.warehouses == [expected])
        if expected == "W-DEAR" {
            #expect(decision.candidate("W-CHEAP")?.reason == "lost: daily capacity of 2 orders is used up for local day 2025-11-28")
        }
    }

    @Test(arguments: [
        // (on hand, safety stock, quantity ordered, expected warehouse)
        (Int64(5), Int64(3), Int64(2), "W-NEAR"),
        (5, 3, 3, "W-FAR"),
        (5, 0, 5, "W-NEAR"),
        (5, 5, 1, "W-FAR"),
    ])
    func safetyStock(onHand: Int64, safety: Int64, quantity: Int64, expected: String) throws {
        let rules = Fixture.rules([
            Fixture.warehouse("W-NEAR", safety: safety, distances: ["us-west": 100]),
            Fixture.warehouse("W-FAR", distances: ["us-west": 900]),
        ])
        let decision = try Fixture.decide(Fixture.order(lines: [("SKU-1", quantity)]), rules, Fixture.inventory([("W-NEAR", "SKU-1", onHand), ("W-FAR", "SKU-1", 50)]))
        #expect(decision.warehouses == [expected])
        if expected == "W-FAR" {
            #expect(decision.candidate("W-NEAR")?.reason == "lost: cannot fill any line (SKU-1 needs \(quantity), \(max(0, onHand - safety)) available after safety stock \(safety))")
        }
    }

    @Test func aBackorderReDecidedIntoASplitKeepsItsIdAsShipmentOne() throws {
        let rules = Fixture.rules([Fixture.warehouse("W-A"), Fixture.warehouse("W-B")], split: true, maxShipments: 0, minShipmentValue: 0)
        let order = Fixture.order(lines: [("SKU-1", 2), ("SKU-2", 2)])
        // The backorder that ships whole (shipment 0) is re-decided once stock arrived in two places.
        let decision = try DecisionEngine.decide(
            order: order, rules: CompiledRuleSet(rules), inventory: Fixture.inventory([("W-A", "SKU-1", 9), ("W-B", "SKU-2", 9)]),
            capacityUsed: { _ in 0 }, now: Fixture.noon, replacing: ReplacedExport(exportID: "dx-backorder", orderID: "order-1", shipment: 0)
        ).decision
        #expect(decision.exports.map(\.exportID).first == "dx-backorder")
        #expect(decision.exports.map(\.shipment) == [1, 2] && decision.exports.map(\.orderID) == ["order-1", "order-1"])
    }

    @Test(arguments: [
        // (allow split, max shipments, min shipment value, expected warehouses; empty = backorder)
        (false, Int32(0), Int64(0), [String]()),
        (true, 0, 0, ["W-A", "W-B"]),
        (true, 1, 0, []),
        (true, 2, 2_000, ["W-A", "W-B"]),
        (true, 2, 2_001, []),
    ])
    func splitShipments(allow: Bool, maxShipments: Int32, minValue: Int64, expected: [String]) throws {
        let rules = Fixture.rules([Fixture.warehouse("W-A"), Fixture.warehouse("W-B")], split: allow, maxShipments: maxShipments, minShipmentValue: minValue)
        // W-A holds SKU-1 only, W-B SKU-2 only; each line is worth 2 × 1000.
        let order = Fixture.order(lines: [("SKU-1", 2), ("SKU-2", 2)])
        let decision = try Fixture.decide(order, rules, Fixture.inventory([("W-A", "SKU-1", 9), ("W-B", "SKU-2", 9)]))
        Self.expectPassesQA(decision)
        if expected.isEmpty {
            #expect(decision.exports.map(\.kind) == [.backorder])
        } else {
            #expect(decision.warehouses == expected)
            #expect(decision.exports.map(\.orderID) == ["order-1", "order-1"] && decision.exports.map(\.shipment) == [1, 2])
            #expect(decision.exports.map { $0.lines.map(\.sku) } == [["SKU-1"], ["SKU-2"]])
            #expect(Set(decision.exports.map(\.exportID)).count == 2)
            #expect(decision.exports.allSatisfy { $0.order == order })
        }
    }

    @Test func rankingFewestShipmentsThenCostThenDistance() throws {
        let rules = Fixture.rules([
            Fixture.warehouse("W-PARTIAL", cost: 0.1, distances: ["us-west": 10]),
            Fixture.warehouse("W-COSTLY", cost: 1.5, distances: ["us-west": 100]),
            Fixture.warehouse("W-FAR", cost: 0.8, distances: ["us-west": 900]),
            Fixture.warehouse("W-NEAR", cost: 0.8, distances: ["us-west": 300]),
            Fixture.warehouse("W-TWIN", cost: 0.8, distances: ["us-west": 300]),
        ], split: true)
        let all = ["W-COSTLY", "W-FAR", "W-NEAR", "W-TWIN"].flatMap { [($0, "SKU-1", Int64(9)), ($0, "SKU-2", Int64(9))] }
        let decision = try Fixture.decide(Fixture.order(lines: [("SKU-1", 1), ("SKU-2", 1)]), rules, Fixture.inventory(all + [("W-PARTIAL", "SKU-1", 9)]))
        #expect(decision.warehouses == ["W-NEAR"])
        #expect(decision.explanation?.summary == "W-NEAR: 1 shipment, cost 0.8, 300 km")
        let reasons = Dictionary(uniqueKeysWithValues: (decision.explanation?.candidates ?? []).map { ($0.warehouseID, $0.reason) })
        #expect(reasons == [
            "W-NEAR": "won: 1 shipment, cost 0.8, 300 km",
            "W-PARTIAL": "lost: needs 2 shipments, the winner 1",
            "W-COSTLY": "lost: same shipments, cost 1.5 above the winner's 0.8",
            "W-FAR": "lost: same shipments and cost, 900 km against the winner's 300 km",
            "W-TWIN": "lost: ties with the winner on shipments, cost and distance; W-NEAR comes first by id",
        ])
        #expect(decision.candidate("W-PARTIAL")?.shipments == 2)
        #expect(decision.explanation?.candidates.map(\.warehouseID) == ["W-COSTLY", "W-FAR", "W-NEAR", "W-PARTIAL", "W-TWIN"])
    }

    @Test(arguments: [
        // (inventory age, expected TTL, stale)
        (Int64(0), 4 * Fixture.hour, false),
        (6 * Fixture.hour, 4 * Fixture.hour, false),
        (6 * Fixture.hour + 1, 30 * Fixture.minute, true),
    ])
    func staleInventoryShortensTheTTL(age: Int64, ttl: Int64, stale: Bool) throws {
        let rules = Fixture.rules([Fixture.warehouse("W-1")])
        let decision = try Fixture.decide(Fixture.order(), rules, Fixture.inventory([("W-1", "SKU-1", 5)], asOf: Fixture.noon - age))
        #expect(decision.exports.first?.expiresAtUnixMs == Fixture.noon + ttl)
        #expect(decision.explanation?.inventoryStale == stale)
    }

    @Test(arguments: [
        // (promotions, SKUs ordered, expected instruction codes per export)
        ([String](), ["SKU-1"], [[String]()]),
        (["spring-catalog"], ["SKU-1"], [["insert:spring-catalog"]]),
        (["other-promo"], ["MUG-GIFT"], [["wrap:gift"]]),
        (["spring-catalog"], ["MUG-GIFT", "SKU-1"], [["insert:spring-catalog", "wrap:gift"]]),
    ])
    func packingInstructionsFromPromotionsAndSkus(promotions: [String], skus: [String], codes: [[String]]) throws {
        let rules = Fixture.rules([Fixture.warehouse("W-1")], packing: [
            PackingRule(promotion: "spring-catalog", instruction: PackingInstruction(code: "insert:spring-catalog", text: "Add a catalog.")),
            PackingRule(sku: "MUG-GIFT", instruction: PackingInstruction(code: "wrap:gift", text: "Gift-wrap the mug.")),
        ])
        let decision = try Fixture.decide(
            Fixture.order(lines: skus.map { ($0, 1) }, promotions: promotions), rules, Fixture.inventory(skus.map { ("W-1", $0, 5) }))
        Self.expectPassesQA(decision)
        #expect(decision.exports.map { $0.packingInstructions.map(\.code) } == codes)
        if let wrap = decision.exports.first?.packingInstructions.first(where: { $0.code == "wrap:gift" }) {
            #expect(wrap.skus == ["MUG-GIFT"])
            #expect(wrap.source == "sku:MUG-GIFT")
        }
    }

    @Test(arguments: [
        // (merchant, expected routing owner, expected backorder owner)
        ("", Fixture.fulfillment, Fixture.acmeOps),
        ("acme-outlet", Fixture.outletDesk, Fixture.acmeOps),
        ("acme-b2b", Fixture.fulfillment, Fixture.acmeOps),
    ])
    func ownershipMostSpecificRuleWins(merchant: String, routingOwner: Party, backorderOwner: Party) throws {
        let rules = Fixture.rules([Fixture.warehouse("W-1")])
        let routed = try Fixture.decide(Fixture.order(merchant: merchant), rules, Fixture.inventory([("W-1", "SKU-1", 5)]))
        #expect(routed.exports.first?.owningParty == routingOwner)
        #expect(routed.exports.first?.watchers.contains(Party(role: .thirdPartyLogistics, name: "w-1")) == true)
        let backordered = try Fixture.decide(Fixture.order(merchant: merchant), rules, InventoryView())
        #expect(backordered.exports.first?.owningParty == backorderOwner)
    }

    @Test func noStockAnywhereIsOneBackorderToTheBackorderQueue() throws {
        let rules = Fixture.rules([Fixture.warehouse("W-1"), Fixture.warehouse("W-2")])
        let decision = try Fixture.decide(Fixture.order(lines: [("SKU-1", 3), ("SKU-2", 1)]), rules, Fixture.inventory([("W-1", "SKU-1", 2)]))
        Self.expectPassesQA(decision)
        let export = try #require(decision.exports.first)
        #expect(decision.exports.count == 1)
        #expect(export.kind == .backorder)
        #expect(export.intendedAction == "backorder")
        #expect(export.exceptionPath == ExceptionPath(type: .humanQueue, queue: "backorder", contactID: "acme-lead"))
        #expect(export.lines.map(\.sku) == ["SKU-1", "SKU-2"])
        #expect(decision.explanation?.summary == "backorder: no warehouse serving zone us-west can fill any line")
        #expect(decision.candidate("W-1")?.reason == "lost: cannot fill any line (SKU-1 needs 3, 2 available after safety stock 0)")
    }

    @Test func excludedWarehousesAreNeverChosen() throws {
        let rules = Fixture.rules([Fixture.warehouse("W-1", cost: 0.5), Fixture.warehouse("W-2")])
        let inventory = Fixture.inventory([("W-1", "SKU-1", 5), ("W-2", "SKU-1", 5)])
        #expect(try Fixture.decide(Fixture.order(), rules, inventory).warehouses == ["W-1"])
        let decision = try Fixture.decide(Fixture.order(), rules, inventory, excluding: ["W-1"])
        #expect(decision.warehouses == ["W-2"])
        #expect(decision.candidate("W-1")?.reason == "lost: excluded (it rejected this export or the caller excluded it)")
    }

    @Test func sameInputsGiveTheSameBytesAndIdsDependOnTenantOrderAndShipment() throws {
        let rules = Fixture.rules([Fixture.warehouse("W-1")])
        let inventory = Fixture.inventory([("W-1", "SKU-1", 5)])
        let first = try Fixture.decide(Fixture.order("order-1"), rules, inventory)
        let again = try Fixture.decide(Fixture.order("order-1"), rules, inventory)
        let other = try Fixture.decide(Fixture.order("order-2"), rules, inventory)
        #expect(first.serializedBytes() == again.serializedBytes())
        #expect(first.exports[0].exportID != other.exports[0].exportID)
        #expect(first.exports[0].exportID.hasPrefix("dx-"))
        // A later decision time changes the TTL and nothing else.
        let later = try Fixture.decide(Fixture.order("order-1"), rules, inventory, now: Fixture.noon + 1)
        #expect(later.exports[0].expiresAtUnixMs == first.exports[0].expiresAtUnixMs + 1)
    }

    @Test(arguments: [
        // (how the order is broken, field named in the error)
        ("65 lines", "order.lines"),
        ("repeated SKU", "order.lines[1].sku"),
        ("unknown service level", "order.service_level"),
        ("zero quantity", "order.lines[0].quantity"),
        ("other tenant", "order.tenant_id"),
        ("long order id", "order.order_id"),
    ])
    func ordersOutOfBoundsAreInvalidArguments(name: String, field: String) throws {
        var order = Fixture.order()
        switch name {
        case "65 lines": order.lines = (0..<65).map { OrderLine(sku: "SKU-\($0)", quantity: 1) }
        case "repeated SKU": order.lines = [OrderLine(sku: "SKU-1", quantity: 1), OrderLine(sku: "SKU-1", quantity: 2)]
        case "unknown service level": order.serviceLevel = "overnight"
        case "zero quantity": order.lines[0].quantity = 0
        case "other tenant": order.tenantID = "globex"
        default: order.orderID = String(repeating: "o", count: 129)
        }
        do {
            _ = try Fixture.decide(order, Fixture.rules([Fixture.warehouse("W-1")]), InventoryView())
            Issue.record("\(name) was accepted")
        } catch let error as DecisionError {
            guard case .invalid(let violations) = error else { Issue.record("\(error)"); return }
            #expect(violations.map(\.field) == [field])
            #expect(error.rpcError.code == .invalidArgument)
        }
    }
}
