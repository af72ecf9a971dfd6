import Foundation
public import Logging
public import MeshlineHTTP2
import MeshlineModels
public import MeshlineRPC
import Synchronization

/// `meshline.v1.DecisionService`: decides orders with the tenant's rules and
/// inventory, and publishes the exports to the export registry.
///
/// State held here: rule sets (``RuleStore``), each tenant's inventory view, and
/// the capacity ledger (orders taken per warehouse and local day by this replica).
/// Exports live only in the registry; re-evaluations find them there.
public final class DecisionService: RPCService, Sendable {
    public let rules: RuleStore
    let registry: RegistryGateway
    let clock: @Sendable () -> Int64
    let logger: Logger
    private let state = Mutex(State())

    struct State {
        var inventory: [String: InventoryView] = [:]
        var capacity = CapacityLedger()
    }

    /// - Parameters:
    ///   - registryEndpoints: the export registry's endpoints, `HOST:PORT`, used round-robin.
    ///   - clock: the decision time (`now` of every decision), in Unix milliseconds.
    public convenience init(rules: RuleStore, registryEndpoints: [String], clock: @escaping @Sendable () -> Int64, logger: Logger = Logger(label: "meshline.decision")) throws(RPCError) {
        self.init(rules: rules, registry: try RPCClient(endpoints: registryEndpoints), registryEndpoints: registryEndpoints, clock: clock, logger: logger)
    }

    /// With a client the caller configured (TLS, API key); `registryEndpoints` names it in errors.
    public init(rules: RuleStore, registry client: RPCClient, registryEndpoints: [String], clock: @escaping @Sendable () -> Int64, logger: Logger = Logger(label: "meshline.decision")) {
        self.rules = rules
        registry = RegistryGateway(client: client, endpoints: registryEndpoints)
        self.clock = clock
        self.logger = logger
    }

