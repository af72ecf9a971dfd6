import Foundation
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineTestSupport
import Testing

/// What every service process gets from MeshlineService, checked on the real
/// `meshline-registry` executable: API keys and tenant scoping, rate limits, the
/// admin endpoint's metrics, trace ids in audit entries, and spans over OTLP.
@Suite(.serialized) struct OperationsTests {
    static let now = Int64(Date().timeIntervalSince1970 * 1000)

    static func export(_ id: String, tenant: String = "acme") -> Export {
        let hour: Int64 = 3_600_000
        return Export(
            exportID: id, tenantID: tenant, orderID: "order-\(id)", kind: .routing,
            owningParty: Party(role: .agency, name: "fulfillment-team"), decisionVersion: "v3.1", intendedAction: "route-to-warehouse:WH-A",
            sla: Sla(shipByUnixMs: now + 24 * hour, pickWindow: PickWindow(startUnixMs: now + hour, endUnixMs: now + 2 * hour), serviceLevel: "standard"),
            expiresAtUnixMs: now + hour, exceptionPath: ExceptionPath(type: .autoRetry, queue: "agency-ops"), warehouseID: "WH-A",
            lines: [ExportLine(sku: "SKU-1", quantity: 1)])
    }

    /// A registry process with `flags`, in a temporary data directory.
    static func registry(_ directory: URL, _ flags: [String]) throws -> ServiceProcess {
        try ServiceProcess("meshline-registry", ["--listen", "127.0.0.1:0", "--data-dir", directory.appendingPathComponent("data").path, "--threads", "1"] + flags)
    }

    static func client(_ endpoint: String, key: String?) throws -> RPCClient {
        var configuration = RPCClient.Configuration(endpoints: [try RPCClient.Endpoint(parsing: endpoint)])
        if let key { configuration.defaultMetadata.add("authorization", "Bearer \(key)") }
        return RPCClient(configuration: configuration)
    }

    static func code(_ body: () async throws -> Void) async -> StatusCode? {
        do {
            try await body()
            return .ok
        } catch let error as RPCError {
            return error.code
        } catch {
            return nil
        }
    }

    @Test func apiKeysAuthenticateAndScopeEveryCallToTheKeysTenants() async throws {
        let directory = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = directory.appendingPathComponent("api-keys.json").path
        let acmeKey = try await Binaries.run("meshline", ["keys", "api-key", "--keys-file", keys, "--id", "acme-connector", "--tenant", "acme"])
        let meshKey = try await Binaries.run("meshline", ["keys", "api-key", "--keys-file", keys, "--id", "decision", "--tenant", "*"])
        #expect(acmeKey.status == 0 && meshKey.status == 0)
        let acme = acmeKey.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let mesh = meshKey.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!(try String(contentsOfFile: keys, encoding: .utf8)).contains(acme), "the keys file must hold hashes only")

        let registry = try Self.registry(directory, ["--api-keys", keys])
        defer { registry.stop() }
        let anonymous = try Self.client(registry.endpoint, key: nil)
        let wrong = try Self.client(registry.endpoint, key: "mlk_guessed")
        let connector = try Self.client(registry.endpoint, key: acme)
        let service = try Self.client(registry.endpoint, key: mesh)
        defer { Task { for client in [anonymous, wrong, connector, service] { await client.close() } } }

