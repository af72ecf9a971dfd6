import Crypto
import Foundation
import Logging
import MeshlineExceptions
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineRegistry
import PostgresNIO
import Synchronization
import Testing

/// A settable clock shared by the registry and the routers of a test.
final class TestClock: Sendable {
    private let value = Atomic<Int64>(1_764_400_000_000)
    var now: Int64 { value.load(ordering: .relaxed) }
    func advance(by milliseconds: Int64) { value.add(milliseconds, ordering: .relaxed) }
}

let minute: Int64 = 60_000
let hour: Int64 = 3_600_000

/// A real registry on a free loopback port (SQLite in a temporary directory), the
/// clock, and routers started against it.
final class TestMesh: Sendable {
    static let tenant = "acme"
    static let otherTenant = "globex"
    static let signingKey = Curve25519.Signing.PrivateKey()

    let directory: URL
    let clock = TestClock()
    let registryStore: SQLiteRegistryStore
    let registryService: ExportRegistryService
    let registryServer: RPCServer
    let registry: RPCClient
    let registryPort: Int

    init() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshline-exceptions-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let clock = self.clock
        registryStore = try SQLiteRegistryStore(path: directory.appendingPathComponent("registry.sqlite").path, clock: { clock.now })
        let tenants = TenantDirectory(tenants: [
            Self.tenant: .init(serviceLevels: ["standard"], keys: [
                "ops-key": .init(keyID: "ops-key", publicKey: Array(Self.signingKey.publicKey.rawRepresentation), canOverride: true)
            ]),
            Self.otherTenant: .init(serviceLevels: ["standard"], keys: [:]),
        ])
        registryService = ExportRegistryService(store: registryStore, tenants: tenants, clock: { clock.now })
        var configuration = RPCServer.Configuration()
        configuration.threads = 1
        registryServer = RPCServer(configuration: configuration, services: [registryService])
        registryPort = try await registryServer.start()
        registry = try RPCClient(endpoints: ["127.0.0.1:\(registryPort)"])
    }

    func stop() async {
        await registry.close()
        await registryServer.shutdown(gracePeriod: .seconds(1))
        await registryStore.close()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The policy the tests use: known delays, deterministic jitter.
    static func policy(_ edit: (inout RouterPolicy) -> Void = { _ in }) -> RouterPolicy {
        var policy = RouterPolicy()
        policy.defaults.retry.initialIntervalMs = 10_000
        policy.defaults.retry.maximumIntervalMs = 60_000
        policy.defaults.retry.maximumAttempts = 3
        policy.defaults.escalationDelaysMs = [10 * minute, 20 * minute]
        policy.backorderPollIntervalMs = minute
        policy.jitter = JitterSource(seed: 42)
        edit(&policy)
        return policy
    }

    /// A router on a free port with SQLite at `path` (default: a file of this mesh).
    func router(path: String? = nil, decision: [String]? = nil, policy: RouterPolicy = TestMesh.policy()) async throws -> TestRouter {
        let store = try SQLiteCaseStore(path: path ?? directory.appendingPathComponent("exceptions.sqlite").path)
        return try await TestRouter(mesh: self, store: store, decision: decision, policy: policy)
    }

    // MARK: Registry calls

    func publish(_ export: Export, expected: Int64 = 0) async throws -> Export {
        let response: PublishResponse = try await registry.unary(
            ExportRegistryDescriptor.publish, PublishRequest(tenantID: export.tenantID, export: export, expectedVersion: expected))
        return response.export!
    }

    func get(_ exportID: String, tenant: String = TestMesh.tenant) async throws -> Export {
        let response: GetExportResponse = try await registry.unary(ExportRegistryDescriptor.get, GetExportRequest(tenantID: tenant, exportID: exportID))
        return response.export!
    }

    /// The warehouse refuses the export's current version; the registry queues a report.
    func reject(_ exportID: String, reason: RejectionReason) async throws -> Export {
        try await acknowledge(exportID, version: try await get(exportID).version, .rejected, reason: reason)
    }

    /// The warehouse's outcome for one version, as a connector reports it.
    func acknowledge(_ exportID: String, version: Int64, _ outcome: AckOutcome, reason: RejectionReason = .unspecified) async throws -> Export {
        let response: AcknowledgeResponse = try await registry.unary(
            ExportRegistryDescriptor.acknowledge,
            AcknowledgeRequest(tenantID: Self.tenant, exportID: exportID, version: version, outcome: outcome, reason: reason,
                               actor: Party(role: .thirdPartyLogistics, name: "wh-ops")))
        return response.export!
    }

    /// Publishes `export`, has the warehouse reject it, and lets the registry report
    /// that to `router`; returns the case the router opened.
    func openCase(_ export: Export, reason: RejectionReason, on router: TestRouter) async throws -> ExceptionCase {
        _ = try await publish(export)
        _ = try await reject(export.exportID, reason: reason)
        #expect(await deliverReports(to: router) == 1)
        return try await router.onlyCase(export.exportID)
    }

    /// The registry's outbox delivered to `router` over the wire, as `meshline-registry --exceptions` does.
    @discardableResult
    func deliverReports(to router: TestRouter) async -> Int {
        let client = router.client
        let clock = self.clock
        let maintenance = RegistryMaintenance(service: registryService, deliver: { report in
            let _: ReportResponse = try await client.unary(ExceptionRouterDescriptor.report, report)
        }, clock: { clock.now })
        return await maintenance.runOnce()
    }

    /// A signed override of the export's current version that hands it to the merchant.
    func override(_ exportID: String) async throws -> Export {
        let current = try await get(exportID)
        let change = OverrideChange(
            tenantID: Self.tenant, exportID: exportID, baseVersion: current.version, owningParty: Party(role: .merchant, name: "acme-ops"),
            justification: "merchant ships it themselves", signerKeyID: "ops-key", issuedAtUnixMs: clock.now, nonce: UUID().uuidString)
        let signed = SignedOverride(change: change, signature: Array(try Self.signingKey.signature(for: change.signingBytes)))
        let response: OverrideResponse = try await registry.unary(ExportRegistryDescriptor.override, OverrideRequest(override: signed))
        return response.export!
    }

    /// An export of tenant `acme` that passes the QA gate now, with three levels of contacts.
    func export(
        _ id: String, path: ExceptionPathType = .autoRetry, queue: String = "agency-ops", shipBy: Int64? = nil, kind: ExportKind = .routing,
        tenant: String = TestMesh.tenant
    ) -> Export {
        let now = clock.now
        let shipByTime = shipBy ?? now + 24 * hour
        let backorder = kind == .backorder
        return Export(
            exportID: id, tenantID: tenant, orderID: "order-\(id)", kind: kind,
            owningParty: Party(role: .agency, name: "fulfillment-team"),
            decisionVersion: "v3.1", intendedAction: backorder ? "backorder" : "route-to-warehouse:WH-A",
            sla: Sla(
                shipByUnixMs: shipByTime,
                pickWindow: backorder ? nil : PickWindow(startUnixMs: now, endUnixMs: shipByTime - minute), serviceLevel: "standard"),
            expiresAtUnixMs: now + hour,
            exceptionPath: ExceptionPath(type: path, queue: queue, contactID: "ops-oncall"),
            escalationContacts: [
                Contact(contactID: "ops-oncall", party: Party(role: .agency, name: "ops"), channel: "pager", address: "ops-pager", level: 1),
                Contact(contactID: "ops-lead", party: Party(role: .agency, name: "ops"), channel: "email", address: "lead@example.com", level: 2),
                Contact(contactID: "merchant-ops", party: Party(role: .merchant, name: "acme-ops"), channel: "slack", address: "#acme-ops", level: 3),
                Contact(contactID: "customer-crm", party: Party(role: .merchant, name: "acme-crm"), channel: "crm", address: "crm://acme", level: 1),
            ],
            warehouseID: backorder ? "" : "WH-A",
            lines: [ExportLine(sku: "SKU-1", quantity: 1)])
    }
}

