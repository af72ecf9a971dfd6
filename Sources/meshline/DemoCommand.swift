import ArgumentParser
import Crypto
import Foundation
import MeshlineDecision
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineRegistry

/// `meshline demo`: the product's use cases, step by step, against a mesh.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Walk through Meshline's use cases on a mesh: routing, a rejection re-routed, a backorder, per-merchant owners, a signed override, reconciliation.",
        discussion: """
            Without endpoints the demo starts its own mesh (like `meshline dev`) under --data-dir and stops it at the end. \
            With --registry, --decision and --exceptions (and --key, the override key the registry trusts for tenant acme) \
            it runs against a mesh that is already up, e.g. `meshline dev` or the PostgreSQL scale-out set-up.
            """)

    @Option(name: .customLong("registry"), help: "Export registry HOST:PORT of a running mesh; repeat for replicas.")
    var registryEndpoints: [String] = []
    @Option(name: .customLong("decision"), help: "Decision service HOST:PORT of a running mesh; repeat for replicas.")
    var decisionEndpoints: [String] = []
    @Option(name: .customLong("exceptions"), help: "Exception router HOST:PORT of a running mesh; repeat for replicas.")
    var exceptionsEndpoints: [String] = []
    @Option(help: "Override key file the registry trusts for tenant acme (with a running mesh).")
    var key: String?
    @Option(help: "Where the demo's own mesh keeps its data and logs (kept afterwards).")
    var dataDir = "./meshline-demo"
    @Option(help: "Write what the demo created (export ids, case ids, counts) as JSON here, for checks.")
    var summary: String?
    @Option(help: "Order-id prefix, so that several runs against one mesh do not collide; default: a fresh one per run.")
    var runID: String?

    func run() async throws {
        try await runReporting("demo") {
            var mesh: LocalMesh?
            let endpoints: (registry: [String], decision: [String], exceptions: [String])
            let keyFile: String
            if registryEndpoints.isEmpty {
                let local = try LocalMesh(directory: URL(fileURLWithPath: dataDir).standardizedFileURL, basePort: 0)
                print("Starting the mesh (registry, decision service, exception router) under \(local.directory.path) …")
                do {
                    try await local.start()
                } catch {
                    local.stop()
                    throw error
                }
                mesh = local
                endpoints = ([local.registry], [local.decision], [local.exceptions])
                keyFile = local.keyFile.path
            } else {
                guard !decisionEndpoints.isEmpty, !exceptionsEndpoints.isEmpty, let key else {
                    throw CLIFailure.badInput("with --registry, also pass --decision, --exceptions and --key (the override key file the registry trusts)")
                }
                endpoints = (registryEndpoints, decisionEndpoints, exceptionsEndpoints)
                keyFile = key
            }
            let scenario = try DemoScenario(endpoints: endpoints, keyFile: keyFile, runID: runID ?? String(UUID().uuidString.prefix(6)).lowercased())
            do {
                let result = try await scenario.run(restart: mesh.map { "meshline dev --data-dir \($0.directory.path)" })
                if let summary { try Data(result.text().utf8).write(to: URL(fileURLWithPath: summary)) }
                await scenario.close()
                if let mesh {
                    print("\nStopping the mesh: SIGTERM drains calls and flushes storage …")
                    print(mesh.stop() ? "stopped cleanly." : "a service did not exit cleanly; see \(mesh.directory.path)/logs/")
                }
            } catch {
                await scenario.close()
                mesh?.stop()
                throw error
            }
        }
    }
}

/// The demo's steps against one mesh. Each step prints a few lines; the whole run
/// returns what it created, for the end-to-end test to check.
final class DemoScenario {
    let tenant = "acme"
    let runID: String
    let registry: RPCClient
    let decision: RPCClient
    let exceptions: RPCClient
    /// One client per decision replica: rule sets and inventory live in each replica, so both go to every one.
    let decisionReplicas: [RPCClient]
    let keyFile: String
    private var created: [JSONMember] = []
    private var step = 0

