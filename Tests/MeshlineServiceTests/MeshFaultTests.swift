import Foundation
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The three real service processes wired together as `meshline dev` and
/// `scripts/scale-out` wire them: one order followed through all of them in one
/// trace, and the faults issue 9 names — `kill -9` of the decision service and of
/// the exception router under load, a registry restart under two Watch streams,
/// and rejections arriving while the router is down.
@Suite(.serialized) struct MeshFaultTests {
    static let tenant = "acme"

    // MARK: Fixtures

    /// Rules of `acme`: WH-A (cheaper) and WH-B, both serving us-west, open all day
    /// (UTC, cutoff 23:59) so that the wall clock never changes the outcome; failed
    /// routings retry automatically.
    static func ruleSet(tenant: String = tenant, version: String = "v1.0") -> RuleSet {
        let team = Party(role: .agency, name: "fulfillment-team")
        func warehouse(_ id: String, cost: Double) -> Warehouse {
            Warehouse(
                warehouseID: id, name: id, zones: ["us-west"], timeZone: "UTC", cutoffMinuteOfDay: 23 * 60 + 59, costWeight: cost,
                operator: Party(role: .thirdPartyLogistics, name: id.lowercased()))
        }
        return RuleSet(
            tenantID: tenant, version: version, warehouses: [warehouse("WH-A", cost: 1), warehouse("WH-B", cost: 2)],
            routing: RoutingPreferences(),
            ownership: [
                OwnershipRule(action: "route-to-warehouse", owner: team),
                OwnershipRule(action: "backorder", owner: Party(role: .merchant, name: "acme-ops")),
            ],
            serviceLevels: [ServiceLevelPolicy(serviceLevel: "standard", shipWithinDays: 2, pickWindowMinutes: 480)],
            exceptionRules: [
                ExceptionRule(
                    action: "route-to-warehouse", path: ExceptionPath(type: .autoRetry, queue: "agency-ops", contactID: "ops-oncall"),
                    escalationContacts: [Contact(contactID: "ops-oncall", party: team, channel: "pager", address: "oncall", level: 1)]),
                ExceptionRule(action: "backorder", path: ExceptionPath(type: .humanQueue, queue: "backorder", contactID: "ops-oncall")),
            ],
            ttl: TtlPolicy(ttlMs: 4 * 3_600_000, staleTTLMs: 30 * 60_000, freshnessLimitMs: 6 * 3_600_000))
    }

    static func order(_ id: String) -> Order {
        Order(
            orderID: id, tenantID: tenant, placedAtUnixMs: Int64(Date().timeIntervalSince1970 * 1000), serviceLevel: "standard",
            shipTo: Address(name: "Pat Doe", lines: ["1 Main St"], city: "Reno", region: "NV", postalCode: "89501", country: "US"),
            zone: "us-west", lines: [OrderLine(sku: "SKU-1", quantity: 1, unitPriceMinor: 1000)], currency: "USD")
    }

    /// A router policy whose first retry comes after `retryAfterMs`.
    static func writePolicy(_ directory: URL, retryAfterMs: Int) throws -> String {
        let path = directory.appendingPathComponent("policy-\(retryAfterMs).json")
        let policy = """
            {"retry": {"initial_interval_ms": \(retryAfterMs), "backoff_coefficient": 2.0, "maximum_interval_ms": \(max(retryAfterMs, 5000)), \
            "maximum_attempts": 4, "jitter": false},
             "escalation_delays_ms": [600000], "backorder_queue": "backorder", "backorder_poll_interval_ms": 1000, "default_queue": "agency-ops"}
            """
        try Data(policy.utf8).write(to: path)
        return path.path
    }

    /// A free loopback port, for a peer that must be named before it runs (the registry
    /// names the router, the router the registry) or must come back on the same port.
    static let common = ["--threads", "1", "--log-level", "warning", "--grace-period", "2"]

    static func registry(_ directory: URL, listen: String = "127.0.0.1:0", _ flags: [String] = []) throws -> ServiceProcess {
        try ServiceProcess("meshline-registry", ["--listen", listen, "--data-dir", directory.appendingPathComponent("registry").path] + common + flags)
    }

