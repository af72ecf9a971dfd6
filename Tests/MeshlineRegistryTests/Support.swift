import Crypto
import Foundation
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import Logging
import MeshlineRegistry
import Synchronization

/// A registry on a free loopback port with SQLite in a temporary directory.
/// Immutable after init, so tests may share it with tasks.
final class TestRegistry: Sendable {
    let directory: URL
    let store: SQLiteRegistryStore
    let service: ExportRegistryService
    let server: RPCServer
    let client: RPCClient
    let port: Int
    let clock: TestClock

    static let tenant = "acme"
    static let otherTenant = "globex"

    init(
        tenants: TenantDirectory = TestRegistry.defaultTenants(), clock: TestClock = TestClock(),
        configuration: ExportRegistryService.Configuration = ExportRegistryService.Configuration()
    ) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshline-registry-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.clock = clock
        store = try SQLiteRegistryStore(path: directory.appendingPathComponent("registry.sqlite").path, clock: { clock.now })
        service = ExportRegistryService(store: store, tenants: tenants, configuration: configuration, clock: { clock.now })
        var configuration = RPCServer.Configuration()
        configuration.threads = 1
        server = RPCServer(configuration: configuration, services: [service])
        port = try await server.start()
        client = try RPCClient(endpoints: ["127.0.0.1:\(port)"])
    }

    func stop() async {
        await client.close()
        await server.shutdown(gracePeriod: .seconds(1))
        await store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    static let signingKey = Curve25519.Signing.PrivateKey()
    static let otherTenantKey = Curve25519.Signing.PrivateKey()
    static let readOnlyKey = Curve25519.Signing.PrivateKey()

    static func defaultTenants() -> TenantDirectory {
        TenantDirectory(tenants: [
            tenant: .init(serviceLevels: ["standard", "express"], keys: [
                "ops-key": .init(keyID: "ops-key", publicKey: Array(signingKey.publicKey.rawRepresentation), canOverride: true),
                "viewer-key": .init(keyID: "viewer-key", publicKey: Array(readOnlyKey.publicKey.rawRepresentation), canOverride: false),
            ]),
            otherTenant: .init(serviceLevels: ["standard"], keys: [
                "globex-key": .init(keyID: "globex-key", publicKey: Array(otherTenantKey.publicKey.rawRepresentation), canOverride: true)
            ]),
        ])
    }

    // MARK: Calls

    func publish(_ export: Export, key: String = "", expected: Int64 = 0, tenant: String = TestRegistry.tenant) async throws(RPCError) -> PublishResponse {
        try await client.unary(ExportRegistryDescriptor.publish, PublishRequest(tenantID: tenant, export: export, idempotencyKey: key, expectedVersion: expected))
    }

    func get(_ exportID: String, version: Int64 = 0, tenant: String = TestRegistry.tenant) async throws(RPCError) -> Export {
        let response: GetExportResponse = try await client.unary(ExportRegistryDescriptor.get, GetExportRequest(tenantID: tenant, exportID: exportID, version: version))
        return response.export!
    }

    func acknowledge(_ exportID: String, version: Int64, _ outcome: AckOutcome, reason: RejectionReason = .unspecified, shippedAt: Int64 = 0) async throws(RPCError) -> Export {
        let response: AcknowledgeResponse = try await client.unary(
            ExportRegistryDescriptor.acknowledge,
            AcknowledgeRequest(tenantID: Self.tenant, exportID: exportID, version: version, outcome: outcome, reason: reason, shippedAtUnixMs: shippedAt,
                               actor: Party(role: .thirdPartyLogistics, name: "wh-a")))
        return response.export!
    }

    /// A routing export that passes the QA gate at the test clock's time.
    func export(_ id: String, order: String? = nil, shipBy: Int64? = nil) -> Export {
        Self.export(id, order: order, shipBy: shipBy, now: clock.now)
    }

    /// A routing export of tenant `acme` that passes the QA gate at `now`.
    static func export(_ id: String, order: String? = nil, shipBy: Int64? = nil, now: Int64) -> Export {
        let hour: Int64 = 3_600_000
        let shipByTime = shipBy ?? now + 24 * hour
        return Export(
            exportID: id, tenantID: Self.tenant, orderID: order ?? "order-\(id)", kind: .routing,
            owningParty: Party(role: .agency, name: "fulfillment-team"),
            watchers: [Party(role: .merchant, name: "acme-ops")],
            decisionVersion: "v3.1", intendedAction: "route-to-warehouse:WH-A",
            sla: Sla(shipByUnixMs: shipByTime, pickWindow: PickWindow(startUnixMs: shipByTime - 8 * hour, endUnixMs: shipByTime - hour), serviceLevel: "standard"),
            expiresAtUnixMs: now + hour,
            exceptionPath: ExceptionPath(type: .autoRetry, queue: "agency-ops"),
            warehouseID: "WH-A",
            lines: [ExportLine(sku: "SKU-1", quantity: 1)])
    }

    /// A signed override of `exportID` at `baseVersion`, with `edit` applied to the change before signing.
    func signedOverride(_ exportID: String, baseVersion: Int64, key: Curve25519.Signing.PrivateKey = TestRegistry.signingKey, keyID: String = "ops-key",
                        nonce: String = UUID().uuidString, edit: (inout OverrideChange) -> Void = { _ in }) throws -> SignedOverride {
        var change = OverrideChange(
            tenantID: Self.tenant, exportID: exportID, baseVersion: baseVersion,
            owningParty: Party(role: .merchant, name: "acme-ops"), justification: "merchant takes over the routing",
            signerKeyID: keyID, issuedAtUnixMs: clock.now, nonce: nonce)
        edit(&change)
        return SignedOverride(change: change, signature: Array(try key.signature(for: change.signingBytes)))
    }
}

/// A settable clock so that TTLs and override freshness can be tested.
final class TestClock: Sendable {
    private let value = Atomic<Int64>(1_764_400_000_000)
    var now: Int64 { value.load(ordering: .relaxed) }
    func advance(by milliseconds: Int64) { value.add(milliseconds, ordering: .relaxed) }
}

/// A fake exception router that records the reports it receives.
final class RecordingRouter: RPCService, Sendable {
    let reports = Mutex<[ReportRequest]>([])
    /// When set, every report is refused with this error (and not recorded).
    let refusal = Mutex<RPCError?>(nil)
    var serviceName: String { ExceptionRouterDescriptor.fullName }
    var handlers: [RPCHandler] {
        [.unary(ExceptionRouterDescriptor.report) { [self] (request: ReportRequest, _) -> ReportResponse in
            if let refusal = refusal.withLock({ $0 }) { throw refusal }
            reports.withLock { $0.append(request) }
            return ReportResponse(exceptionCase: ExceptionCase(caseID: "case-\(request.exportID)", tenantID: request.tenantID, exportID: request.exportID))
        }]
    }
}

/// Log entries kept in memory, for tests that check what an operator is told.
final class LogRecorder: Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    let entries = Mutex<[Entry]>([])

    var logger: Logger {
        var logger = Logger(label: "meshline.registry.test") { _ in Handler(recorder: self) }
        logger.logLevel = .trace
        return logger
    }

    func entries(_ level: Logger.Level) -> [Entry] { entries.withLock { $0 }.filter { $0.level == level } }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            recorder.entries.withLock {
                $0.append(Entry(level: event.level, message: "\(event.message)", metadata: all.mapValues { "\($0)" }))
            }
        }
    }
}
