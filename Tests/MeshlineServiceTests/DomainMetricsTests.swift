import Foundation
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineTestSupport
import Testing

/// The business metrics issue 9 asks for, scraped from the admin endpoints of the
/// real registry and router processes after real traffic: exports published,
/// refused by the QA gate (by rule), acknowledged; cases opened, retries, open
/// cases per queue with their age and SLA at risk.
@Suite(.serialized) struct DomainMetricsTests {
    typealias Mesh = MeshFaultTests

    /// Prometheus text of the admin endpoint on `port`.
    static func scrape(_ port: Int) async throws -> String {
        let fetch = "import sys, urllib.request; print(urllib.request.urlopen(f'http://127.0.0.1:{sys.argv[1]}/metrics').read().decode())"
        let result = try await Scripts.runPython(["-c", fetch, String(port)])
        #expect(result.status == 0, "\(result.output)")
        return result.output
    }

    /// The value of one series (`name{labels}` exactly as exported), nil when absent.
    static func value(_ series: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test(.timeLimit(.minutes(1)))
    func theRegistryAndTheRouterCountWhatHappensToExports() async throws {
        let directory = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let admin = ["--admin-listen", "127.0.0.1:0", "--log-level", "info"]
        let routerEndpoint = "127.0.0.1:\(try Binaries.freePort())"
        let registry = try Mesh.registry(directory, ["--exceptions", routerEndpoint] + admin)
        defer { registry.stop() }
        let decision = try Mesh.decision(directory, registry: registry.endpoint)
        defer { decision.stop() }
        // Cases due within three days count as at risk: the rules give two days to ship.
        let policy = directory.appendingPathComponent("policy.json")
        try Data("""
            {"retry": {"initial_interval_ms": 100, "maximum_attempts": 3, "jitter": false},
             "never_retry": ["INCORRECT_ADDRESS"], "escalation_delays_ms": [600000], "sla_risk_window_ms": 259200000}
            """.utf8).write(to: policy)
        let router = try Mesh.router(directory, listen: routerEndpoint, registry: registry.endpoint, decision: decision.endpoint, policy: policy.path, admin)
        defer { router.stop() }
        let registryAdmin = try await registry.loggedPort("admin_address")
        let routerAdmin = try await router.loggedPort("admin_address")
        let decisionClient = try Mesh.client([decision.endpoint])
        let registryClient = try Mesh.client([registry.endpoint])
        defer { Task { await decisionClient.close(); await registryClient.close() } }
        try await Mesh.setUpDecision(decisionClient)

        // One order rejected for capacity: retried automatically to WH-B, accepted.
        let first = try await Mesh.decide(decisionClient, "order-retried")
        try await Mesh.acknowledge(registryClient, first, .rejected)
        var rerouted: Export?
        #expect(await Mesh.eventually(20) {
            let current = try await Mesh.get(registryClient, first.exportID)
            rerouted = current.warehouseID == "WH-B" && current.state == .published ? current : nil
            return rerouted != nil
        })
        try await Mesh.acknowledge(registryClient, try #require(rerouted), .accepted)
        // Another with a wrong address: never retried, straight to the human queue.
        let second = try await Mesh.decide(decisionClient, "order-wrong-address")
        let _: AcknowledgeResponse = try await registryClient.unary(
            ExportRegistryDescriptor.acknowledge,
            AcknowledgeRequest(
                tenantID: Mesh.tenant, exportID: second.exportID, version: second.version, outcome: .rejected, reason: .incorrectAddress,
                actor: Party(role: .thirdPartyLogistics, name: "wh-a-ops")))
        // A publish the QA gate refuses: no owner, no TTL.
        var refused = try #require(rerouted)
        refused.exportID = "exp-refused"
        refused.orderID = "order-refused"
        refused.owningParty = nil
        refused.expiresAtUnixMs = 0
        await #expect(throws: RPCError.self) {
            let _: PublishResponse = try await registryClient.unary(ExportRegistryDescriptor.publish, PublishRequest(tenantID: Mesh.tenant, export: refused))
        }

        let registryMetrics = try await Self.scrape(registryAdmin)
        #expect(Self.value(#"meshline_exports_published_total{kind="routing"}"#, in: registryMetrics) == 3, "\(registryMetrics)")
        #expect(Self.value(#"meshline_qa_violations_total{rule="export.owner-required"}"#, in: registryMetrics) == 1)
        #expect(Self.value(#"meshline_qa_violations_total{rule="export.ttl-required"}"#, in: registryMetrics) == 1)
        #expect(Self.value(#"meshline_exports_acknowledged_total{outcome="rejected",reason="capacity"}"#, in: registryMetrics) == 1)
        #expect(Self.value(#"meshline_exports_acknowledged_total{outcome="rejected",reason="incorrect_address"}"#, in: registryMetrics) == 1)
        #expect(Self.value(#"meshline_exports_acknowledged_total{outcome="accepted",reason=""}"#, in: registryMetrics) == 1)