    static func decision(_ directory: URL, registry: String, _ flags: [String] = []) throws -> ServiceProcess {
        try ServiceProcess(
            "meshline-decision",
            ["--listen", "127.0.0.1:0", "--registry", registry, "--rules", directory.appendingPathComponent("rules").path, "--rules-refresh", "1"]
                + common + flags)
    }

    static func router(_ directory: URL, listen: String = "127.0.0.1:0", registry: String, decision: String?, policy: String, _ flags: [String] = [])
        throws -> ServiceProcess
    {
        try ServiceProcess(
            "meshline-exceptions",
            ["--listen", listen, "--data-dir", directory.appendingPathComponent("exceptions").path, "--registry", registry, "--policy", policy]
                + (decision.map { ["--decision", $0] } ?? []) + common + flags)
    }

    /// A client that reconnects quickly to a peer that comes back.
    static func client(_ endpoints: [String]) throws -> RPCClient {
        var configuration = RPCClient.Configuration(endpoints: try endpoints.map { text throws(RPCError) in try RPCClient.Endpoint(parsing: text) })
        configuration.initialBackoff = .milliseconds(50)
        configuration.maximumBackoff = .milliseconds(300)
        configuration.defaultTimeout = .seconds(10)
        return RPCClient(configuration: configuration)
    }

    static func setUpDecision(_ client: RPCClient, stock: Int64 = 1_000) async throws {
        let _: PutRuleSetResponse = try await client.unary(DecisionServiceDescriptor.putRuleSet, PutRuleSetRequest(ruleSet: ruleSet()))
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let _: UpdateInventoryResponse = try await client.unary(DecisionServiceDescriptor.updateInventory, UpdateInventoryRequest(
            tenantID: tenant, levels: ["WH-A", "WH-B"].map { InventoryLevel(warehouseID: $0, sku: "SKU-1", onHand: stock, asOfUnixMs: now) }))
    }

    static func decide(_ client: RPCClient, _ orderID: String, metadata: Metadata = Metadata()) async throws -> Export {
        let response: DecideResponse = try await client.unary(
            DecisionServiceDescriptor.decide, DecideRequest(tenantID: tenant, order: order(orderID)), metadata: metadata)
        return try #require(response.decision?.exports.first)
    }

    static func get(_ registry: RPCClient, _ exportID: String) async throws -> Export {
        let response: GetExportResponse = try await registry.unary(ExportRegistryDescriptor.get, GetExportRequest(tenantID: tenant, exportID: exportID))
        return try #require(response.export)
    }

    @discardableResult
    static func acknowledge(_ registry: RPCClient, _ export: Export, _ outcome: AckOutcome, metadata: Metadata = Metadata()) async throws -> Export {
        let response: AcknowledgeResponse = try await registry.unary(
            ExportRegistryDescriptor.acknowledge,
            AcknowledgeRequest(
                tenantID: tenant, exportID: export.exportID, version: export.version, outcome: outcome,
                reason: outcome == .rejected ? .capacity : .unspecified, actor: Party(role: .thirdPartyLogistics, name: "wh-a-ops")),
            metadata: metadata)
        return try #require(response.export)
    }

    /// Every case of the tenant, through every page.
    static func cases(_ router: RPCClient) async throws -> [ExceptionCase] {
        var all: [ExceptionCase] = []
        var token = ""
        repeat {
            let page: ListQueueResponse = try await router.unary(
                ExceptionRouterDescriptor.listQueue, ListQueueRequest(tenantID: tenant, pageSize: 100, pageToken: token))
            all += page.cases
            token = page.nextPageToken
        } while !token.isEmpty
        return all
    }

