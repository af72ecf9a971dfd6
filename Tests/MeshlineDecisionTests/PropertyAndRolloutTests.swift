import MeshlineDecision
import MeshlineModels
import MeshlineTestSupport
import Testing

@Suite struct PropertyAndRolloutTests {
    /// Shuffling the rule set's warehouses and the order's lines never changes a
    /// decision's bytes: routed, split and backordered orders alike.
    @Test(arguments: [UInt64(1), 2, 3, 4])
    func shuffledInputsNeverChangeTheDecisionBytes(seed: UInt64) throws {
        var random = SplitMix64(state: seed)
        let zones = ["us-west", "us-east", "us-central"]
        let timeZones = ["America/New_York", "America/Chicago", "Europe/Berlin"]
        var warehouses: [Warehouse] = []
        for index in 0..<12 {
            let zone = zones[index % 3]
            let distance = Int32(100 * (index % 5))
            warehouses.append(Fixture.warehouse(
                "W-\(index)", zones: [zone, zones[(index + 1) % 3]], timeZone: timeZones[index % 3],
                cutoff: Int32(index * 97 % 1440), capacity: Int64(index % 4), cost: Double(index % 3) / 2, safety: Int64(index % 2),
                distances: [zone: distance]))
        }
        let skus = (0..<20).map { "SKU-\($0)" }
        var levels: [(String, String, Int64)] = []
        for warehouse in warehouses {
            for sku in skus where Int.random(in: 0..<3, using: &random) > 0 {
                levels.append((warehouse.warehouseID, sku, Int64.random(in: 0..<6, using: &random)))
            }
        }
        let inventory = Fixture.inventory(levels, asOf: Fixture.noon - Int64.random(in: 0..<(8 * Fixture.hour), using: &random))
        for trial in 0..<60 {
            let split = trial % 2 == 0
            let rules = Fixture.rules(warehouses, split: split, maxShipments: Int32(trial % 4))
            let lineCount = Int.random(in: 1...8, using: &random)
            let order = Fixture.order(
                "order-\(seed)-\(trial)", lines: skus.shuffled(using: &random).prefix(lineCount).map { ($0, Int64.random(in: 1...3, using: &random)) },
                zone: zones[trial % 3], placedAt: Fixture.noon - Int64(trial) * 37 * Fixture.minute, promotions: ["b", "a"])
            let used = [CapacityDay(warehouseID: "W-1", day: 20_420): Int64(1)]
            let expected = try Fixture.decide(order, rules, inventory, used: used).serializedBytes()
            for _ in 0..<5 {
                var shuffledRules = rules
                shuffledRules.warehouses.shuffle(using: &random)
                var shuffledOrder = order
                shuffledOrder.lines.shuffle(using: &random)
                shuffledOrder.promotions.shuffle(using: &random)
                #expect(try Fixture.decide(shuffledOrder, shuffledRules, inventory, used: used).serializedBytes() == expected, "seed \(seed) trial \(trial)")
            }
        }
    }

    @Test(arguments: [Int32(0), 1, 10, 25, 50, 90, 100])
    func rolloutServesItsShareOfOrdersWithinOnePoint(percent: Int32) throws {
        let store = RuleStore()
        _ = try store.put(Fixture.rules([Fixture.warehouse("W-1")], version: "v1.0"), now: Fixture.noon)
        _ = try store.put(Fixture.rules([Fixture.warehouse("W-1")], version: "v1.1", rollout: Rollout(percent: percent, fallbackVersion: "v1.0")), now: Fixture.noon)
        var served = 0
        for index in 0..<10_000 {
            let version = try store.rules(tenantID: Fixture.tenant, orderID: "order-\(index)").version
            if version == "v1.1" { served += 1 }
            // Stable: the same order always gets the same version.
            #expect(try store.rules(tenantID: Fixture.tenant, orderID: "order-\(index)").version == version)
        }
        #expect(abs(Double(served) / 100 - Double(percent)) <= 1, "served \(served) of 10000 at \(percent)%")
    }

    @Test func rolloutBucketsAreFixedAcrossRuns() {
        // FNV-1a 64 modulo 10,000, computed independently in Python: every replica, build and run must agree.
        #expect(Rollout.bucket(tenantID: "acme", orderID: "order-1") == 1317)
        #expect(Rollout.bucket(tenantID: "", orderID: "") == 7455)
    }
}