    init(endpoints: (registry: [String], decision: [String], exceptions: [String]), keyFile: String, runID: String) throws {
        func client(_ texts: [String], _ flag: String) throws -> RPCClient {
            do {
                var configuration = RPCClient.Configuration(endpoints: try texts.map { text throws(RPCError) in try RPCClient.Endpoint(parsing: text) })
                configuration.defaultTimeout = .seconds(10)
                configuration.initialBackoff = .milliseconds(50)
                configuration.maximumBackoff = .seconds(1)
                return RPCClient(configuration: configuration)
            } catch {
                throw CLIFailure.badInput("\(flag): \(error.message)")
            }
        }
        registry = try client(endpoints.registry, "--registry")
        decision = try client(endpoints.decision, "--decision")
        exceptions = try client(endpoints.exceptions, "--exceptions")
        decisionReplicas = try endpoints.decision.map { try client([$0], "--decision") }
        self.keyFile = keyFile
        self.runID = runID
    }

    func close() async {
        for client in [registry, decision, exceptions] + decisionReplicas { await client.close() }
    }

    // MARK: The story

    /// `restart`: how to bring the demo's own mesh back after it stops (nil when it runs against a mesh that stays up).
    func run(restart: String?) async throws -> JSONValue {
        let now = nowMilliseconds()
        print("""

            Meshline demo — tenant \(tenant), an apparel merchant with two storefronts (flagship, outlet),
            served by an agency; warehouses WH-NEWARK (us-east, cheapest) and WH-DALLAS (us-east, us-central).
            """)

        heading("Rules and inventory")
        let rules: PutRuleSetResponse = try await everyReplica(DecisionServiceDescriptor.putRuleSet, PutRuleSetRequest(ruleSet: try Self.ruleSet()))
        let stale = now - 8 * 3_600_000
        let inventory: UpdateInventoryResponse = try await everyReplica(DecisionServiceDescriptor.updateInventory, UpdateInventoryRequest(tenantID: tenant, levels: [
            InventoryLevel(warehouseID: "WH-NEWARK", sku: "TEE-BLK", onHand: 40, asOfUnixMs: now),
            InventoryLevel(warehouseID: "WH-DALLAS", sku: "TEE-BLK", onHand: 40, asOfUnixMs: now),
            InventoryLevel(warehouseID: "WH-NEWARK", sku: "MUG-WHT", onHand: 10, asOfUnixMs: stale),
            InventoryLevel(warehouseID: "WH-DALLAS", sku: "MUG-WHT", onHand: 10, asOfUnixMs: now),
            // No lamps anywhere (also after an earlier run against the same mesh restocked them).
            InventoryLevel(warehouseID: "WH-NEWARK", sku: "LAMP-01", onHand: 0, asOfUnixMs: now),
            InventoryLevel(warehouseID: "WH-DALLAS", sku: "LAMP-01", onHand: 0, asOfUnixMs: now),
        ]))
        say("rule set \(rules.ruleSet?.version ?? "?") put: 2 warehouses, owners per storefront, exception paths, TTL 4 h (30 min on stale stock)")
        say("inventory: \(inventory.applied) levels; WH-NEWARK's mug count is 8 hours old (stale); no lamps in stock")

        // 1. Routing accepted.
        heading("Routing accepted by a warehouse")
        let tee = try await decide(order("A-1001", merchant: "flagship", sku: "TEE-BLK", quantity: 2, promotions: ["spring-catalog"]))
        let first = try only(tee)
        say("order \(first.orderID) → \(first.exportID) v\(first.version): \(first.intendedAction), owner \(first.owningParty?.text ?? "-"), ship by \(formatTime(first.sla?.shipByUnixMs ?? 0))")
        say("why: \(tee.explanation?.summary ?? ""); packing: \(first.packingInstructions.map(\.code).joined(separator: ", "))")
        let accepted = try await acknowledge(first, .accepted, actor: "3pl:newark-ops")
        say("WH-NEWARK's connector accepts → v\(accepted.version) \(shortName(accepted.state.protoName, prefix: "EXPORT_STATE_"))")
        record("routing", first.exportID)

        // 2. Stale inventory: rejected, retried to the next warehouse.
        heading("A stale-inventory rejection re-evaluated to another warehouse")
        let mug = try await decide(order("A-1002", merchant: "flagship", sku: "MUG-WHT", quantity: 1))
        let second = try only(mug)
        let ttlMinutes = (second.expiresAtUnixMs - (second.committedAtUnixMs == 0 ? now : second.committedAtUnixMs)) / 60_000
        say("order \(second.orderID) → \(second.exportID) v\(second.version): \(second.intendedAction); stock was stale, so the TTL is \(ttlMinutes) min")
        let rejected = try await acknowledge(second, .rejected, reason: .outOfStock, actor: "3pl:newark-ops", detail: "shelf empty; the count was old")
        say("WH-NEWARK rejects it (out of stock) → v\(rejected.version); the registry hands it to the exception router")
        let rerouted = try await waitFor("the retry to publish a new version", seconds: 30) { () async throws -> Export? in
            let current = try await self.get(second.exportID)
            return current.version > rejected.version && current.warehouseID != "WH-NEWARK" && current.state == .published ? current : nil
        }
        say("the router retries: the decision service re-evaluates without WH-NEWARK → v\(rerouted.version): \(rerouted.intendedAction)")
        let rerouteAccepted = try await acknowledge(rerouted, .accepted, actor: "3pl:dallas-ops")
        let retried = try await waitFor("the rejection's case to resolve", seconds: 30) { () async throws -> ExceptionCase? in
            try await self.resolvedCase(of: second.exportID)
        }
        say("WH-DALLAS accepts → v\(rerouteAccepted.version); case \(retried.caseID) resolved (\(shortName(retried.resolution?.kind.protoName ?? "", prefix: "RESOLUTION_KIND_")) after \(retried.attempts) attempt(s))")
        record("rerouted", second.exportID)
        record("rerouted_case", retried.caseID)

        // 3. Backorder with a customer notification, resolved when stock arrives.
        heading("A backorder, a customer delay notice, and stock arriving")
        let lamp = try await decide(order("A-1003", merchant: "flagship", sku: "LAMP-01", quantity: 1))
        let backorder = try only(lamp)
        say("order \(backorder.orderID) → \(backorder.exportID) v\(backorder.version): \(backorder.intendedAction) (no warehouse has LAMP-01), queue \(backorder.exceptionPath?.queue ?? "-")")
        let notice = try await waitFor("the customer delay notice", seconds: 30) { () async throws -> NotificationEvent? in
            try await self.notifications().first { $0.exportID == backorder.exportID && $0.kind == .customerDelayNotice }
        }
        say("notification for the CRM: \(notice.message)")
        let restock: UpdateInventoryResponse = try await everyReplica(DecisionServiceDescriptor.updateInventory, UpdateInventoryRequest(tenantID: tenant, levels: [
            InventoryLevel(warehouseID: "WH-DALLAS", sku: "LAMP-01", onHand: 6, asOfUnixMs: nowMilliseconds()),
        ]))
        say("WH-DALLAS reports 6 × LAMP-01\(restock.reevaluatedExportIDs.isEmpty ? "" : " → re-evaluated: \(restock.reevaluatedExportIDs.joined(separator: ", "))")")
        let routed = try await waitFor("the backorder to become a routing", seconds: 30) { () async throws -> Export? in
            let current = try await self.get(backorder.exportID)
            return current.kind == .routing ? current : nil
        }
        say("\(routed.exportID) v\(routed.version): \(routed.intendedAction), owner \(routed.owningParty?.text ?? "-")")
        let resolved = try await waitFor("the backorder case to resolve", seconds: 30) { () async throws -> ExceptionCase? in
            try await self.resolvedCase(of: backorder.exportID)
        }
        say("case \(resolved.caseID) resolved (\(shortName(resolved.resolution?.kind.protoName ?? "", prefix: "RESOLUTION_KIND_"))); customer notices for it: \(try await notifications().filter { $0.exportID == backorder.exportID && $0.kind == .customerDelayNotice }.count)")
        record("backorder", backorder.exportID)
        record("backorder_case", resolved.caseID)

        // 4. Multi-merchant agency: the same action, different owners per storefront.
        heading("One agency, two storefronts, different owners")
        let flagship = try only(try await decide(order("B-2001", merchant: "flagship", sku: "TEE-BLK", quantity: 1)))
        let outlet = try only(try await decide(order("B-2002", merchant: "outlet", sku: "TEE-BLK", quantity: 1)))
        say("flagship \(flagship.orderID): \(flagship.intendedAction), owner \(flagship.owningParty?.text ?? "-")")
        say("outlet   \(outlet.orderID): \(outlet.intendedAction), owner \(outlet.owningParty?.text ?? "-") (the outlet runs its own desk)")
        record("flagship", flagship.exportID)
        record("outlet", outlet.exportID)

        // 5. A signed manual override.
        heading("A human changes a decision: a signed override")
        let (keyID, privateKey) = try KeyFile.load(keyFile)
        let current = try await get(first.exportID)
        var change = OverrideChange(
            tenantID: tenant, exportID: current.exportID, baseVersion: current.version, owningParty: Party(role: .merchant, name: "acme-ops"),
            justification: "VIP customer: the merchant's own team follows this order", signerKeyID: keyID, issuedAtUnixMs: nowMilliseconds(),
            nonce: UUID().uuidString)
        change.replaceWatchers = true
        change.watchers = [Party(role: .agency, name: "fulfillment-team")]
        let signed = SignedOverride(change: change, signature: Array(try privateKey.signature(for: change.signingBytes)))
        let overridden: OverrideResponse = try await call(registry, ExportRegistryDescriptor.override, OverrideRequest(override: signed))
        let entry = overridden.export?.auditTrail.last
        say("\(first.exportID) v\(overridden.export?.version ?? 0): owner \(overridden.export?.owningParty?.text ?? "-"), signed by \(entry?.override?.change.signerKeyID ?? "?") (Ed25519, \(entry?.override?.signature.count ?? 0) bytes)")
        say("audit: \(entry?.actor ?? ""): \(entry?.change ?? "")")
        record("overridden", first.exportID)

        // 6. Shipping and reconciliation.
        heading("Shipments and the SLA reconciliation")
        for exportID in [first.exportID, second.exportID] {
            let latest = try await get(exportID)
            _ = try await acknowledge(latest, .completed, actor: latest.warehouseID == "WH-DALLAS" ? "3pl:dallas-ops" : "3pl:newark-ops")
        }
        say("WH-NEWARK ships A-1001, WH-DALLAS ships A-1002")
        let report: ReconcileResponse = try await call(registry, ExportRegistryDescriptor.reconcile, ReconcileRequest(
            tenantID: tenant, fromUnixMs: now - 86_400_000, toUnixMs: nowMilliseconds() + 14 * 86_400_000))
        let total = report.report?.total ?? SlaOutcome()
        say("on time \(total.onTime), late \(total.late), open past ship-by \(total.openPastShipBy), open within SLA \(total.openWithinSLA)")
        for group in report.report?.byWarehouse ?? [] {
            say("  \(group.key): on time \(group.outcome?.onTime ?? 0), open \(group.outcome?.openWithinSLA ?? 0)")
        }

        // 7. The audit trails.
        heading("Audit trails")
        let verification = try await VerifyCommand.verifyRemote(registry, tenant: tenant)
        say(verification.breaks.isEmpty
            ? "\(verification.versions) versions of \(verification.exports.count) exports: every hash chain intact"
            : "\(verification.breaks.count) broken audit entries!")
        record("exports_verified", verification.exports.count)
        record("chain_breaks", verification.breaks.count)
        record("reconcile_on_time", Int(total.onTime))

        if let restart {
            print("\nThe demo stops its mesh at the end; `\(restart)` brings it back with this data on ports 7001-7003.")
        }
        print("""

            Where to look next:
              meshline export history \(first.exportID) --tenant \(tenant)     every version with its audit trail and signature
              meshline export watch --from-beginning --tenant \(tenant)        the stream connectors consume
              meshline reconcile --tenant \(tenant)                            SLA outcomes by owner, warehouse, service level
              README.md (the services, the CLI), SECURITY.md, BENCHMARKS.md, schema/export.schema.json
            """)
        return .object(created)
    }