        func publish(_ client: RPCClient, _ id: String, tenant: String) async -> StatusCode? {
            await Self.code {
                let _: PublishResponse = try await client.unary(ExportRegistryDescriptor.publish, PublishRequest(tenantID: tenant, export: Self.export(id, tenant: tenant)))
            }
        }
        #expect(await publish(anonymous, "exp-a", tenant: "acme") == .unauthenticated)
        #expect(await publish(wrong, "exp-a", tenant: "acme") == .unauthenticated)
        #expect(await publish(connector, "exp-a", tenant: "acme") == .ok)
        // Another tenant's data, by field or by a deeper path: refused for the connector's key.
        #expect(await publish(connector, "exp-g", tenant: "globex") == .permissionDenied)
        #expect(await Self.code {
            let _: GetExportResponse = try await connector.unary(ExportRegistryDescriptor.get, GetExportRequest(tenantID: "globex", exportID: "exp-a"))
        } == .permissionDenied)
        #expect(await Self.code {
            let change = OverrideChange(tenantID: "globex", exportID: "exp-a", baseVersion: 1, justification: "x", signerKeyID: "k", issuedAtUnixMs: Self.now, nonce: "n")
            let _: OverrideResponse = try await connector.unary(ExportRegistryDescriptor.override, OverrideRequest(override: SignedOverride(change: change, signature: [])))
        } == .permissionDenied)
        // A mesh service's key acts for every tenant; health needs no key.
        #expect(await publish(service, "exp-g", tenant: "globex") == .ok)
        #expect(await Self.code {
            let _: HealthCheckResponse = try await anonymous.unary(HealthDescriptor.check, HealthCheckRequest())
        } == .ok)
        #expect(!registry.logText.contains(acme) && !registry.logText.contains(mesh), "API keys must never be logged")
    }

    @Test func aTenantOverItsRateIsRefusedWhileOthersGoOn() async throws {
        let directory = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let registry = try Self.registry(directory, ["--tenant-rate", "2"])
        defer { registry.stop() }
        let client = try Self.client(registry.endpoint, key: nil)
        defer { Task { await client.close() } }
        // 100 calls at once against 2 calls per second (a burst of 2): however slowly a loaded
        // machine delivers them, most are refused, and the first ones pass.
        let started = ContinuousClock.now
        let codes = await withTaskGroup(of: StatusCode?.self) { group in
            for _ in 0..<100 {
                group.addTask {
                    await Self.code {
                        let _: ListExportsResponse = try await client.unary(ExportRegistryDescriptor.list, ListExportsRequest(tenantID: "busy"))
                    }
                }
            }
            return await group.reduce(into: [StatusCode?]()) { $0.append($1) }
        }
        let seconds = Double((ContinuousClock.now - started).components.seconds) + 1
        let passed = codes.filter { $0 == .ok }.count
        #expect(passed >= 2 && Double(passed) <= 2 + 2 * seconds, "\(passed) of 100 passed in about \(seconds) s")
        #expect(codes.filter { $0 == .resourceExhausted }.count == 100 - passed, "\(codes)")
        #expect(await Self.code {
            let _: ListExportsResponse = try await client.unary(ExportRegistryDescriptor.list, ListExportsRequest(tenantID: "quiet"))
        } == .ok)
    }

    @Test func theAdminEndpointServesMetricsAndReadiness() async throws {
        let directory = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let registry = try Self.registry(directory, ["--admin-listen", "127.0.0.1:0"])
        defer { registry.stop() }
        let adminPort = try await registry.loggedPort("admin_address")
        let client = try Self.client(registry.endpoint, key: nil)
        defer { Task { await client.close() } }
        let _: PublishResponse = try await client.unary(ExportRegistryDescriptor.publish, PublishRequest(tenantID: "acme", export: Self.export("exp-m")))
        #expect(await Self.code {
            let _: GetExportResponse = try await client.unary(ExportRegistryDescriptor.get, GetExportRequest(tenantID: "acme", exportID: "nope"))
        } == .notFound)

        let fetch = """
            import sys, urllib.request, urllib.error
            for path in sys.argv[2:]:
                try:
                    response = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}{path}")
                    print(path, response.status); print(response.read().decode())
                except urllib.error.HTTPError as error:
                    print(path, error.code)
            """
        let scraped = try await Scripts.runPython(["-c", fetch, String(adminPort), "/metrics", "/readyz", "/healthz", "/nope"])
        #expect(scraped.output.contains(#"meshline_rpc_calls_total{method="/meshline.v1.ExportRegistry/Publish",code="OK"} 1"#), "\(scraped.output)")
        #expect(scraped.output.contains(#"meshline_rpc_calls_total{method="/meshline.v1.ExportRegistry/Get",code="NOT_FOUND"} 1"#))
        #expect(scraped.output.contains(#"meshline_rpc_duration_seconds_count{method="/meshline.v1.ExportRegistry/Publish"} 1"#))
        #expect(scraped.output.contains("/readyz 200") && scraped.output.contains("/healthz 200") && scraped.output.contains("/nope 404"))
    }

    @Test func theAdminEndpointAnswersDrainingWhileCallsFinishAfterSIGTERM() async throws {
        let directory = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let registry = try Self.registry(directory, ["--admin-listen", "127.0.0.1:0", "--grace-period", "10"])
        defer { registry.stop() }
        let adminPort = try await registry.loggedPort("admin_address")
        let client = try Self.client(registry.endpoint, key: nil)
        let _: PublishResponse = try await client.unary(ExportRegistryDescriptor.publish, PublishRequest(tenantID: "acme", export: Self.export("exp-d")))
        // An open Watch keeps the drain going until it is dropped, before the client closes.
        do {
            let watch = try await client.serverStreaming(ExportRegistryDescriptor.watch, WatchRequest(tenantID: "acme", fromBeginning: true), as: WatchEvent.self)
            var events = watch.makeAsyncIterator()
            #expect(try await events.next() != nil)

            registry.process.terminate()  // SIGTERM
            let probe = """
                import sys, time, urllib.request, urllib.error
                def get(path):
                    try:
                        return urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}{path}", timeout=2).status
                    except urllib.error.HTTPError as error:
                        return error.code
                    except OSError:
                        return "refused"
                deadline = time.monotonic() + 5
                ready = get("/readyz")
                while ready == 200 and time.monotonic() < deadline:
                    time.sleep(0.05)
                    ready = get("/readyz")
                print("/readyz", ready)
                print("/healthz", get("/healthz"))
                """
            let probed = try await Scripts.runPython(["-c", probe, String(adminPort)])
            #expect(probed.output.contains("/readyz 503") && probed.output.contains("/healthz 200"), "\(probed.output)")
        }
        await client.close()
        #expect(registry.stop() == 0)
    }

    @Test func everyAuditEntryCarriesTheTraceOfTheCallThatMadeIt() async throws {
        let directory = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let registry = try Self.registry(directory, [])
        defer { registry.stop() }
        let client = try Self.client(registry.endpoint, key: nil)
        defer { Task { await client.close() } }
        let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
        let traced: PublishResponse = try await client.unary(
            ExportRegistryDescriptor.publish, PublishRequest(tenantID: "acme", export: Self.export("exp-t1")),
            metadata: Metadata([("traceparent", "00-\(traceID)-00f067aa0ba902b7-01")]))
        #expect(traced.export?.auditTrail.last?.traceID == traceID)

        // A call inside a trace (as a service makes it) sends that trace on.
        let parent = TraceContext(traceID: "0af7651916cd43dd8448eb211c80319c", spanID: "b7ad6b7169203331", parentSpanID: nil, sampled: false)
        let inner: PublishResponse = try await TraceContext.$current.withValue(parent) {
            try await client.unary(ExportRegistryDescriptor.publish, PublishRequest(tenantID: "acme", export: Self.export("exp-t2")))
        }
        #expect(inner.export?.auditTrail.last?.traceID == parent.traceID)

        // Without one, the registry starts a trace of its own; a malformed one is replaced.
        for metadata in [Metadata(), Metadata([("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01")])] {
            let fresh: PublishResponse = try await client.unary(
                ExportRegistryDescriptor.publish, PublishRequest(tenantID: "acme", export: Self.export("exp-\(UUID().uuidString.prefix(8))")), metadata: metadata)
            let id = try #require(fresh.export?.auditTrail.last?.traceID)
            #expect(id.count == 32 && id != String(repeating: "0", count: 32) && TraceContext(traceparent: "00-\(id)-00f067aa0ba902b7-00") != nil)
        }
    }

    @Test func aCollectorThatIsDownCostsSpansNeverCalls() async throws {
        let directory = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // Nothing listens on this port: every export attempt is refused.
        let registry = try Self.registry(directory, ["--otlp-endpoint", "http://127.0.0.1:\(try Binaries.freePort())", "--trace-sample-rate", "1"])
        let client = try Self.client(registry.endpoint, key: nil)
        for index in 0..<20 {
            let published: PublishResponse = try await client.unary(
                ExportRegistryDescriptor.publish, PublishRequest(tenantID: "acme", export: Self.export("exp-down-\(index)")))
            #expect(published.export?.version == 1)
        }
        await client.close()
        #expect(registry.stop() == 0)  // the last batch fails too; the process still drains and exits 0
        #expect(registry.logText.contains("trace export failed: spans dropped"), "\(registry.logText)")
    }

    @Test func sampledSpansAreExportedOverOTLP() async throws {
        let directory = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let received = directory.appendingPathComponent("otlp")
        let collector = try Scripts.PythonServer(["Tests/Interop/otlp_collector.py", received.path])
        defer { collector.stop() }
        let registry = try Self.registry(directory, ["--otlp-endpoint", "http://127.0.0.1:\(collector.port)", "--trace-sample-rate", "1"])
        let client = try Self.client(registry.endpoint, key: nil)
        let traceID = "5bf92f3577b34da6a3ce929d0e0e4737"
        let _: PublishResponse = try await client.unary(
            ExportRegistryDescriptor.publish, PublishRequest(tenantID: "acme", export: Self.export("exp-o")),
            metadata: Metadata([("traceparent", "00-\(traceID)-00f067aa0ba902b7-01")]))
        await client.close()
        #expect(registry.stop() == 0)  // SIGTERM flushes the span batch

        var bodies = Data()
        for file in (try? FileManager.default.contentsOfDirectory(at: received, includingPropertiesForKeys: nil)) ?? [] {
            bodies += try Data(contentsOf: file)
        }
        let traceBytes = Data(stride(from: 0, to: 32, by: 2).map { UInt8(traceID.dropFirst($0).prefix(2), radix: 16)! })
        #expect(bodies.range(of: traceBytes) != nil, "the exported spans do not carry the call's trace id (\(bodies.count) bytes received)")
        #expect(bodies.range(of: Data("/meshline.v1.ExportRegistry/Publish".utf8)) != nil)
        #expect(bodies.range(of: Data("registry.storage.append".utf8)) != nil)
    }
}