/// An exception router on a free loopback port, with its scheduler (run by the test, on the test clock).
final class TestRouter: Sendable {
    let store: any CaseStore
    let service: ExceptionRouterService
    let scheduler: CaseScheduler
    let server: RPCServer
    let client: RPCClient
    let registryClient: RPCClient
    let decisionClient: RPCClient

    /// `decision` nil points retries at a port nobody listens on: the decision service is down.
    init(mesh: TestMesh, store: any CaseStore, decision: [String]?, policy: RouterPolicy) async throws {
        self.store = store
        registryClient = try RPCClient(endpoints: ["127.0.0.1:\(mesh.registryPort)"])
        decisionClient = try RPCClient(endpoints: decision ?? ["127.0.0.1:1"])
        let clock = mesh.clock
        service = ExceptionRouterService(store: store, policy: policy, registry: registryClient, decision: decisionClient, clock: { clock.now })
        var logger = Logger(label: "meshline.test.scheduler")
        logger.logLevel = .critical
        scheduler = CaseScheduler(service: service, logger: logger)
        var configuration = RPCServer.Configuration()
        configuration.threads = 1
        server = RPCServer(configuration: configuration, services: [service])
        let port = try await server.start()
        client = try RPCClient(endpoints: ["127.0.0.1:\(port)"])
    }

    func stop() async {
        await client.close()
        await server.shutdown(gracePeriod: .seconds(1))
        await registryClient.close()
        await decisionClient.close()
        await store.close()
    }