    /// Wall-clock time in Unix milliseconds: the `now` of decisions in production.
    public static let wallClock: @Sendable () -> Int64 = { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    /// Closes the connections to the registry.
    public func close() async {
        await registry.client.close()
    }

    public var serviceName: String { DecisionServiceDescriptor.fullName }

    public var handlers: [RPCHandler] {
        [
            .unary(DecisionServiceDescriptor.putRuleSet) { [self] (request: PutRuleSetRequest, _) in try putRuleSet(request) },
            .inlineUnary(DecisionServiceDescriptor.getRuleSet) { [self] (request: GetRuleSetRequest, _) throws(RPCError) in
                do throws(DecisionError) { return try getRuleSet(request) } catch { throw error.rpcError }
            },
            .unary(DecisionServiceDescriptor.updateInventory) { [self] (request: UpdateInventoryRequest, _) in try await updateInventory(request) },
            .unary(DecisionServiceDescriptor.decide) { [self] (request: DecideRequest, _) in try await decide(request) },
            .unary(DecisionServiceDescriptor.reevaluate) { [self] (request: ReevaluateRequest, _) in try await reevaluate(request) },
        ]
    }

    // MARK: Rule sets

    func putRuleSet(_ request: PutRuleSetRequest) throws(DecisionError) -> PutRuleSetResponse {
        let stored = try rules.put(request.ruleSet, now: clock())
        logger.info("rule set stored", metadata: ["tenant": "\(stored.tenantID)", "version": "\(stored.version)"])
        return PutRuleSetResponse(ruleSet: stored)
    }

    func getRuleSet(_ request: GetRuleSetRequest) throws(DecisionError) -> GetRuleSetResponse {
        GetRuleSetResponse(ruleSet: try rules.get(tenantID: request.tenantID, version: request.version).ruleSet)
    }

    // MARK: Decide

    func decide(_ request: DecideRequest) async throws(DecisionError) -> DecideResponse {
        let order = request.order
        guard order.tenantID == request.tenantID else {
            throw .invalid("order.tenant_id", "is '\(order.tenantID)' but the request is for tenant '\(request.tenantID)'; they must be equal", rule: "request.tenant")
        }
        let ruleSet = try rules.rules(tenantID: request.tenantID, orderID: order.orderID)
        let now = clock()
        let decide = { (inventory: InventoryView, used: (CapacityDay) -> Int64) throws(DecisionError) -> DecisionOutcome in
            try DecisionEngine.decide(order: order, rules: ruleSet, inventory: inventory, capacityUsed: used, now: now)
        }
        var outcome = try onSnapshot(tenantID: request.tenantID, orderID: order.orderID, decide)
        guard !request.dryRun else { return DecideResponse(decision: outcome.decision) }
        let counted: [CapacityClaim]
        (outcome, counted) = try claim(outcome, tenantID: request.tenantID, orderID: order.orderID, now: now, decide)
        do {
            let decision = try await publish(outcome.decision, firstExpectedVersion: 0)
            // Debug: the registry logs each export it publishes (with this trace id) at info.
            logger.debug("decided", metadata: [
                "trace_id": "\(TraceContext.current?.traceID ?? "")", "tenant": "\(request.tenantID)", "order_id": "\(order.orderID)",
                "export_ids": "\(decision.exports.map(\.exportID).joined(separator: ","))", "summary": "\(decision.explanation?.summary ?? "")",
            ])
            return DecideResponse(decision: decision)
        } catch {
            state.withLock { $0.capacity.release(tenantID: request.tenantID, orderID: order.orderID, counted) }
            throw error
        }
    }

    // MARK: Reevaluate

    func reevaluate(_ request: ReevaluateRequest) async throws(DecisionError) -> ReevaluateResponse {
        var check = Checker(base: "")
        check.identifier(request.tenantID, "tenant_id")
        check.identifier(request.exportID, "export_id")
        if request.baseVersion < 1 {
            check.fail("base_version", "is \(request.baseVersion); give the export's current version (1 or more)", rule: "request.base-version")
        }
        for (index, warehouse) in request.excludeWarehouses.prefix(DecisionLimits.maximumWarehouses).enumerated() {
            check.identifier(warehouse, "exclude_warehouses[\(index)]")
        }
        if request.excludeWarehouses.count > DecisionLimits.maximumWarehouses {
            check.fail("exclude_warehouses", "has \(request.excludeWarehouses.count) entries; use at most \(DecisionLimits.maximumWarehouses)", rule: "request.exclude-limit")
        }
        if request.detail.utf8.count > ExportLimits.maximumTextLength {
            check.fail("detail", "has \(request.detail.utf8.count) bytes; use at most \(ExportLimits.maximumTextLength)", rule: "request.detail")
        }
        guard check.violations.isEmpty else { throw .invalid(check.violations) }
        let export = try await registry.get(tenantID: request.tenantID, exportID: request.exportID)
        let decision = try await redecide(export, baseVersion: request.baseVersion, excluding: Set(request.excludeWarehouses), onlyIfRouted: false)
        logger.info("re-evaluated", metadata: [
            "trace_id": "\(TraceContext.current?.traceID ?? "")", "tenant": "\(request.tenantID)", "export_id": "\(request.exportID)",
            "cause": "\(request.cause.protoName)",
            "summary": "\(decision?.explanation?.summary ?? "")",
        ])
        // `onlyIfRouted: false` always publishes.
        return ReevaluateResponse(decision: decision)
    }

    /// Decides `export`'s order again and publishes the result as the version after
    /// `baseVersion`. A routing export's lines move together (one shipment); a
    /// backorder may become a split. With `onlyIfRouted`, a result that is still a
    /// backorder is not published and nil is returned.
    func redecide(_ export: Export, baseVersion: Int64, excluding: Set<String>, onlyIfRouted: Bool) async throws(DecisionError) -> Decision? {
        guard var order = export.order else { throw .notDecidable(exportID: export.exportID) }
        var excluded = excluding
        if [.rejected, .inException].contains(export.state), !export.warehouseID.isEmpty {
            excluded.insert(export.warehouseID)
        }
        let routing = export.kind != .backorder
        if routing {
            let quantities = Dictionary(export.lines.map { ($0.sku, $0.quantity) }, uniquingKeysWith: +)
            order.lines = order.lines.compactMap { line in quantities[line.sku].map { var line = line; line.quantity = $0; return line } }
        }
        let ruleSet = try rules.rules(tenantID: export.tenantID, orderID: order.orderID)
        let now = clock()
        let tenantID = export.tenantID
        let decide = { (inventory: InventoryView, used: (CapacityDay) -> Int64) throws(DecisionError) -> DecisionOutcome in
            try DecisionEngine.decide(
                order: order, rules: ruleSet, inventory: inventory, capacityUsed: used, now: now,
                excluding: excluded, singleShipment: routing, replacing: ReplacedExport(exportID: export.exportID, orderID: export.orderID, shipment: export.shipment))
        }
        var outcome = try onSnapshot(tenantID: tenantID, orderID: export.orderID, decide)
        if onlyIfRouted && outcome.capacity.isEmpty { return nil }
        let counted: [CapacityClaim]
        (outcome, counted) = try claim(outcome, tenantID: tenantID, orderID: export.orderID, now: now, decide)
        do {
            return try await publish(outcome.decision, firstExpectedVersion: baseVersion)
        } catch {
            state.withLock { $0.capacity.release(tenantID: tenantID, orderID: export.orderID, counted) }
            throw error
        }
    }

    /// Publishes a decision's exports side by side (a split's shipments are distinct
    /// exports); the first supersedes `firstExpectedVersion`, the others are new.
    /// Returns the decision with the exports as stored; throws the first failure by
    /// export order, after every publish has finished.
    private func publish(_ decision: Decision, firstExpectedVersion: Int64) async throws(DecisionError) -> Decision {
        let registry = self.registry
        var published = decision
        var failures: [(Int, DecisionError)] = []
        await withTaskGroup(of: (Int, Export?, DecisionError?).self) { group in
            for (index, export) in decision.exports.enumerated() {
                group.addTask {
                    do {
                        return (index, try await registry.publish(export, expectedVersion: index == 0 ? firstExpectedVersion : 0), nil)
                    } catch let error as DecisionError {
                        return (index, nil, error)
                    } catch {
                        // The publish throws DecisionError only; a cancelled task is the one other way out.
                        return (index, nil, .registry(RPCError.from(error)))
                    }
                }
            }
            for await (index, export, error) in group {
                if let export { published.exports[index] = export }
                if let error { failures.append((index, error)) }
            }
        }
        if let first = failures.min(by: { $0.0 < $1.0 }) { throw first.1 }
        return published
    }

    // MARK: Deciding on a snapshot

    /// Decides on a snapshot of the tenant's inventory and capacity, outside the lock,
    /// so that decisions run in parallel (the views are copy-on-write: a snapshot costs a reference).
    private func onSnapshot(tenantID: String, orderID: String, _ decide: (InventoryView, (CapacityDay) -> Int64) throws(DecisionError) -> DecisionOutcome) throws(DecisionError) -> DecisionOutcome {
        let (inventory, capacity) = state.withLock { ($0.inventory[tenantID] ?? InventoryView(), $0.capacity) }
        return try decide(inventory, { capacity.used(tenantID: tenantID, $0, besides: orderID) })
    }

    /// Counts a decided outcome against capacity; returns the outcome and the claims
    /// counted now. When another call took the last slot of a chosen warehouse
    /// meanwhile, decides again under the lock, where nothing can change.
    private func claim(_ outcome: DecisionOutcome, tenantID: String, orderID: String, now: Int64,
                       _ decide: (InventoryView, (CapacityDay) -> Int64) throws(DecisionError) -> DecisionOutcome) throws(DecisionError) -> (DecisionOutcome, [CapacityClaim]) {
        try state.withLock { (state) throws(DecisionError) -> (DecisionOutcome, [CapacityClaim]) in
            if let counted = state.capacity.take(tenantID: tenantID, orderID: orderID, outcome.capacity, now: now) { return (outcome, counted) }
            let capacity = state.capacity
            let again = try decide(state.inventory[tenantID] ?? InventoryView(), { capacity.used(tenantID: tenantID, $0, besides: orderID) })
            // Decided with the counts held under the lock, so every chosen day has room.
            return (again, state.capacity.take(tenantID: tenantID, orderID: orderID, again.capacity, now: now) ?? [])
        }
    }

    // MARK: Inventory

    func updateInventory(_ request: UpdateInventoryRequest) async throws(DecisionError) -> UpdateInventoryResponse {
        let violations = request.violations()
        guard violations.isEmpty else { throw .invalid(violations) }
        // Levels are held only for the warehouses the tenant's rules decide with, and for a bounded number of SKUs.
        let ruleSets = try rules.deciding(tenantID: request.tenantID)
        let unknown = request.unknownWarehouses(ruleSets)
        guard unknown.isEmpty else { throw .invalid(unknown) }
        let skus = Set(request.levels.map(\.sku))
        // Levels equal to the ones held count as current too: a retried update re-runs
        // the re-evaluations the first attempt may not have finished.
        let (applied, current) = try state.withLock { (state) throws(DecisionError) -> (Int, [InventoryLevel]) in
            // Read in one expression: a copy of the view kept alive would make the update below copy every SKU's entry.
            let (count, adding) = state.inventory[request.tenantID].map { view in
                (view.skuCount, skus.count(where: { !view.holds(sku: $0) }))
            } ?? (0, skus.count)
            if count + adding > DecisionLimits.maximumInventorySKUs {
                throw .tooManySKUs(tenantID: request.tenantID, held: count, adding: adding)
            }
            var applied = 0
            var current: [InventoryLevel] = []
            for level in request.levels {
                // In place: a copy of a tenant's view would copy every SKU's entry.
                switch state.inventory[request.tenantID, default: InventoryView()].apply(level) {
                case .applied: applied += 1; current.append(level)
                case .same: current.append(level)
                case .older: break
                }
            }
            return (applied, current)
        }
        var response = UpdateInventoryResponse(applied: Int64(applied))
        let changed = current
        guard !changed.isEmpty else { return response }
        do {
            response.reevaluatedExportIDs = try await reevaluateAfter(changed, tenantID: request.tenantID, rules: ruleSets[0])
        } catch .registryUnavailable(let endpoints, let detail) {
            throw .registryUnavailable(endpoints: endpoints, detail: "the inventory levels were applied, but the re-evaluations they trigger need the registry; send the same update again to run them: \(detail)")
        }
        return response
    }

    /// Re-decides the exports an inventory change affects, found in the registry (so
    /// exports published by any replica are found): published routing exports whose
    /// warehouse can no longer fill one of their lines, and backorders of which a
    /// line's SKU got stock somewhere. Returns the ids of the exports that got a new version.
    func reevaluateAfter(_ changed: [InventoryLevel], tenantID: String, rules ruleSet: CompiledRuleSet) async throws(DecisionError) -> [String] {
        let changedAt = Set(changed.map { "\($0.warehouseID)\u{0}\($0.sku)" })
        let restocked = Set(changed.filter { $0.onHand > 0 }.map(\.sku))
        let safety = Dictionary(ruleSet.ruleSet.warehouses.map { ($0.warehouseID, $0.safetyStock) }, uniquingKeysWith: { first, _ in first })
        var affected: [Export] = []
        for export in try await registry.list(tenantID: tenantID, kind: .routing, state: .published) {
            let view = state.withLock { $0.inventory[tenantID] ?? InventoryView() }
            let short = export.lines.contains { line in
                guard changedAt.contains("\(export.warehouseID)\u{0}\(line.sku)") else { return false }
                let onHand = view.level(warehouseID: export.warehouseID, sku: line.sku)?.onHand ?? 0
                return onHand - (safety[export.warehouseID] ?? 0) < line.quantity
            }
            if short { affected.append(export) }
        }
        if !restocked.isEmpty {
            for export in try await registry.list(tenantID: tenantID, kind: .backorder, state: .published)
            where export.lines.contains(where: { restocked.contains($0.sku) }) {
                affected.append(export)
            }
        }
        var reevaluated: [String] = []
        for export in affected {
            do throws(DecisionError) {
                if try await redecide(export, baseVersion: export.version, excluding: [], onlyIfRouted: export.kind == .backorder) != nil {
                    reevaluated.append(export.exportID)
                }
            } catch {
                // Another replica may have re-decided it first (ABORTED); the rest still get their turn.
                logger.warning("re-evaluation after an inventory change failed", metadata: ["tenant": "\(tenantID)", "export": "\(export.exportID)", "error": "\(error.rpcError)"])
            }
        }
        return reevaluated
    }
}
