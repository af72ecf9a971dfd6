import Foundation
import MeshlineDecision
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineRegistry
import MeshlineTestSupport
import Synchronization

/// A settable clock shared by the registry and the decision service.
final class TestClock: Sendable {
    private let value = Atomic<Int64>(Fixture.noon)
    var now: Int64 { value.load(ordering: .relaxed) }
    func advance(by milliseconds: Int64) { value.add(milliseconds, ordering: .relaxed) }
}

/// A real export registry (SQLite in a temporary directory) and a decision service,
/// each on a free loopback port, and clients that talk to both over our transport.
final class DecisionHarness: Sendable {
    let directory: URL
    let clock = TestClock()
    let store: SQLiteRegistryStore
    let registryServer: RPCServer
    let registry: RPCClient
    /// `127.0.0.1:PORT` of the registry.
    let registryEndpoint: String
    let service: DecisionService
    let decisionServer: RPCServer
    let decision: RPCClient

    init(registryEndpoints: [String]? = nil) async throws {
        directory = try Scripts.temporaryDirectory()
        let clock = self.clock
        store = try SQLiteRegistryStore(path: directory.appendingPathComponent("registry.sqlite").path, clock: { clock.now })
        let tenants = TenantDirectory(tenants: [Fixture.tenant: .init(serviceLevels: ["standard", "express"], keys: [:])])
        var configuration = RPCServer.Configuration()
        configuration.threads = 1
        registryServer = RPCServer(configuration: configuration, services: [ExportRegistryService(store: store, tenants: tenants, clock: { clock.now })])
        let registryPort = try await registryServer.start()
        registryEndpoint = "127.0.0.1:\(registryPort)"
        registry = try RPCClient(endpoints: [registryEndpoint])

        let rulesDirectory = directory.appendingPathComponent("rules")
        try FileManager.default.createDirectory(at: rulesDirectory, withIntermediateDirectories: true)
        service = try DecisionService(
            rules: RuleStore(directory: rulesDirectory), registryEndpoints: registryEndpoints ?? [registryEndpoint], clock: { clock.now })
        decisionServer = RPCServer(configuration: configuration, services: [service])
        decision = try RPCClient(endpoints: ["127.0.0.1:\(try await decisionServer.start())"])
    }

    func stop() async {
        await decision.close()
        await decisionServer.shutdown(gracePeriod: .seconds(1))
        await service.close()
        await registry.close()
        await registryServer.shutdown(gracePeriod: .seconds(1))
        await store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Decision service calls

    @discardableResult
    func putRules(_ rules: RuleSet) async throws(RPCError) -> RuleSet {
        let response: PutRuleSetResponse = try await decision.unary(DecisionServiceDescriptor.putRuleSet, PutRuleSetRequest(ruleSet: rules))
        return response.ruleSet!
    }

    func decide(_ order: Order, dryRun: Bool = false) async throws(RPCError) -> Decision {
        let response: DecideResponse = try await decision.unary(DecisionServiceDescriptor.decide, DecideRequest(tenantID: order.tenantID, order: order, dryRun: dryRun))
        return response.decision!
    }

    @discardableResult
    func updateInventory(_ levels: [(String, String, Int64)]) async throws(RPCError) -> UpdateInventoryResponse {
        try await decision.unary(DecisionServiceDescriptor.updateInventory, UpdateInventoryRequest(
            tenantID: Fixture.tenant, levels: levels.map { InventoryLevel(warehouseID: $0.0, sku: $0.1, onHand: $0.2, asOfUnixMs: clock.now) }))
    }

    func reevaluate(_ exportID: String, base: Int64, excluding: [String] = [], cause: ReevaluateCause = .rejection) async throws(RPCError) -> Decision {
        let response: ReevaluateResponse = try await decision.unary(DecisionServiceDescriptor.reevaluate, ReevaluateRequest(
            tenantID: Fixture.tenant, exportID: exportID, baseVersion: base, excludeWarehouses: excluding, cause: cause))
        return response.decision!
    }

    // MARK: Registry calls, as a connector makes them

    func get(_ exportID: String) async throws(RPCError) -> Export {
        let response: GetExportResponse = try await registry.unary(ExportRegistryDescriptor.get, GetExportRequest(tenantID: Fixture.tenant, exportID: exportID))
        return response.export!
    }

    func acknowledge(_ export: Export, _ outcome: AckOutcome, reason: RejectionReason = .unspecified) async throws(RPCError) -> Export {
        let response: AcknowledgeResponse = try await registry.unary(ExportRegistryDescriptor.acknowledge, AcknowledgeRequest(
            tenantID: Fixture.tenant, exportID: export.exportID, version: export.version, outcome: outcome, reason: reason,
            actor: Party(role: .thirdPartyLogistics, name: export.warehouseID.lowercased())))
        return response.export!
    }

    func list(kind: ExportKind = .unspecified) async throws(RPCError) -> [Export] {
        let response: ListExportsResponse = try await registry.unary(ExportRegistryDescriptor.list, ListExportsRequest(tenantID: Fixture.tenant, kind: kind))
        return response.exports
    }
}
