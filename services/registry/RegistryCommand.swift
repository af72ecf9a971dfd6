import ArgumentParser
import Foundation
import Logging
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineRegistry
import MeshlineService
import ServiceLifecycle

/// `meshline-registry`: serves meshline.v1.ExportRegistry and health.
@main
struct RegistryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshline-registry",
        abstract: "The Meshline export registry: the append-only source of truth for exports.",
        discussion: """
            Serves meshline.v1.ExportRegistry and grpc.health.v1.Health over gRPC (h2c, or TLS with --tls-cert and --tls-key; \
            mutual TLS with --tls-ca). With --api-keys every connector call needs an API key of its tenant. \
            Exports are stored in SQLite (WAL, synchronous=FULL) under --data-dir; an OK answer means the version is on disk. \
            Rejections and expired TTLs are reported to the exception router, retried until it answers. \
            SIGTERM or SIGINT drains calls in flight, flushes storage and exits 0.

            The tenants file is JSON: {"tenants": {"TENANT": {"service_levels": ["standard", ...], \
            "keys": [{"key_id": "ID", "public_key": "BASE64 OF 32 BYTES", "can_override": true}]}}}. \
            See services/registry/tenants.example.json.
            """,
        version: MeshlineVersion.current
    )

    @Option(help: "Address to serve gRPC on, HOST:PORT (port 0: any free port, logged at start).")
    var listen = "127.0.0.1:7001"

    @Option(help: "Directory for the database (created if missing).")
    var dataDir = "./meshline-data"

    @Option(help: "Storage: 'sqlite:' (the embedded default, a file in --data-dir), 'sqlite:PATH', or postgres://USER:PASSWORD@HOST:PORT/DATABASE for several replicas on one database.")
    var database = "sqlite:"

    @Option(name: .customLong("exceptions"), help: "Exception router endpoint HOST:PORT; repeat for several replicas. Without one, reports wait in the outbox.")
    var exceptionRouters: [String] = []

    @Option(help: "Tenants file (JSON): each tenant's SLA taxonomy and the Ed25519 keys trusted to sign overrides.")
    var tenants: String?

    @OptionGroup(title: "Service options")
    var service: ServiceOptions

    func run() async throws {
        let runner = try ServiceRunner(service, label: "meshline.registry")
        let logger = runner.logger
        let configuration = try runner.serverConfiguration(listen: listen)
        let (store, postgres) = try openStore(logger: logger)
        // The PostgreSQL pool runs beside everything else, until the command returns.
        let pool = Task { await postgres?.run() }
        defer { pool.cancel() }
        do {
            try await postgres?.migrate()
        } catch {
            throw ValidationError("--database: \(error.rpcError.message)")
        }
        let directory: TenantDirectory
        do {
            directory = try tenants.map { path throws(RegistryError) in try TenantDirectory(contentsOf: path) } ?? TenantDirectory()
        } catch {
            throw ValidationError("--tenants: \(error.rpcError.message)")
        }
        if tenants == nil { logger.warning("no --tenants file: no override key is trusted and no SLA taxonomy is checked") }

        let registry = ExportRegistryService(store: store, tenants: directory, logger: logger)
        let server = RPCServer(configuration: configuration, services: [registry], logger: logger)

        var deliver: (@Sendable (ReportRequest) async throws -> Void)?
        var routerClient: RPCClient?
        if !exceptionRouters.isEmpty {
            let client = try runner.client(exceptionRouters, flag: "--exceptions")
            routerClient = client
            deliver = { report in
                let _: ReportResponse = try await client.unary(ExceptionRouterDescriptor.report, report, timeout: .seconds(5))
            }
        } else {
            logger.warning("no --exceptions endpoint: rejections and expiries are kept in the outbox until one is configured")
        }
        let maintenance = RegistryMaintenance(service: registry, deliver: deliver)
        try await runner.run(name: "meshline-registry", server: server, services: [BackgroundWork { await maintenance.run() }])
        await routerClient?.close()
        await store.close()
        logger.info("stopped; storage flushed")
    }

    private func openStore(logger: Logger) throws -> (any RegistryStore, PostgresRegistryStore?) {
        do {
            switch try DatabaseLocation(database: database, dataDirectory: dataDir, fileName: "registry.sqlite") {
            case .postgres(let url):
                let store = try PostgresRegistryStore(url: url, logger: logger)
                return (store, store)
            case .sqlite(let path):
                return (try SQLiteRegistryStore(path: path), nil)
            }
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        } catch let error as RegistryError {
            throw ValidationError(error.rpcError.message)
        }
    }
}
