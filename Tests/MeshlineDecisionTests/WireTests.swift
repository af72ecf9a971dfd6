import MeshlineDecision
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import Testing

/// The product's use cases over the wire: a real registry, a real decision
/// service, our HTTP/2 transport between them and to the test.
@Suite struct WireTests {
    static let rules = Fixture.rules([
        Fixture.warehouse("WH-A", cost: 0.5, distances: ["us-west": 100]),
        Fixture.warehouse("WH-B", cost: 1.0, distances: ["us-west": 400]),
        Fixture.warehouse("WH-C", cost: 2.0, distances: ["us-west": 800]),
    ])

    /// Runs `body` with a fresh registry and decision service holding the test rules, then stops both.
    static func withHarness(_ body: (DecisionHarness) async throws -> Void) async throws {
        let harness = try await DecisionHarness()
        do {
            try await harness.putRules(rules)
            try await body(harness)
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    @Test func routingIsPublishedAndAcceptedByTheWarehouse() async throws {
        try await Self.withHarness { harness in
            try await harness.updateInventory([("WH-A", "SKU-1", 5), ("WH-B", "SKU-1", 5)])
            let decision = try await harness.decide(Fixture.order())
            let export = try #require(decision.exports.first)
            #expect(decision.exports.count == 1)
            #expect(export.warehouseID == "WH-A")
            #expect(export.version == 1)
            #expect(export.state == .published)
            #expect(export.auditTrail.first?.actor == "agency:decision-service")
            #expect(try await harness.get(export.exportID) == export)

            let accepted = try await harness.acknowledge(export, .accepted)
            #expect(accepted.state == .accepted)

            // A retried Decide (the same order, later) publishes nothing new: the first decision stands.
            harness.clock.advance(by: 1_000)
            let retried = try await harness.decide(Fixture.order())
            #expect(retried.exports.map(\.exportID) == [export.exportID])
            #expect(retried.exports.first?.version == 1)
            #expect(try await harness.list().count == 1)
        }
    }

    @Test func aRejectedExportIsReevaluatedToTheNextWarehouse() async throws {
        try await Self.withHarness { harness in
            try await harness.updateInventory([("WH-A", "SKU-1", 5), ("WH-B", "SKU-1", 5), ("WH-C", "SKU-1", 5)])
            let first = try #require(try await harness.decide(Fixture.order()).exports.first)
            #expect(first.warehouseID == "WH-A")
            let rejected = try await harness.acknowledge(first, .rejected, reason: .outOfStock)
            #expect(rejected.state == .rejected)

            // The export's own rejecting warehouse is excluded without being named.
            let decision = try await harness.reevaluate(first.exportID, base: rejected.version)
            let next = try #require(decision.exports.first)
            #expect(decision.exports.count == 1)
            #expect(next.exportID == first.exportID)
            #expect(next.warehouseID == "WH-B")
            #expect(next.version == rejected.version + 1)
            #expect(next.supersedesVersion == rejected.version)
            #expect(decision.candidate("WH-A")?.reason.hasPrefix("lost: excluded") == true)

            // The exception router names every warehouse that refused; excluding both leaves WH-C.
            let third = try await harness.reevaluate(first.exportID, base: next.version, excluding: ["WH-A", "WH-B"])
            #expect(third.exports.first?.warehouseID == "WH-C")

            // A stale base version comes back ABORTED from the registry, also when a new decision would differ.
            for base in [rejected.version, next.version] {
                do throws(RPCError) {
                    _ = try await harness.reevaluate(first.exportID, base: base)
                    Issue.record("a stale base \(base) was accepted")
                } catch {
                    #expect(error.code == .aborted, "\(error)")
                }
            }
            #expect(try await harness.get(first.exportID).version == third.exports.first?.version)
        }
    }

    @Test func noStockIsABackorderThatBecomesARoutingWhenStockArrives() async throws {
        try await Self.withHarness { harness in
            let backorder = try #require(try await harness.decide(Fixture.order(lines: [("SKU-9", 2)])).exports.first)
            #expect(backorder.kind == .backorder)
            #expect(backorder.exceptionPath?.queue == "backorder")
            #expect(backorder.owningParty == Fixture.acmeOps)
            #expect(backorder.version == 1)

            // Stock that is not enough changes nothing.
            let tooLittle = try await harness.updateInventory([("WH-B", "SKU-9", 1)])
            #expect(tooLittle.applied == 1)
            #expect(tooLittle.reevaluatedExportIDs.isEmpty)
            #expect(try await harness.get(backorder.exportID).version == 1)

            harness.clock.advance(by: 1_000)
            let arrived = try await harness.updateInventory([("WH-B", "SKU-9", 4)])
            #expect(arrived.reevaluatedExportIDs == [backorder.exportID])
            let routed = try await harness.get(backorder.exportID)
            #expect(routed.kind == .routing)
            #expect(routed.warehouseID == "WH-B")
            #expect(routed.version == 2)
            #expect(routed.supersedesVersion == 1)
            #expect(routed.owningParty == Fixture.fulfillment)
            #expect(try await harness.list().count == 1)
        }
    }

    @Test func aWarehouseThatRunsOutLosesItsPublishedExport() async throws {
        try await Self.withHarness { harness in
            try await harness.updateInventory([("WH-A", "SKU-1", 5), ("WH-B", "SKU-1", 5)])
            let first = try #require(try await harness.decide(Fixture.order(lines: [("SKU-1", 3)])).exports.first)
            #expect(first.warehouseID == "WH-A")
            harness.clock.advance(by: 1_000)
            let update = try await harness.updateInventory([("WH-A", "SKU-1", 2)])
            #expect(update.reevaluatedExportIDs == [first.exportID])
            let moved = try await harness.get(first.exportID)
            #expect(moved.warehouseID == "WH-B")
            #expect(moved.version == 2)
            // An older count never replaces a newer one.
            let stale = try await harness.decision.unary(DecisionServiceDescriptor.updateInventory, UpdateInventoryRequest(
                tenantID: Fixture.tenant, levels: [InventoryLevel(warehouseID: "WH-A", sku: "SKU-1", onHand: 50, asOfUnixMs: Fixture.noon - 1)])) as UpdateInventoryResponse
            #expect(stale.applied == 0)
        }
    }

    @Test func twoMerchantsOfOneTenantGetDifferentOwnersForTheSameAction() async throws {
        try await Self.withHarness { harness in
            try await harness.updateInventory([("WH-A", "SKU-1", 9)])
            let main = try #require(try await harness.decide(Fixture.order("order-main")).exports.first)
            let outlet = try #require(try await harness.decide(Fixture.order("order-outlet", merchant: "acme-outlet")).exports.first)
            #expect(main.intendedAction == "route-to-warehouse:WH-A")
            #expect(outlet.intendedAction == "route-to-warehouse:WH-A")
            #expect(try await harness.get(main.exportID).owningParty == Fixture.fulfillment)
            #expect(try await harness.get(outlet.exportID).owningParty == Fixture.outletDesk)
        }
    }

    @Test func aDryRunDecidesWithoutPublishing() async throws {
        try await Self.withHarness { harness in
            try await harness.updateInventory([("WH-A", "SKU-1", 9)])
            let dry = try await harness.decide(Fixture.order(), dryRun: true)
            #expect(dry.exports.first?.version == 0)
            #expect(try await harness.list().isEmpty)
            // The published decision is the dry run's, plus what the registry adds.
            let published = try await harness.decide(Fixture.order())
            var comparable = try #require(published.exports.first)
            comparable.version = 0
            comparable.state = .unspecified
            comparable.auditTrail = []
            comparable.committedAtUnixMs = 0
            #expect(comparable == dry.exports.first)
        }
    }

    @Test func ruleSetsAreValidatedAndReadBackOverTheWire() async throws {
        try await Self.withHarness { harness in
            let response: GetRuleSetResponse = try await harness.decision.unary(DecisionServiceDescriptor.getRuleSet, GetRuleSetRequest(tenantID: Fixture.tenant))
            #expect(response.ruleSet?.version == "v1.0")
            #expect(response.ruleSet?.warehouses.map(\.warehouseID) == ["WH-A", "WH-B", "WH-C"])
            var broken = Self.rules
            broken.version = "v2.0"
            broken.warehouses[0].cutoffMinuteOfDay = 1440
            broken.warehouses[1].timeZone = "Nowhere/Land"
            do throws(RPCError) {
                try await harness.putRules(broken)
                Issue.record("an invalid rule set was stored")
            } catch {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains("rule_set.warehouses[0].cutoff_minute_of_day is 1440"))
                #expect(error.message.contains("rule_set.warehouses[1].time_zone 'Nowhere/Land'"))
                let details = try #require(error.metadata.binary("grpc-status-details-bin"))
                let any = try #require(try RPCStatus(serializedBytes: details).details.first)
                let fields = try BadRequest(serializedBytes: any.value).fieldViolations.map(\.field)
                #expect(fields == ["rule_set.warehouses[0].cutoff_minute_of_day", "rule_set.warehouses[1].time_zone"])
            }
            do throws(RPCError) {
                let _: GetRuleSetResponse = try await harness.decision.unary(DecisionServiceDescriptor.getRuleSet, GetRuleSetRequest(tenantID: "globex"))
                Issue.record("an unknown tenant has rules")
            } catch {
                #expect(error.code == .notFound)
            }
        }
    }

    @Test func anUnreachableRegistryIsUnavailableNamingTheEndpoint() async throws {
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        let harness = try await DecisionHarness(registryEndpoints: ["127.0.0.1:1"])
        defer { Task { await harness.stop() } }
        try await harness.putRules(Self.rules)
        // The levels apply; the re-evaluations they trigger need the registry, so the call says to retry.
        do throws(RPCError) {
            try await harness.updateInventory([("WH-A", "SKU-1", 9)])
            Issue.record("re-evaluations ran without a registry")
        } catch {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("the inventory levels were applied"), "\(error.message)")
        }
        do throws(RPCError) {
            _ = try await harness.decide(Fixture.order())
            Issue.record("published without a registry")
        } catch {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("the export registry at 127.0.0.1:1 is unavailable"), "\(error.message)")
        }
        // A dry run needs no registry.
        #expect(try await harness.decide(Fixture.order(), dryRun: true).exports.count == 1)
    }

    @Test func aSplitOrderPublishesOneExportPerShipment() async throws {
        try await Self.withHarness { harness in
            var split = Self.rules
            split.version = "v1.1"
            split.routing = RoutingPreferences(allowSplit: true, maxShipments: 2)
            try await harness.putRules(split)
            try await harness.updateInventory([("WH-A", "SKU-1", 5), ("WH-B", "SKU-2", 5)])
            let decision = try await harness.decide(Fixture.order(lines: [("SKU-2", 1), ("SKU-1", 1)]))
            #expect(decision.decisionVersion == "v1.1")
            #expect(decision.exports.map(\.warehouseID) == ["WH-A", "WH-B"])
            #expect(decision.exports.map(\.orderID) == ["order-1", "order-1"] && decision.exports.map(\.shipment) == [1, 2])
            #expect(decision.exports.allSatisfy { $0.version == 1 && $0.state == .published })
            #expect(Set(try await harness.list(kind: .routing).map(\.exportID)) == Set(decision.exports.map(\.exportID)))
        }
    }

    /// Rules v1.2: WH-A takes two orders a day; both warehouses have plenty of SKU-1.
    static func limitWarehouseAToTwoOrdersADay(_ harness: DecisionHarness) async throws {
        var limited = Self.rules
        limited.version = "v1.2"
        limited.warehouses[0].dailyCapacity = 2
        try await harness.putRules(limited)
        try await harness.updateInventory([("WH-A", "SKU-1", 50), ("WH-B", "SKU-1", 50)])
    }

    @Test func publishedDecisionsUseUpDailyCapacityAndDryRunsDoNot() async throws {
        try await Self.withHarness { harness in
            try await Self.limitWarehouseAToTwoOrdersADay(harness)
            for index in 0..<3 {
                #expect(try await harness.decide(Fixture.order("dry-\(index)"), dryRun: true).warehouses == ["WH-A"])
            }
            var chosen: [String] = []
            for index in 0..<3 {
                chosen += try await harness.decide(Fixture.order("order-\(index)")).warehouses
            }
            #expect(chosen == ["WH-A", "WH-A", "WH-B"])
            // Deciding a counted order again does not count it twice.
            #expect(try await harness.decide(Fixture.order("order-1")).warehouses == ["WH-A"])
            // A retry that decides something else (another storefront, so another owner) is refused
            // by the registry, and does not give back the capacity the first decision holds.
            do throws(RPCError) {
                _ = try await harness.decide(Fixture.order("order-1", merchant: "acme-outlet"))
                Issue.record("a conflicting second decision was published")
            } catch {
                #expect(error.code == .failedPrecondition)
            }
            #expect(try await harness.decide(Fixture.order("order-4")).warehouses == ["WH-B"])
        }
    }

    @Test func anOrderPlacedYearsAheadIsRefusedAndLeavesTheDaysCapacityCounted() async throws {
        try await Self.withHarness { harness in
            try await Self.limitWarehouseAToTwoOrdersADay(harness)
            for index in 0..<2 {
                #expect(try await harness.decide(Fixture.order("order-\(index)")).warehouses == ["WH-A"])
            }
            // 2100-01-01 00:00 UTC: a wrong date, not a time a customer ordered at.
            do throws(RPCError) {
                _ = try await harness.decide(Fixture.order("order-2100", placedAt: 4_102_444_800_000))
                Issue.record("an order placed in 2100 was decided")
            } catch {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains("order.placed_at_unix_ms is 2100-01-01 00:00 UTC, after 2025-11-29 12:00 UTC"), "\(error.message)")
                #expect(error.message.contains("at most 1 day after the decision service's clock (2025-11-28 12:00 UTC)"), "\(error.message)")
            }
            // WH-A's two orders of the day still count, so the next one goes to WH-B.
            #expect(try await harness.decide(Fixture.order("order-2")).warehouses == ["WH-B"])
            #expect(try await harness.list().count == 3)
        }
    }

    @Test func anOrderForALaterDayElsewhereLeavesTodaysCapacityCounted() async throws {
        try await Self.withHarness { harness in
            var limited = Self.rules
            limited.version = "v1.2"
            limited.warehouses[0].dailyCapacity = 2
            // Berlin, cutoff 10:00: an order placed tomorrow at 12:00 UTC is worked there the day after tomorrow.
            limited.warehouses.append(Fixture.warehouse("WH-E", zones: ["eu"], timeZone: "Europe/Berlin", cutoff: 10 * 60))
            try await harness.putRules(limited)
            try await harness.updateInventory([("WH-A", "SKU-1", 50), ("WH-B", "SKU-1", 50), ("WH-E", "SKU-1", 50)])
            for index in 0..<2 {
                #expect(try await harness.decide(Fixture.order("order-\(index)")).warehouses == ["WH-A"])
            }
            // 23 hours ahead is within the allowed day; it claims WH-E's 2025-11-30, two days after WH-A's 2025-11-28.
            #expect(try await harness.decide(Fixture.order("order-eu", zone: "eu", placedAt: Fixture.noon + 23 * Fixture.hour)).warehouses == ["WH-E"])
            #expect(try await harness.decide(Fixture.order("order-2")).warehouses == ["WH-B"])
        }
    }

    @Test func inventoryIsTakenOnlyForTheRuleSetsWarehouses() async throws {
        try await Self.withHarness { harness in
            // Warehouse numbers up to 10,000 used to size every SKU's levels: gigabytes from a few calls.
            do throws(RPCError) {
                try await harness.updateInventory([("WH-A", "SKU-1", 5), ("WH-10000", "SKU-1", 5), ("WH-10000", "SKU-2", 5), ("WH-9999", "SKU-2", 5)])
                Issue.record("inventory for warehouses the rules do not list was taken")
            } catch {
                #expect(error.code == .invalidArgument)
                #expect(error.message.contains("levels[1].warehouse_id 'WH-10000' is not a warehouse of tenant acme's rule set v1.0"), "\(error.message)")
                let details = try #require(error.metadata.binary("grpc-status-details-bin"))
                let any = try #require(try RPCStatus(serializedBytes: details).details.first)
                #expect(try BadRequest(serializedBytes: any.value).fieldViolations.map(\.field) == ["levels[1].warehouse_id", "levels[3].warehouse_id"])
            }
            // Nothing of the refused call was applied: WH-A holds no SKU-1, so the order is a backorder.
            #expect(try await harness.decide(Fixture.order(), dryRun: true).exports.first?.kind == .backorder)
            #expect(try await harness.updateInventory([("WH-A", "SKU-1", 5)]).applied == 1)
        }
    }

    @Test func aTenantsInventoryHoldsABoundedNumberOfSKUs() async throws {
        try await Self.withHarness { harness async throws in
            let limit = DecisionLimits.maximumInventorySKUs
            for batch in stride(from: 0, to: limit, by: DecisionLimits.maximumInventoryLevels) {
                let levels = (batch..<batch + DecisionLimits.maximumInventoryLevels).map { ("WH-A", "SKU-\($0)", Int64(1)) }
                #expect(try await harness.updateInventory(levels).applied == Int64(levels.count))
            }
            do throws(RPCError) {
                try await harness.updateInventory([("WH-B", "SKU-1", 5), ("WH-B", "SKU-NEW", 5)])
                Issue.record("a SKU beyond the bound was taken")
            } catch {
                #expect(error.code == .resourceExhausted)
                #expect(error.message.contains("holds inventory for \(limit) distinct SKUs and this update adds 1 more"), "\(error.message)")
                #expect(error.message.contains("at most \(limit) SKUs per tenant, so nothing was applied"), "\(error.message)")
            }
            // Nothing was applied (WH-B has no SKU-1), and SKUs already held still take new counts.
            #expect(try await harness.decide(Fixture.order(lines: [("SKU-1", 2)]), dryRun: true).exports.first?.kind == .backorder)
            harness.clock.advance(by: 1_000)
            #expect(try await harness.updateInventory([("WH-B", "SKU-1", 5)]).applied == 1)
            #expect(try await harness.decide(Fixture.order(lines: [("SKU-1", 2)]), dryRun: true).warehouses == ["WH-B"])
        }
    }

    @Test func anExportWithoutAnOrderCannotBeDecidedAgain() async throws {
        try await Self.withHarness { harness in
            try await harness.updateInventory([("WH-A", "SKU-1", 9)])
            var export = try #require(try await harness.decide(Fixture.order(), dryRun: true).exports.first)
            export.order = nil
            let published: PublishResponse = try await harness.registry.unary(
                ExportRegistryDescriptor.publish, PublishRequest(tenantID: Fixture.tenant, export: export, idempotencyKey: "by-hand"))
            do throws(RPCError) {
                _ = try await harness.reevaluate(export.exportID, base: published.export?.version ?? 0)
                Issue.record("an export without an order was decided again")
            } catch {
                #expect(error.code == .failedPrecondition)
                #expect(error.message.contains("carries no order"))
            }
        }
    }
}
