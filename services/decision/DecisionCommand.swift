import ArgumentParser
import Foundation
import Logging
import MeshlineDecision
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineService
import ServiceLifecycle

/// `meshline-decision`: serves meshline.v1.DecisionService and health.
@main
struct DecisionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshline-decision",
        abstract: "The Meshline decision service: deterministic, explainable routing from versioned per-tenant rules.",
        discussion: """
            Serves meshline.v1.DecisionService and grpc.health.v1.Health over gRPC (h2c, or TLS with --tls-cert/--tls-key; mutual TLS with --tls-ca). Decide publishes each export to the \
            export registry (--registry, repeat it for several replicas; calls go round-robin). \
            Rule sets are YAML files in --rules, one rule set per file (see services/decision/rules.example.yaml); \
            PutRuleSet writes TENANT@VERSION.yaml there, so put rule sets survive a restart and replicas sharing the \
            directory pick them up within --rules-refresh seconds. Inventory and the capacity count are held in memory. \
            Several replicas can run side by side. SIGTERM or SIGINT drains calls in flight and exits 0.
            """,
        version: MeshlineVersion.current
    )

    @Option(help: "Address to serve gRPC on, HOST:PORT (port 0: any free port, printed at start).")
    var listen = "127.0.0.1:7002"

    @Option(name: .customLong("registry"), help: "Export registry endpoint HOST:PORT; repeat for several replicas.")
    var registries: [String] = []

    @Option(help: "Directory of rule-set YAML files (created if missing).")
    var rules = "./meshline-rules"

    @Option(help: "Seconds between re-reads of --rules, to pick up files other replicas wrote; 0 never re-reads.")
    var rulesRefresh = 5

    @OptionGroup(title: "Service options")
    var service: ServiceOptions

    func run() async throws {
        let runner = try ServiceRunner(service, label: "meshline.decision")
        let logger = runner.logger
        let configuration = try runner.serverConfiguration(listen: listen)
        guard !registries.isEmpty else {
            throw ValidationError("--registry is required: name the export registry, e.g. --registry 127.0.0.1:7001 (repeat for replicas)")
        }
        let directory = URL(fileURLWithPath: rules, isDirectory: true)
        let store: RuleStore
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            store = try RuleStore(directory: directory)
        } catch let error as DecisionError {
            throw ValidationError("--rules:\n\(error.rpcError.message)")
        } catch {
            throw ValidationError("--rules '\(rules)' cannot be created: \(error.localizedDescription)")
        }
        let decision = DecisionService(
            rules: store, registry: try runner.client(registries, flag: "--registry"), registryEndpoints: registries,
            clock: DecisionService.wallClock, logger: logger)
        let server = RPCServer(configuration: configuration, services: [decision], logger: logger)
        var background: [any Service] = []
        if rulesRefresh > 0 {
            background.append(RuleRefresh(store: store, interval: .seconds(rulesRefresh), logger: logger))
        }
        try await runner.run(name: "meshline-decision", server: server, services: background)
        await decision.close()
        logger.info("stopped")
    }
}

/// Re-reads the rules directory now and then, so that a rule set another replica put is served here too.
struct RuleRefresh: Service {
    let store: RuleStore
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                do throws(DecisionError) {
                    try store.reload()
                } catch {
                    logger.error("the rules directory has an invalid file; the rules held stay in use", metadata: ["problem": "\(error.rpcError.message)"])
                }
            }
        }
    }
}
