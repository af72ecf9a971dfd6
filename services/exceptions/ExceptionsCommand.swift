import ArgumentParser
import Foundation
import Logging
import MeshlineExceptions
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import ServiceLifecycle
import UnixSignals

/// `meshline-exceptions`: serves meshline.v1.ExceptionRouter and health, and works due cases.
@main
struct ExceptionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshline-exceptions",
        abstract: "The Meshline exception router: retries, human queues with escalation, backorders, notifications.",
        discussion: """
            Serves meshline.v1.ExceptionRouter and grpc.health.v1.Health over gRPC (h2c). Cases, their timers and \
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

    @Option(help: "Event-loop threads.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Seconds that calls in flight may take to finish after SIGTERM.")
    var gracePeriod = 10

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func run() async throws {
        var logger = Logger(label: "meshline.exceptions")
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
        guard !registry.isEmpty else { throw ValidationError("--registry HOST:PORT is required: cases are opened from the registry's exports") }
        let routerPolicy: RouterPolicy
        do {
            routerPolicy = try policy.map { path throws(ExceptionError) in try RouterPolicy(contentsOf: path) } ?? RouterPolicy()
        } catch {
            throw ValidationError("--policy: \(error.rpcError.message)")
        }
        let registryClient = try client(registry, option: "--registry")
        let decisionClient = decision.isEmpty ? nil : try client(decision, option: "--decision")
        if decisionClient == nil { logger.warning("no --decision endpoint: automatic retries wait until one is configured") }

        let (store, postgres) = try openStore(logger: logger)
        let pool = Task { await postgres?.run() }
        defer { pool.cancel() }
        do {
            try await postgres?.migrate()
        } catch {
            throw ValidationError("--database: \(error.rpcError.message)")
        }

        let service = ExceptionRouterService(store: store, policy: routerPolicy, registry: registryClient, decision: decisionClient)
        var configuration = RPCServer.Configuration()
        configuration.host = endpoint.host
        configuration.port = endpoint.port
        configuration.threads = threads
        configuration.drainGracePeriod = .seconds(gracePeriod)
        let server = RPCServer(configuration: configuration, services: [service], logger: logger)
        let port = try await server.start()
        let scheduler = SchedulerService(scheduler: CaseScheduler(service: service, logger: logger))
        // Announced from inside the group, whose SIGTERM handler is installed by then: a
        // supervisor that stops the router as soon as it sees the port gets a drain.
        let ready = Announcement(line: "meshline-exceptions listening on \(endpoint.host):\(port)")
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: server), .init(service: scheduler), .init(service: ready)], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        await registryClient.close()
        await decisionClient?.close()
        await store.close()
        logger.info("stopped; storage flushed")
    }

    private func client(_ endpoints: [String], option: String) throws -> RPCClient {
        do {
            return try RPCClient(endpoints: endpoints)
        } catch {
            throw ValidationError("\(option): \(error.message)")
        }
    }

    private func openStore(logger: Logger) throws -> (any CaseStore, PostgresCaseStore?) {
        if database.hasPrefix("postgres://") || database.hasPrefix("postgresql://") {
            do {
                let store = try PostgresCaseStore(url: database, logger: logger)
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
            path = (dataDir as NSString).appendingPathComponent("exceptions.sqlite")
        }
        do {
            return (try SQLiteCaseStore(path: path), nil)
        } catch {
            throw ValidationError(error.rpcError.message)
        }
    }
}

/// The scheduler as a lifecycle service: stops with the group.
struct SchedulerService: Service {
    let scheduler: CaseScheduler

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await scheduler.run()
        }
    }
}

/// Prints one line once the service group runs, then waits for the shutdown.
struct Announcement: Service {
    let line: String

    func run() async throws {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
        try? await gracefulShutdown()
    }
}
