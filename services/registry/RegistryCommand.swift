import ArgumentParser
import Foundation
import Logging
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineRegistry
import ServiceLifecycle
import UnixSignals

/// `meshline-registry`: serves meshline.v1.ExportRegistry and health.
@main
struct RegistryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshline-registry",
        abstract: "The Meshline export registry: the append-only source of truth for exports.",
        discussion: """
            Serves meshline.v1.ExportRegistry and grpc.health.v1.Health over gRPC (h2c, or TLS with --tls-cert and --tls-key). \
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

    @Option(help: "PEM certificate chain for TLS (with --tls-key).")
    var tlsCert: String?

    @Option(help: "PEM private key for TLS.")
    var tlsKey: String?

    @Option(help: "Event-loop threads.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Seconds that calls in flight may take to finish after SIGTERM.")
    var gracePeriod = 10

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func run() async throws {
        var logger = Logger(label: "meshline.registry")
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level '\(logLevel)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        logger.logLevel = level
        let endpoint: RPCClient.Endpoint
        do {
            endpoint = try RPCClient.Endpoint(parsing: listen, allowingAnyPort: true)
        } catch {
            throw ValidationError("--listen: \(error.message)")
        }
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

        let service = ExportRegistryService(store: store, tenants: directory)
        var configuration = RPCServer.Configuration()
        configuration.host = endpoint.host
        configuration.port = endpoint.port
        configuration.threads = threads
        configuration.drainGracePeriod = .seconds(gracePeriod)
        if tlsCert != nil || tlsKey != nil {
            guard let tlsCert, let tlsKey else { throw ValidationError("--tls-cert and --tls-key go together") }
            configuration.tls = TLSSettings(certificateChainFile: tlsCert, privateKeyFile: tlsKey)
        }
        let server = RPCServer(configuration: configuration, services: [service], logger: logger)

        var deliver: (@Sendable (ReportRequest) async throws -> Void)?
        var routerClient: RPCClient?
        if !exceptionRouters.isEmpty {
            let client: RPCClient
            do {
                client = try RPCClient(endpoints: exceptionRouters)
            } catch {
                throw ValidationError("--exceptions: \(error.message)")
            }
            routerClient = client
            deliver = { report in
                let _: ReportResponse = try await client.unary(ExceptionRouterDescriptor.report, report, timeout: .seconds(5))
            }
        } else {
            logger.warning("no --exceptions endpoint: rejections and expiries are kept in the outbox until one is configured")
        }
        let maintenance = MaintenanceService(maintenance: RegistryMaintenance(service: service, deliver: deliver))
        try await server.start()
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: server), .init(service: maintenance)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await routerClient?.close()
        await store.close()
        logger.info("stopped; storage flushed")
    }

    private func openStore(logger: Logger) throws -> (any RegistryStore, PostgresRegistryStore?) {
        if database.hasPrefix("postgres://") || database.hasPrefix("postgresql://") {
            do {
                let store = try PostgresRegistryStore(url: database, logger: logger)
                return (store, store)
            } catch {
                throw ValidationError(error.rpcError.message)
            }
        }
        guard database.hasPrefix("sqlite:") else {
            throw ValidationError("--database '\(database)' is neither sqlite: nor postgres://…")
        }
        var path = String(database.dropFirst("sqlite:".count))
        if path.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
            } catch {
                throw ValidationError("--data-dir '\(dataDir)' cannot be created: \(error.localizedDescription)")
            }
            path = (dataDir as NSString).appendingPathComponent("registry.sqlite")
        }
        do {
            return (try SQLiteRegistryStore(path: path), nil)
        } catch {
            throw ValidationError(error.rpcError.message)
        }
    }
}

/// The registry's background work as a lifecycle service: stops with the group.
struct MaintenanceService: Service {
    let maintenance: RegistryMaintenance

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await maintenance.run()
        }
    }
}