    // MARK: Steps

    private func heading(_ title: String) {
        step += 1
        print("\n\(step). \(title)")
        fflush(nil)
    }

    private func say(_ line: String) {
        print("   \(line)")
        fflush(nil)
    }

    private func record(_ key: String, _ value: String) { created.append(JSONMember(key, .string(value))) }
    private func record(_ key: String, _ value: Int) { created.append(JSONMember(key, .integer(Int64(value)))) }

    private func order(_ id: String, merchant: String, sku: String, quantity: Int64, promotions: [String] = []) -> Order {
        Order(
            orderID: "\(id)-\(runID)", tenantID: tenant, merchantID: merchant, placedAtUnixMs: nowMilliseconds(), serviceLevel: "standard",
            shipTo: Address(name: "Demo Customer", lines: ["1 Example Street"], city: "Hoboken", region: "NJ", postalCode: "07030", country: "US"),
            zone: "us-east", lines: [OrderLine(sku: sku, quantity: quantity, unitPriceMinor: 2900)], promotions: promotions, currency: "USD")
    }

    private func decide(_ order: Order) async throws -> Decision {
        let response: DecideResponse = try await call(decision, DecisionServiceDescriptor.decide, DecideRequest(tenantID: tenant, order: order))
        guard let decision = response.decision else { throw CLIFailure(message: "Decide answered without a decision", status: ExitStatus.checkFailed) }
        return decision
    }

