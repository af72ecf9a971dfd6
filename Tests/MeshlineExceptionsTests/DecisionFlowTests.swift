import Foundation
import Logging
import MeshlineDecision
import MeshlineExceptions
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import Testing

/// A real decision service on a free loopback port, publishing to the mesh's registry.
final class TestDecision: Sendable {
    let service: DecisionService
    let server: RPCServer
    let client: RPCClient
    let endpoint: String
    let clock: TestClock

    init(mesh: TestMesh) async throws {
        let rules = mesh.directory.appendingPathComponent("rules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: rules, withIntermediateDirectories: true)
        let clock = mesh.clock
        self.clock = clock
        var logger = Logger(label: "meshline.test.decision")
        logger.logLevel = .error
        service = try DecisionService(rules: RuleStore(directory: rules), registryEndpoints: ["127.0.0.1:\(mesh.registryPort)"], clock: { clock.now }, logger: logger)
        var configuration = RPCServer.Configuration()
        configuration.threads = 1
        server = RPCServer(configuration: configuration, services: [service])
        endpoint = "127.0.0.1:\(try await server.start())"
        client = try RPCClient(endpoints: [endpoint])
    }

    func stop() async {
        await client.close()
        await server.shutdown(gracePeriod: .seconds(1))
        await service.close()
    }

    /// Rules of tenant `acme`: WH-A (cheapest), then WH-B, both serving us-west;
    /// failed routings retry automatically, then go to `agency-ops`.
    func putRules() async throws {
        let team = Party(role: .agency, name: "fulfillment-team")
        func warehouse(_ id: String, cost: Double) -> Warehouse {
            Warehouse(
                warehouseID: id, name: id, zones: ["us-west"], timeZone: "UTC", cutoffMinuteOfDay: 23 * 60 + 59, costWeight: cost,
                operator: Party(role: .thirdPartyLogistics, name: id.lowercased()))
        }
        let rules = RuleSet(
            tenantID: TestMesh.tenant, version: "v1.0", warehouses: [warehouse("WH-A", cost: 1), warehouse("WH-B", cost: 2)],
            routing: RoutingPreferences(),
            ownership: [
                OwnershipRule(action: "route-to-warehouse", owner: team),
                OwnershipRule(action: "backorder", owner: Party(role: .merchant, name: "acme-ops")),
            ],
            serviceLevels: [ServiceLevelPolicy(serviceLevel: "standard", shipWithinDays: 2, pickWindowMinutes: 480)],
            exceptionRules: [
                ExceptionRule(
                    action: "route-to-warehouse", path: ExceptionPath(type: .autoRetry, queue: "agency-ops", contactID: "ops-oncall"),
                    escalationContacts: [
                        Contact(contactID: "ops-oncall", party: team, channel: "pager", address: "oncall", level: 1),
                        Contact(contactID: "customer-crm", party: Party(role: .merchant, name: "acme-crm"), channel: "crm", address: "crm://acme", level: 1),
                    ]),
                ExceptionRule(action: "backorder", path: ExceptionPath(type: .humanQueue, queue: "backorder", contactID: "ops-oncall")),
            ],
            ttl: TtlPolicy(ttlMs: 4 * hour, staleTTLMs: 30 * minute, freshnessLimitMs: 6 * hour))
        let _: PutRuleSetResponse = try await client.unary(DecisionServiceDescriptor.putRuleSet, PutRuleSetRequest(ruleSet: rules))
    }

    func stock(_ levels: [(String, Int64)]) async throws {
        let _: UpdateInventoryResponse = try await client.unary(DecisionServiceDescriptor.updateInventory, UpdateInventoryRequest(
            tenantID: TestMesh.tenant, levels: levels.map { InventoryLevel(warehouseID: $0.0, sku: "SKU-1", onHand: $0.1, asOfUnixMs: clock.now) }))
    }

    /// Decides a one-line order and returns the export it published.
    func decide(_ orderID: String) async throws -> Export {
        let order = Order(
            orderID: orderID, tenantID: TestMesh.tenant, placedAtUnixMs: clock.now, serviceLevel: "standard",
            shipTo: Address(name: "Pat Doe", lines: ["1 Main St"], city: "Reno", region: "NV", postalCode: "89501", country: "US"),
            zone: "us-west", lines: [OrderLine(sku: "SKU-1", quantity: 1, unitPriceMinor: 1000)], currency: "USD")
        let response: DecideResponse = try await client.unary(DecisionServiceDescriptor.decide, DecideRequest(tenantID: TestMesh.tenant, order: order))
        return try #require(response.decision?.exports.first)
    }
}

/// The router with the real decision service and registry, all over the wire.
@Suite(.serialized) struct DecisionFlowTests {
    func withDecision(_ body: (TestMesh, TestDecision, TestRouter) async throws -> Void) async throws {
        try await withMesh { mesh in
            let decision = try await TestDecision(mesh: mesh)
            let router = try await mesh.router(decision: [decision.endpoint])
            do {
                try await decision.putRules()
                try await body(mesh, decision, router)
            } catch {
                await router.stop()
                await decision.stop()
                throw error
            }
            await router.stop()
            await decision.stop()
        }
    }

