import ArgumentParser
import Foundation
import Logging
import MeshlineExceptions
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineService
import ServiceLifecycle

/// `meshline-exceptions`: serves meshline.v1.ExceptionRouter and health, and works due cases.
@main
struct ExceptionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshline-exceptions",
        abstract: "The Meshline exception router: retries, human queues with escalation, backorders, notifications.",
        discussion: """
            Serves meshline.v1.ExceptionRouter and grpc.health.v1.Health over gRPC (h2c, or TLS with --tls-cert/--tls-key; mutual TLS with --tls-ca). Cases, their timers and \
            notifications are stored in SQLite (WAL, synchronous=FULL) under --data-dir, or in PostgreSQL for several \
            replicas on one database (each due case is worked by one replica). Retries ask the decision service to \
            Reevaluate; exports are read from the registry. SIGTERM or SIGINT drains calls in flight, stops the \
            scheduler, flushes storage and exits 0.

            The policy file is JSON; see services/exceptions/policy.example.json.
            """,
        version: MeshlineVersion.current
    )

    @Option(help: "Address to serve gRPC on, HOST:PORT (port 0: any free port, printed at start).")
    var listen = "127.0.0.1:7003"

    @Option(help: "Directory for the database (created if missing).")
    var dataDir = "./meshline-data"

    @Option(help: "Storage: 'sqlite:' (a file in --data-dir), 'sqlite:PATH', or postgres://USER:PASSWORD@HOST:PORT/DATABASE for several replicas.")
    var database = "sqlite:"

    @Option(help: "Export registry endpoint HOST:PORT; repeat for several replicas.")
    var registry: [String] = []

    @Option(help: "Decision service endpoint HOST:PORT; repeat for several replicas. Without one, retries wait until one is configured.")
    var decision: [String] = []

    @Option(help: "Policy file (JSON): retry rules per tenant and reason, escalation delays, queues.")
    var policy: String?

    @OptionGroup(title: "Service options")
    var service: ServiceOptions

    func run() async throws {
        let runner = try ServiceRunner(service, label: "meshline.exceptions")
        let logger = runner.logger
        let configuration = try runner.serverConfiguration(listen: listen)
        guard !registry.isEmpty else { throw ValidationError("--registry HOST:PORT is required: cases are opened from the registry's exports") }
        let routerPolicy: RouterPolicy
        do {
            routerPolicy = try policy.map { path throws(ExceptionError) in try RouterPolicy(contentsOf: path) } ?? RouterPolicy()
        } catch {
            throw ValidationError("--policy: \(error.rpcError.message)")
        }
        let registryClient = try runner.client(registry, flag: "--registry")
        let decisionClient = decision.isEmpty ? nil : try runner.client(decision, flag: "--decision")
        if decisionClient == nil { logger.warning("no --decision endpoint: automatic retries wait until one is configured") }

        let (store, postgres) = try openStore(logger: logger)
        let pool = Task { await postgres?.run() }
        defer { pool.cancel() }
        do {
            try await postgres?.migrate()
        } catch {
            throw ValidationError("--database: \(error.rpcError.message)")
        }

        let router = ExceptionRouterService(store: store, policy: routerPolicy, registry: registryClient, decision: decisionClient, logger: logger)
        let server = RPCServer(configuration: configuration, services: [router], logger: logger)
        let scheduler = CaseScheduler(service: router, logger: logger)
        var work = [BackgroundWork { await scheduler.run() }]
        if runner.options.adminListen != nil {
            // Gauges read the whole store; only worth it when something scrapes them.
            let gauges = OpenCaseGauges(service: router)
            work.append(BackgroundWork { await gauges.run() })
        }
        try await runner.run(name: "meshline-exceptions", server: server, services: work)
        await registryClient.close()
        await decisionClient?.close()
        await store.close()
        logger.info("stopped; storage flushed")
    }

    private func openStore(logger: Logger) throws -> (any CaseStore, PostgresCaseStore?) {
        do {
            switch try DatabaseLocation(database: database, dataDirectory: dataDir, fileName: "exceptions.sqlite") {
            case .postgres(let url):
                let store = try PostgresCaseStore(url: url, logger: logger)
                return (store, store)
            case .sqlite(let path):
                return (try SQLiteCaseStore(path: path), nil)
            }
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        } catch let error as ExceptionError {
            throw ValidationError(error.rpcError.message)
        }
    }
}