    private func only(_ decision: Decision) throws -> Export {
        guard let export = decision.exports.first else {
            throw CLIFailure(message: "the decision for \(decision.orderID) published no export", status: ExitStatus.checkFailed)
        }
        return export
    }

    private func get(_ exportID: String) async throws -> Export {
        let response: GetExportResponse = try await call(registry, ExportRegistryDescriptor.get, GetExportRequest(tenantID: tenant, exportID: exportID))
        return response.export ?? Export()
    }

    /// Acknowledges `export`; when a retried call finds its first attempt applied, returns that.
    private func acknowledge(_ export: Export, _ outcome: AckOutcome, reason: RejectionReason = .unspecified, actor: String, detail: String = "") async throws -> Export {
        let request = AcknowledgeRequest(
            tenantID: tenant, exportID: export.exportID, version: export.version, outcome: outcome, reason: reason, detail: detail,
            shippedAtUnixMs: outcome == .completed ? nowMilliseconds() : 0, actor: try Party(parsing: actor))
        do {
            let response: AcknowledgeResponse = try await call(registry, ExportRegistryDescriptor.acknowledge, request)
            return response.export ?? export
        } catch let error as RPCError where error.code == .aborted {
            // A replica went away after applying the first attempt: the version moved on with our outcome.
            let current = try await get(export.exportID)
            guard current.version == export.version + 1 else { throw error }
            return current
        }
    }