    /// Polls `condition` every 100 ms for up to `seconds`; returns whether it held.
    static func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? await condition()) == true { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return (try? await condition()) == true
    }

    // MARK: One order, one trace

    struct SpanRecord: Decodable {
        let trace_id: String
        let span_id: String
        let parent_span_id: String
        let name: String
        let service: String
    }

    @Test(.timeLimit(.minutes(1)))
    func oneOrderThroughAllThreeServicesIsOneTrace() async throws {
        let directory = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let received = directory.appendingPathComponent("otlp")
        let collector = try Scripts.PythonServer(["Tests/Interop/otlp_collector.py", received.path])
        defer { collector.stop() }
        let tracing = ["--otlp-endpoint", "http://127.0.0.1:\(collector.port)", "--trace-sample-rate", "1"]

        let routerEndpoint = "127.0.0.1:\(try Binaries.freePort())"
        let registry = try Self.registry(directory, ["--exceptions", routerEndpoint] + tracing)
        let decision = try Self.decision(directory, registry: registry.endpoint, tracing)
        let router = try Self.router(
            directory, listen: routerEndpoint, registry: registry.endpoint, decision: decision.endpoint,
            policy: try Self.writePolicy(directory, retryAfterMs: 200), tracing)
        let decisionClient = try Self.client([decision.endpoint])
        let registryClient = try Self.client([registry.endpoint])

        try await Self.setUpDecision(decisionClient)
        let traceID = "7f3a9c1e5b2d4f60a1b2c3d4e5f60718"
        let clientSpan = "0123456789abcdef"
        let traced = Metadata([("traceparent", "00-\(traceID)-\(clientSpan)-01")])
        let first = try await Self.decide(decisionClient, "order-traced", metadata: traced)
        #expect(first.warehouseID == "WH-A" && first.version == 1)
        // WH-A's connector refuses it, in the same trace; the registry hands the
        // rejection to the router, which asks the decision service to re-evaluate.
        let rejected = try await Self.acknowledge(registryClient, first, .rejected, metadata: traced)
        var rerouted: Export?
        #expect(await Self.eventually(20) {
            let current = try await Self.get(registryClient, first.exportID)
            if current.warehouseID == "WH-B" && current.state == .published { rerouted = current }
            return rerouted != nil
        }, "the router never re-routed \(first.exportID)")
        let retried = try #require(rerouted)
        #expect(retried.version == rejected.version + 1)
        let accepted = try await Self.acknowledge(registryClient, retried, .accepted, metadata: traced)
        #expect(accepted.state == .accepted)
        let history: HistoryResponse = try await registryClient.unary(
            ExportRegistryDescriptor.history, HistoryRequest(tenantID: Self.tenant, exportID: first.exportID))
        await decisionClient.close()
        await registryClient.close()
        // SIGTERM flushes each service's span batch.
        #expect(router.stop() == 0)
        #expect(decision.stop() == 0)
        #expect(registry.stop() == 0)

        let decoded = try await Scripts.runPython(["Tests/Interop/otlp_spans.py", received.path])
        #expect(decoded.status == 0, "\(decoded.output)")
        let spans = try decoded.output.split(separator: "\n").filter { $0.hasPrefix("{") }.map {
            try JSONDecoder().decode(SpanRecord.self, from: Data($0.utf8))
        }
        let inTrace = spans.filter { $0.trace_id == traceID }
        let names = Set(inTrace.map(\.name))
        for expected in [
            "/meshline.v1.DecisionService/Decide", "/meshline.v1.ExportRegistry/Publish", "registry.storage.append",
            "/meshline.v1.ExportRegistry/Acknowledge",
        ] {
            #expect(names.contains(expected), "no \(expected) span in trace \(traceID); spans: \(spans.map { "\($0.service) \($0.name) \($0.trace_id)" })")
        }
        // Parent links: the client's span -> Decide -> Publish -> storage append.
        let decide = try #require(inTrace.first { $0.name == "/meshline.v1.DecisionService/Decide" })
        #expect(decide.parent_span_id == clientSpan && decide.service == "meshline.decision")
        let publish = try #require(inTrace.first { $0.name == "/meshline.v1.ExportRegistry/Publish" && $0.parent_span_id == decide.span_id })
        #expect(publish.service == "meshline.registry")
        #expect(inTrace.contains { $0.name == "registry.storage.append" && $0.parent_span_id == publish.span_id })
        // The audit entries of the calls made in the trace carry its id, the retried version's too.
        let entries = history.versions.flatMap(\.auditTrail)
        #expect(entries.first { $0.version == 1 }?.traceID == traceID)
        #expect(entries.first { $0.version == rejected.version }?.traceID == traceID)
        #expect(entries.first { $0.version == accepted.version }?.traceID == traceID)
        #expect(entries.first { $0.version == retried.version }?.traceID == traceID)

        // The rejection continues through the registry's outbox into the router, the
        // router's retry, the re-evaluation and the version it publishes.
        let acknowledge = try #require(inTrace.first { $0.name == "/meshline.v1.ExportRegistry/Acknowledge" && $0.parent_span_id == clientSpan })
        let deliver = try #require(inTrace.first { $0.name == "registry.outbox.deliver" }, "no outbox delivery in trace \(traceID)")
        #expect(deliver.parent_span_id == acknowledge.span_id && deliver.service == "meshline.registry")
        let report = try #require(inTrace.first { $0.name == "/meshline.v1.ExceptionRouter/Report" })
        #expect(report.parent_span_id == deliver.span_id && report.service == "meshline.exceptions")
        let retry = try #require(inTrace.first { $0.name == "exceptions.retry" }, "no retry span in trace \(traceID)")
        #expect(retry.parent_span_id == report.span_id && retry.service == "meshline.exceptions")
        let reevaluate = try #require(inTrace.first { $0.name == "/meshline.v1.DecisionService/Reevaluate" })
        #expect(reevaluate.parent_span_id == retry.span_id && reevaluate.service == "meshline.decision")
        #expect(inTrace.contains { $0.name == "/meshline.v1.ExportRegistry/Publish" && $0.parent_span_id == reevaluate.span_id })
        #expect(Set(inTrace.map(\.service)) == ["meshline.registry", "meshline.decision", "meshline.exceptions"])
    }

    // MARK: kill -9 under load

    @Test(.timeLimit(.minutes(1)))
    func theDecisionServiceLosesNoRuleSetItAcknowledgedToAKill9() async throws {
        let directory = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let registry = try Self.registry(directory)
        defer { registry.stop() }
        let first = try Self.decision(directory, registry: registry.endpoint)
        let client = try Self.client([first.endpoint])
        try await Self.setUpDecision(client)
        let acknowledged = Acknowledged()
        // Writers put rule sets (each a new tenant, so that an answered put names
        // exactly what must be served) and decide orders, until the process dies.
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        var index = 0
                        while !Task.isCancelled {
                            index += 1
                            let tenant = "t\(worker)x\(index)"
                            do {
                                let _: PutRuleSetResponse = try await client.unary(
                                    DecisionServiceDescriptor.putRuleSet, PutRuleSetRequest(ruleSet: Self.ruleSet(tenant: tenant, version: "v\(index).0")),
                                    timeout: .seconds(5))
                                acknowledged.add(tenant)
                                _ = try await Self.decide(client, "order-\(worker)-\(index)")
                            } catch {
                                if acknowledged.count > 0 { return }
                            }
                        }
                    }
                }
            }
        }
        while acknowledged.count < 40 { try await Task.sleep(for: .milliseconds(1)) }
        first.kill9()
        load.cancel()
        await load.value
        await client.close()
        let put = acknowledged.all

        let second = try Self.decision(directory, registry: registry.endpoint)
        let reader = try Self.client([second.endpoint])
        var missing: [String] = []
        for tenant in put {
            let index = tenant.split(separator: "x").last.map(String.init) ?? ""
            let response: GetRuleSetResponse? = try? await reader.unary(DecisionServiceDescriptor.getRuleSet, GetRuleSetRequest(tenantID: tenant))
            if response?.ruleSet?.version != "v\(index).0" { missing.append(tenant) }
        }
        #expect(missing.isEmpty, "\(missing.count) of \(put.count) acknowledged rule sets are not served after the restart: \(missing.prefix(5))")
        // And it decides with them.
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let _: UpdateInventoryResponse = try await reader.unary(DecisionServiceDescriptor.updateInventory, UpdateInventoryRequest(
            tenantID: Self.tenant, levels: [InventoryLevel(warehouseID: "WH-A", sku: "SKU-1", onHand: 5, asOfUnixMs: now)]))
        #expect(try await Self.decide(reader, "order-after-restart").warehouseID == "WH-A")
        await reader.close()
        #expect(second.stop() == 0)
    }

    @Test(.timeLimit(.minutes(1)))
    func theRouterLosesNoReportedCaseToAKill9AndStillRetriesIt() async throws {
        let directory = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // The registry names no router: this test hands the reports to it itself, under load.
        let registry = try Self.registry(directory)
        defer { registry.stop() }
        let decision = try Self.decision(directory, registry: registry.endpoint)
        defer { decision.stop() }
        let registryClient = try Self.client([registry.endpoint])
        let decisionClient = try Self.client([decision.endpoint])
        try await Self.setUpDecision(decisionClient)
        var rejected: [Export] = []
        for index in 0..<80 {
            let export = try await Self.decide(decisionClient, "order-k\(index)")
            rejected.append(try await Self.acknowledge(registryClient, export, .rejected))
        }
        await decisionClient.close()

        // The first retry is due 4 s after a report: after the kill and the restart.
        let policy = try Self.writePolicy(directory, retryAfterMs: 4000)
        let first = try Self.router(directory, registry: registry.endpoint, decision: decision.endpoint, policy: policy)
        let client = try Self.client([first.endpoint])
        let acknowledged = Acknowledged()
        let queue = Pending(rejected)
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        while !Task.isCancelled, let export = queue.pop() {
                            let report = ReportRequest(
                                tenantID: Self.tenant, exportID: export.exportID, exportVersion: export.version, kind: .rejection, reason: .capacity)
                            do {
                                let _: ReportResponse = try await client.unary(ExceptionRouterDescriptor.report, report, timeout: .seconds(5))
                                acknowledged.add(export.exportID)
                            } catch {
                                if acknowledged.count > 0 { return }
                            }
                        }
                    }
                }
            }
        }
        while acknowledged.count < 10 { try await Task.sleep(for: .milliseconds(1)) }
        first.kill9()
        load.cancel()
        await load.value
        await client.close()
        let reported = Set(acknowledged.all)
        #expect(reported.count < rejected.count, "the kill came after every report; the test proves less than it should")

        let second = try Self.router(directory, registry: registry.endpoint, decision: decision.endpoint, policy: policy)
        defer { second.stop() }
        let reader = try Self.client([second.endpoint])
        let cases = try await Self.cases(reader)
        let byExport = Dictionary(grouping: cases, by: \.exportID)
        let lost = reported.filter { byExport[$0] == nil }
        #expect(lost.isEmpty, "\(lost.count) of \(reported.count) acknowledged reports have no case after the restart: \(lost.prefix(5))")
        #expect(byExport.values.allSatisfy { $0.count == 1 }, "a report opened more than one case")

        // The restarted router still works each case: every reported export is re-routed to WH-B.
        var pending = reported
        #expect(await Self.eventually(30) {
            for exportID in pending where try await Self.get(registryClient, exportID).warehouseID == "WH-B" { pending.remove(exportID) }
            return pending.isEmpty
        }, "\(pending.count) reported exports were never retried after the restart: \(pending.prefix(5))")
        #expect(await Self.eventually(10) {
            try await Self.cases(reader).filter { reported.contains($0.exportID) }.allSatisfy { $0.state == .resolved }
        })
        await reader.close()
        await registryClient.close()
    }

    // MARK: Watchers across a registry restart

    /// A Watch consumer that reconnects from its last cursor whenever the stream ends.
    final class Watcher: Sendable {
        private let received = Mutex<[String]>([])
        private let cursor = Mutex("")
        private let task = Mutex<Task<Void, Never>?>(nil)

        var events: [String] { received.withLock { $0 } }

        init(endpoint: String) throws {
            let client = try MeshFaultTests.client([endpoint])
            let started = Task { [self] in
                while !Task.isCancelled {
                    let resume = self.cursor.withLock { $0 }
                    do {
                        let stream: ResponseStream<WatchEvent> = try await client.serverStreaming(
                            ExportRegistryDescriptor.watch, WatchRequest(tenantID: MeshFaultTests.tenant, cursor: resume, fromBeginning: resume.isEmpty),
                            timeout: .seconds(120))
                        for try await event in stream {
                            self.received.withLock { $0.append("\(event.export?.exportID ?? "?")@\(event.export?.version ?? 0)") }
                            self.cursor.withLock { $0 = event.cursor }
                        }
                    } catch {}
                    try? await Task.sleep(for: .milliseconds(100))
                }
                await client.close()
            }
            task.withLock { $0 = started }
        }

        func stop() async {
            let running = task.withLock { $0 }
            running?.cancel()
            await running?.value
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func watchersResumeFromTheirCursorAcrossARegistryRestart() async throws {
        let directory = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let listen = "127.0.0.1:\(try Binaries.freePort())"
        var registry = try Self.registry(directory, listen: listen)
        let watchers = try [Watcher(endpoint: listen), Watcher(endpoint: listen)]
        let publisher = try Self.client([listen])
        var expected: [String] = []
        func publish(_ range: Range<Int>) async throws {
            for index in range {
                let id = "exp-w\(index)"
                let response: PublishResponse = try await publisher.unary(
                    ExportRegistryDescriptor.publish, PublishRequest(tenantID: Self.tenant, export: OperationsTests.export(id), idempotencyKey: id))
                expected.append("\(id)@\(response.export?.version ?? 0)")
            }
        }
        try await publish(0..<20)
        #expect(await Self.eventually(15) { watchers.allSatisfy { $0.events.count >= 20 } })
        // A restart while both streams are connected; the watchers come back on their own.
        #expect(registry.stop() == 0)
        registry = try Self.registry(directory, listen: listen)
        try await publish(20..<40)
        #expect(await Self.eventually(20) { watchers.allSatisfy { $0.events.count >= 40 } })
        try await Task.sleep(for: .milliseconds(300))  // room for a duplicate to show up
        for (index, watcher) in watchers.enumerated() {
            #expect(watcher.events == expected, "watcher \(index) got \(watcher.events.count) events, not every version exactly once in commit order")
        }
        for watcher in watchers { await watcher.stop() }
        await publisher.close()
        #expect(registry.stop() == 0)
    }

    // MARK: The router down while rejections arrive

    @Test(.timeLimit(.minutes(1)))
    func rejectionsArrivingWhileTheRouterIsDownAreDeliveredOnceWhenItReturns() async throws {
        let directory = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let routerEndpoint = "127.0.0.1:\(try Binaries.freePort())"
        let registry = try Self.registry(directory, ["--exceptions", routerEndpoint])
        defer { registry.stop() }
        let client = try Self.client([registry.endpoint])
        var rejected: [String: Int64] = [:]
        for index in 0..<10 {
            let id = "exp-d\(index)"
            let response: PublishResponse = try await client.unary(
                ExportRegistryDescriptor.publish, PublishRequest(tenantID: Self.tenant, export: OperationsTests.export(id), idempotencyKey: id))
            rejected[id] = try await Self.acknowledge(client, try #require(response.export), .rejected).version
        }
        // The registry tries to deliver and finds nobody for a while.
        try await Task.sleep(for: .seconds(2))

        // Long retries: the cases stay as the reports opened them.
        let router = try Self.router(
            directory, listen: routerEndpoint, registry: registry.endpoint, decision: nil, policy: try Self.writePolicy(directory, retryAfterMs: 600_000))
        defer { router.stop() }
        let reader = try Self.client([router.endpoint])
        #expect(await Self.eventually(30) { Set(try await Self.cases(reader).map(\.exportID)) == Set(rejected.keys) },
                "the queued rejections were not delivered when the router came back")
        try await Task.sleep(for: .seconds(2))  // further delivery rounds must add nothing
        let cases = try await Self.cases(reader)
        #expect(cases.count == rejected.count, "\(cases.count) cases for \(rejected.count) rejections")
        for exceptionCase in cases {
            #expect(exceptionCase.exportVersion == rejected[exceptionCase.exportID] && exceptionCase.kind == .rejection && exceptionCase.reason == .capacity)
        }
        await reader.close()
        await client.close()
    }
}

extension MeshFaultTests {
/// What the services answered OK, shared with the load tasks.
final class Acknowledged: Sendable {
    private let ids = Mutex<[String]>([])
    func add(_ id: String) { ids.withLock { $0.append(id) } }
    var count: Int { ids.withLock { $0.count } }
    var all: [String] { ids.withLock { $0 } }
}

/// Exports still to report, shared with the load tasks.
final class Pending: Sendable {
    private let exports: Mutex<[Export]>
    init(_ exports: [Export]) { self.exports = Mutex(exports) }
    func pop() -> Export? { exports.withLock { $0.popLast() } }
}
}