    /// Runs the router's scheduler at the case's next attempt.
    func retryNow(_ mesh: TestMesh, _ router: TestRouter, _ exceptionCase: ExceptionCase) async {
        mesh.clock.advance(by: exceptionCase.nextAttemptAtUnixMs - mesh.clock.now)
        #expect(await router.scheduler.runOnce() == 1)
    }

    @Test func aRejectionIsRetriedToTheNextWarehouseWhichAccepts() async throws {
        try await withDecision { mesh, decision, router in
            try await decision.stock([("WH-A", 5), ("WH-B", 5)])
            let first = try await decision.decide("order-1")
            #expect(first.warehouseID == "WH-A")
            _ = try await mesh.reject(first.exportID, reason: .capacity)
            #expect(await mesh.deliverReports(to: router) == 1)
            let retrying = try await router.onlyCase(first.exportID)
            #expect(retrying.state == .retrying && retrying.rejectedBy == ["WH-A"])

            await retryNow(mesh, router, retrying)
            let resolved = try await router.onlyCase(first.exportID)
            let published = try await mesh.get(first.exportID)
            #expect(published.warehouseID == "WH-B" && published.version == retrying.exportVersion + 1)
            #expect(resolved.state == .resolved && resolved.attempts == 1)
            #expect(resolved.resolution == Resolution(kind: .retried, reason: "\(first.exportID)@\(published.version) routes to WH-B"))
            let accepted = try await mesh.acknowledge(first.exportID, version: published.version, .accepted)
            #expect(accepted.state == .accepted)
            #expect(try await router.notifications(count: 2).map(\.kind) == [.caseResolved])
        }
    }

    @Test func aRejectionByEveryWarehouseEscalatesToTheExportsQueue() async throws {
        try await withDecision { mesh, decision, router in
            try await decision.stock([("WH-A", 5), ("WH-B", 5)])
            let export = try await decision.decide("order-2")
            _ = try await mesh.reject(export.exportID, reason: .capacity)
            await mesh.deliverReports(to: router)
            await retryNow(mesh, router, try await router.onlyCase(export.exportID))
            #expect(try await mesh.get(export.exportID).warehouseID == "WH-B")

            // WH-B refuses too: the new case remembers WH-A, and no warehouse is left.
            _ = try await mesh.reject(export.exportID, reason: .capacity)
            await mesh.deliverReports(to: router)
            let second = try await router.onlyCase(export.exportID)
            #expect(second.state == .retrying && second.rejectedBy == ["WH-A", "WH-B"] && second.attempts == 1)
            await retryNow(mesh, router, second)
            let escalated = try await router.onlyCase(export.exportID)
            #expect(escalated.state == .queued && escalated.queue == "agency-ops" && escalated.escalationLevel == 1)
            #expect(escalated.history.last?.change.contains("every warehouse that could take it refused it (WH-A, WH-B)") == true)
            let raised = try await router.notifications(count: 3).filter { $0.kind == .escalationRaised }
            #expect(raised.map(\.caseID) == [escalated.caseID] && raised.first?.recipients.map(\.contactID).contains("ops-oncall") == true)
        }
    }

    @Test func aBackorderResolvesWhenStockArrivesWithOneCustomerNotice() async throws {
        try await withDecision { mesh, decision, router in
            try await decision.stock([("WH-A", 1), ("WH-B", 0)])
            let export = try await decision.decide("order-3")
            #expect(export.warehouseID == "WH-A")
            _ = try await mesh.reject(export.exportID, reason: .outOfStock)
            await mesh.deliverReports(to: router)
            await retryNow(mesh, router, try await router.onlyCase(export.exportID))
            // The registry reports the backorder the retry published: it belongs to the case
            // already waiting for stock, not to a second one with a second customer notice.
            #expect(await mesh.deliverReports(to: router) == 1)
            let waiting = try await router.onlyCase(export.exportID)
            let backorder = try await mesh.get(export.exportID)
            #expect(backorder.kind == .backorder)
            #expect(waiting.state == .queued && waiting.queue == "backorder")
            #expect(waiting.exportVersion == backorder.version && waiting.history.contains { $0.change.contains("v\(backorder.version) reported into this open case") })

            // Polls before stock arrives change nothing.
            mesh.clock.advance(by: minute)
            #expect(await router.scheduler.runOnce() == 1)
            #expect(try await router.onlyCase(export.exportID).state == .queued)

            // Stock arrives at WH-B (WH-A, which refused, counts none): the decision
            // service publishes a routing version.
            try await decision.stock([("WH-A", 0), ("WH-B", 3)])
            let routed = try await mesh.get(export.exportID)
            #expect(routed.kind == .routing && routed.warehouseID == "WH-B")
            mesh.clock.advance(by: minute)
            #expect(await router.scheduler.runOnce() == 1)
            let resolved = try await router.onlyCase(export.exportID)
            #expect(resolved.state == .resolved && resolved.resolution?.kind == .retried)
            let notices = try await router.notifications(count: 4).filter { $0.kind == .customerDelayNotice }
            #expect(notices.count == 1 && notices.first?.caseID == resolved.caseID)
        }
    }
}