    private func resolvedCase(of exportID: String) async throws -> ExceptionCase? {
        var request = ListQueueRequest(tenantID: tenant, state: .resolved, pageSize: 1000)
        repeat {
            let page: ListQueueResponse = try await call(exceptions, ExceptionRouterDescriptor.listQueue, request)
            if let found = page.cases.first(where: { $0.exportID == exportID }) { return found }
            request.pageToken = page.nextPageToken
        } while !request.pageToken.isEmpty
        return nil
    }

    private func notifications() async throws -> [NotificationEvent] {
        // Read what is there, then stop: a short deadline ends the stream.
        var events: [NotificationEvent] = []
        do {
            let stream: ResponseStream<NotificationEvent> = try await exceptions.serverStreaming(
                ExceptionRouterDescriptor.notifications, NotificationsRequest(tenantID: tenant), timeout: .milliseconds(700))
            for try await event in stream { events.append(event) }
        } catch let error as RPCError where error.code == .deadlineExceeded {
            return events
        }
        return events
    }

    /// Sends `request` to every decision replica; a replica that is down is skipped as
    /// long as one answers. Returns the first answer that re-evaluated something, else the first.
    private func everyReplica<Request: ProtobufMessage, Response: ProtobufMessage>(_ method: RPCMethod, _ request: Request) async throws -> Response {
        var answers: [Response] = []
        var lastError: RPCError?
        for replica in decisionReplicas {
            do throws(RPCError) {
                answers.append(try await replica.unary(method, request))
            } catch {
                guard error.code == .unavailable else { throw error }
                lastError = error
            }
        }
        guard let first = answers.first else {
            throw lastError ?? RPCError(code: .unavailable, message: "no decision replica answered")
        }
        if let reevaluating = answers.first(where: { ($0 as? UpdateInventoryResponse)?.reevaluatedExportIDs.isEmpty == false }) { return reevaluating }
        return first
    }