        // The gauges follow the store: one open case in agency-ops, due to ship within the window.
        let open = #"meshline_cases_open{tenant="acme",queue="agency-ops",state="queued"}"#
        var routerMetrics = ""
        #expect(await Mesh.eventually(10) {
            routerMetrics = try await Self.scrape(routerAdmin)
            return Self.value(open, in: routerMetrics) == 1
        }, "\(routerMetrics)")
        #expect(Self.value(#"meshline_cases_opened_total{kind="rejection"}"#, in: routerMetrics) == 2)
        #expect(Self.value(#"meshline_case_retries_total{result="routed"}"#, in: routerMetrics) == 1)
        #expect(Self.value(#"meshline_cases_sla_at_risk{tenant="acme",queue="agency-ops",state="queued"}"#, in: routerMetrics) == 1)
        let age = try #require(Self.value(#"meshline_cases_oldest_age_seconds{tenant="acme",queue="agency-ops",state="queued"}"#, in: routerMetrics))
        #expect(age >= 0 && age < 60)

        // The event log: one line per event with trace id, tenant and export id; never
        // the customer's name or address (every export carries the order).
        func lines(_ process: ServiceProcess, _ event: String) -> [Substring] {
            process.logText.split(separator: "\n").filter { $0.hasSuffix(" " + event) }
        }
        func carriesItsIDs(_ line: Substring, _ exportID: String) -> Bool {
            line.contains("tenant=acme") && line.contains("export_id=\(exportID)")
                && line.range(of: "trace_id=[0-9a-f]{32}", options: .regularExpression) != nil
        }
        #expect(lines(registry, "export published").count == 3)
        #expect(lines(registry, "export published").contains { carriesItsIDs($0, first.exportID) })
        #expect(lines(registry, "export acknowledged").filter { carriesItsIDs($0, second.exportID) && $0.contains("REJECTION_REASON_INCORRECT_ADDRESS") }.count == 1)
        #expect(lines(registry, "publish refused by the QA gate").contains { carriesItsIDs($0, "exp-refused") && $0.contains("export.owner-required") })
        #expect(lines(router, "case opened").contains { carriesItsIDs($0, first.exportID) && $0.contains("case_id=case-") })
        #expect(lines(router, "case retried").contains { carriesItsIDs($0, first.exportID) && $0.contains("state=CASE_STATE_RESOLVED") })
        for process in [registry, router] {
            #expect(!process.logText.contains("Pat Doe") && !process.logText.contains("1 Main St"), "personal data in the log")
        }
    }

    /// A router that keeps refusing the registry's reports (the registry's API key is for
    /// another tenant): the report stays queued and retried, each refusal is a warning
    /// line with the outbox id, attempts and code, and the admin endpoint counts it.
    @Test(.timeLimit(.minutes(1)))
    func reportsTheRouterKeepsRefusingShowOnTheRegistrysMetricsAndLog() async throws {
        let directory = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("api-keys.json").path
        let made = try await Binaries.run("meshline", ["keys", "api-key", "--keys-file", keys, "--id", "registry", "--tenant", "globex"])
        #expect(made.status == 0)
        let keyFile = directory.appendingPathComponent("registry.key")
        try Data(made.stdout.trimmingCharacters(in: .whitespacesAndNewlines).utf8).write(to: keyFile)
        let routerEndpoint = "127.0.0.1:\(try Binaries.freePort())"
        let registry = try Mesh.registry(
            directory, ["--exceptions", routerEndpoint, "--api-key-file", keyFile.path, "--admin-listen", "127.0.0.1:0", "--log-level", "info"])
        defer { registry.stop() }
        let router = try Mesh.router(
            directory, listen: routerEndpoint, registry: registry.endpoint, decision: nil, policy: try Mesh.writePolicy(directory, retryAfterMs: 100),
            ["--api-keys", keys])
        defer { router.stop() }
        let registryAdmin = try await registry.loggedPort("admin_address")
        let client = try Mesh.client([registry.endpoint])
        defer { Task { await client.close() } }

        let export = OperationsTests.export("exp-refused")
        let published: PublishResponse = try await client.unary(ExportRegistryDescriptor.publish, PublishRequest(tenantID: "acme", export: export))
        try await Mesh.acknowledge(client, try #require(published.export), .rejected)

        let refused = #"meshline_outbox_delivery_failures_total{code="PERMISSION_DENIED"}"#
        var metrics = ""
        #expect(await Mesh.eventually(20) {
            metrics = try await Self.scrape(registryAdmin)
            return (Self.value(refused, in: metrics) ?? 0) >= 2
        }, "\(metrics)")
        #expect(Self.value("meshline_outbox_pending", in: metrics) == 1, "\(metrics)")
        let lines = registry.logText.split(separator: "\n").filter { $0.contains("outbox report not delivered") }
        #expect(lines.count >= 2, "\(registry.logText)")
        #expect(lines.first.map { $0.contains("outbox_id=1") && $0.contains("attempts=1") && $0.contains("code=PERMISSION_DENIED") } == true)
        #expect(lines.contains { $0.contains("attempts=2") })
        #expect(!registry.logText.contains("may not act for tenant"), "the router's message is not logged")
    }
}