    // MARK: Calls

    func report(_ request: ReportRequest) async throws -> ReportResponse {
        try await client.unary(ExceptionRouterDescriptor.report, request)
    }

    func list(tenant: String = TestMesh.tenant, queue: String = "", state: CaseState = .unspecified, pageSize: Int32 = 0, token: String = "") async throws -> ListQueueResponse {
        try await client.unary(
            ExceptionRouterDescriptor.listQueue, ListQueueRequest(tenantID: tenant, queue: queue, state: state, pageSize: pageSize, pageToken: token))
    }

    /// The case of the export's latest reported version, read over the wire.
    func onlyCase(_ exportID: String, tenant: String = TestMesh.tenant) async throws -> ExceptionCase {
        let cases = try await list(tenant: tenant).cases.filter { $0.exportID == exportID }
        #expect(cases.count >= 1, "no case for \(exportID)")
        return try #require(cases.max { $0.exportVersion < $1.exportVersion })
    }

    func claim(_ caseID: String, by claimant: String, release: Bool = false, tenant: String = TestMesh.tenant) async throws -> ExceptionCase {
        let response: ClaimResponse = try await client.unary(
            ExceptionRouterDescriptor.claim, ClaimRequest(tenantID: tenant, caseID: caseID, claimant: claimant, release: release))
        return response.exceptionCase!
    }

    func resolve(_ caseID: String, _ resolution: Resolution, by actor: String, tenant: String = TestMesh.tenant) async throws -> ExceptionCase {
        let response: ResolveResponse = try await client.unary(
            ExceptionRouterDescriptor.resolve, ResolveRequest(tenantID: tenant, caseID: caseID, resolution: resolution, actor: actor))
        return response.exceptionCase!
    }

    /// Reads notifications from `cursor` until `count` arrived (or a second passed).
    func notifications(tenant: String = TestMesh.tenant, after cursor: String = "", count: Int) async throws -> [NotificationEvent] {
        var events: [NotificationEvent] = []
        do {
            let stream: ResponseStream<NotificationEvent> = try await client.serverStreaming(
                ExceptionRouterDescriptor.notifications, NotificationsRequest(tenantID: tenant, cursor: cursor), timeout: .seconds(1))
            for try await event in stream {
                events.append(event)
                if events.count == count { break }
            }
        } catch let error as RPCError where error.code == .deadlineExceeded {
            // Fewer than `count` exist; the caller checks.
        }
        return events
    }
}

/// Runs `body` with a mesh, and stops it (and the routers `body` registers) whatever happens.
func withMesh(_ body: (TestMesh) async throws -> Void) async throws {
    let mesh = try await TestMesh()
    do {
        try await body(mesh)
    } catch {
        await mesh.stop()
        throw error
    }
    await mesh.stop()
}

/// The gRPC code a call failed with.
func code(_ error: any Error) -> StatusCode? {
    (error as? RPCError)?.code
}

/// The PostgreSQL the tests use: `MESHLINE_TEST_POSTGRES_URL`, or the one `scripts/start-test-postgres` sets up.
let postgresURL = ProcessInfo.processInfo.environment["MESHLINE_TEST_POSTGRES_URL"] ?? "postgres://meshline:meshline@127.0.0.1:5432/meshline_test"

/// A fresh schema on the test PostgreSQL for `body`, dropped afterwards; `body`
/// gets a factory of stores on that schema (one per router replica).
func withPostgresSchema(_ body: (@escaping @Sendable () throws -> PostgresCaseStore) async throws -> Void) async throws {
    let schema = "exc_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    var logger = Logger(label: "meshline.test.postgres")
    logger.logLevel = .error
    let url = URLComponents(string: postgresURL)!
    let admin = PostgresClient(
        configuration: .init(host: url.host ?? "127.0.0.1", port: url.port ?? 5432, username: url.user ?? "meshline", password: url.password,
                             database: String(url.path.dropFirst()), tls: .disable),
        backgroundLogger: logger)
    let runners = Runners()
    let storeLogger = logger
    let make: @Sendable () throws -> PostgresCaseStore = {
        let store = try PostgresCaseStore(url: postgresURL, schema: schema, logger: storeLogger)
        runners.tasks.withLock { $0.append(Task { await store.run() }) }
        return store
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await admin.run() }
        defer { runners.tasks.withLock { $0.forEach { $0.cancel() } } }
        do {
            try await admin.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema)"))
            try await body(make)
            try await admin.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"))
        } catch {
            _ = try? await admin.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"))
            group.cancelAll()
            throw error
        }
        group.cancelAll()
    }
}

/// The connection pools of a test's PostgreSQL stores, cancelled when the test ends.
final class Runners: Sendable {
    let tasks = Mutex<[Task<Void, Never>]>([])
}