    /// A unary call, retried while the service answers UNAVAILABLE (a replica going away).
    private func call<Request: ProtobufMessage, Response: ProtobufMessage>(_ client: RPCClient, _ method: RPCMethod, _ request: Request) async throws -> Response {
        var delay: Duration = .milliseconds(100)
        for attempt in 1...20 {
            do throws(RPCError) {
                return try await client.unary(method, request)
            } catch {
                guard error.code == .unavailable, attempt < 20 else { throw error }
            }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(1))
        }
        throw CLIFailure(message: "\(method.name) stayed unavailable", status: ExitStatus.rpc(.unavailable))
    }

    private func waitFor<T>(_ what: String, seconds: Int, _ probe: () async throws -> T?) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if let value = try await probe() { return value }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw CLIFailure(message: "waited \(seconds) s for \(what); see the services' logs", status: ExitStatus.checkFailed)
    }

    // MARK: The demo's rules

    static func ruleSet() throws -> RuleSet {
        do {
            return try RuleSetYAML.decode(rulesYAML, file: "demo-rules.yaml")
        } catch {
            throw CLIFailure(message: "the demo's rule set does not parse: \(error.rpcError.message)", status: ExitStatus.checkFailed)
        }
    }

    static let rulesYAML = """
        tenant_id: "acme"
        version: "v1.0"
        warehouses:
          - warehouse_id: "WH-NEWARK"
            name: "Newark East"
            zones: ["us-east"]
            time_zone: "America/New_York"
            cutoff: "23:30"
            daily_capacity: 0
            cost_weight: 1.0
            safety_stock: 0
            distances: {us-east: 20}
            operator: "3pl:newark-ops"
          - warehouse_id: "WH-DALLAS"
            name: "Dallas Central"
            zones: ["us-east", "us-central"]
            time_zone: "America/Chicago"
            cutoff: "23:00"
            daily_capacity: 0
            cost_weight: 1.3
            safety_stock: 0
            distances: {us-east: 2200, us-central: 250}
            operator: "3pl:dallas-ops"
        routing:
          allow_split: false
        ownership:
          - {action: "route-to-warehouse", merchant_id: "", owner: "agency:fulfillment-team", watchers: ["merchant:acme-ops"]}
          - {action: "route-to-warehouse", merchant_id: "outlet", owner: "merchant:outlet-desk", watchers: ["agency:fulfillment-team"]}
          - {action: "backorder", merchant_id: "", owner: "merchant:acme-ops", watchers: ["agency:fulfillment-team"]}
        service_levels:
          - {service_level: "standard", ship_within_days: 2, pick_window_minutes: 480}
        exception_rules:
          - action: "route-to-warehouse"
            type: "auto-retry"
            queue: "agency-ops"
            contact_id: "ops-oncall"
            escalation_contacts:
              - {contact_id: "ops-oncall", party: "agency:fulfillment-team", channel: "pager", address: "fulfillment-oncall", level: 1}
              - {contact_id: "acme-lead", party: "merchant:acme-ops", channel: "email", address: "ops@acme.example", level: 2}
          - action: "backorder"
            type: "human-queue"
            queue: "backorder"
            contact_id: "acme-lead"
            escalation_contacts:
              - {contact_id: "acme-lead", party: "merchant:acme-ops", channel: "email", address: "ops@acme.example", level: 1}
        ttl:
          ttl_ms: 14400000
          stale_ttl_ms: 1800000
          freshness_limit_ms: 21600000
        packing_rules:
          - {promotion: "spring-catalog", code: "insert:spring-catalog", text: "Add one spring catalog on top of the items.", source: "content-ops:spring"}
        """
}
