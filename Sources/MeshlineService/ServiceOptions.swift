public import ArgumentParser
import Foundation
public import Logging
public import MeshlineHTTP2
import MeshlineRPC
import MeshlineModels
import Metrics
import Prometheus
public import ServiceLifecycle
import UnixSignals

/// The flags every Meshline service shares: threads, shutdown, logs, TLS, the admin
/// port, connector authentication, rate limits and tracing. Each executable adds
/// its own (`--listen`, storage, peers) and hands the rest to ``ServiceRunner``.
public struct ServiceOptions: ParsableArguments {
    @Option(help: "Event-loop threads.")
    public var threads = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Seconds that calls in flight (and Watch streams) may take to finish after SIGTERM.")
    public var gracePeriod = 10

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    public var logLevel = "info"

    @Option(help: "PEM certificate chain to serve TLS with (with --tls-key); also presented to peers when --tls-ca asks for mutual TLS.")
    public var tlsCert: String?

    @Option(help: "PEM private key of --tls-cert.")
    public var tlsKey: String?

    @Option(help: "PEM CA certificates: the server requires client certificates signed by them (mutual TLS), and calls to other services use TLS verified by them.")
    public var tlsCA: String?

    @Option(help: "Serve GET /metrics (Prometheus), /healthz and /readyz on this HOST:PORT.")
    public var adminListen: String?

    @Option(help: "API keys file: every call must carry 'authorization: Bearer KEY' of a key listed there, acting only for its tenants. Create keys with `meshline keys api-key`.")
    public var apiKeys: String?

    @Option(help: "File holding this service's own API key, sent on calls to other services (or $MESHLINE_API_KEY).")
    public var apiKeyFile: String?

    @Option(help: "Calls per second each tenant may make (a token bucket per tenant); unset: no limit.")
    public var tenantRate: Double?

    @Option(help: "OTLP/HTTP endpoint to export spans to, e.g. http://127.0.0.1:4318; unset: spans are not recorded (trace ids still propagate).")
    public var otlpEndpoint: String?

    @Option(help: "Share of new traces recorded when --otlp-endpoint is set (0...1).")
    public var traceSampleRate = 0.1

    public init() {}
}

/// Builds and runs a service process from ``ServiceOptions``: logging, the gRPC
/// server, the admin endpoint with metrics, authentication, tracing, and a
/// ServiceGroup that drains on SIGTERM or SIGINT.
public struct ServiceRunner {
    public let options: ServiceOptions
    public let logger: Logger
    private let prometheus: PrometheusCollectorRegistry?

    /// Validates the shared flags and sets up logging, metrics and tracing for `label`
    /// (e.g. `meshline.registry`). Call once per process.
    public init(_ options: ServiceOptions, label: String) throws {
        self.options = options
        guard let level = Logger.Level(rawValue: options.logLevel) else {
            throw ValidationError("--log-level '\(options.logLevel)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        self.logger = logger
        guard (0...1).contains(options.traceSampleRate) else { throw ValidationError("--trace-sample-rate must be between 0 and 1") }
        if options.adminListen != nil {
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            prometheus = registry
        } else {
            prometheus = nil
        }
        if let endpoint = options.otlpEndpoint {
            TraceRecording.install(try OTLPSpanExporter(endpoint: endpoint, serviceName: label, logger: logger), sampleRate: options.traceSampleRate)
        }
    }

    /// The server's configuration for `listen` (HOST:PORT; port 0 picks a free one).
    public func serverConfiguration(listen: String) throws -> RPCServer.Configuration {
        let endpoint: RPCClient.Endpoint
        do {
            endpoint = try RPCClient.Endpoint(parsing: listen, allowingAnyPort: true)
        } catch {
            throw ValidationError("--listen: \(error.message)")
        }
        var configuration = RPCServer.Configuration()
        configuration.host = endpoint.host
        configuration.port = endpoint.port
        configuration.threads = options.threads
        configuration.drainGracePeriod = .seconds(options.gracePeriod)
        if options.tlsCert != nil || options.tlsKey != nil {
            guard let cert = options.tlsCert, let key = options.tlsKey else { throw ValidationError("--tls-cert and --tls-key go together") }
            configuration.tls = TLSSettings(certificateChainFile: cert, privateKeyFile: key, trustRootsFile: options.tlsCA, requireClientCertificate: options.tlsCA != nil)
        } else if options.tlsCA != nil {
            throw ValidationError("--tls-ca needs --tls-cert and --tls-key: mutual TLS is TLS first")
        }
        if options.apiKeys != nil || options.tenantRate != nil {
            do {
                configuration.policy = APIKeyPolicy(keys: try options.apiKeys.map(APIKeyPolicy.loadKeys), tenantRate: options.tenantRate)
            } catch {
                throw ValidationError("--api-keys: \(error)")
            }
        }
        if prometheus != nil { configuration.observer = RPCMetrics() }
        return configuration
    }

    /// A client for another service of the mesh, with this service's TLS and API key.
    public func client(_ endpoints: [String], flag: String) throws -> RPCClient {
        do {
            var configuration = RPCClient.Configuration(endpoints: try endpoints.map { text throws(RPCError) in try RPCClient.Endpoint(parsing: text) })
            if options.tlsCert != nil || options.tlsCA != nil {
                // Mutual TLS when the service has a certificate; server verification by --tls-ca.
                configuration.tls = TLSSettings(certificateChainFile: options.tlsCA == nil ? nil : options.tlsCert,
                                                privateKeyFile: options.tlsCA == nil ? nil : options.tlsKey, trustRootsFile: options.tlsCA)
            }
            if let key = try apiKey() { configuration.defaultMetadata.add("authorization", "Bearer \(key)") }
            return RPCClient(configuration: configuration, logger: logger)
        } catch let error as RPCError {
            throw ValidationError("\(flag): \(error.message)")
        }
    }

    private func apiKey() throws -> String? {
        if let path = options.apiKeyFile {
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("--api-key-file: cannot read \(path)") }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return ProcessInfo.processInfo.environment["MESHLINE_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Starts `server` and the admin endpoint, runs `services` beside them, prints
    /// `NAME listening on HOST:PORT` once SIGTERM is handled, and returns after a graceful shutdown.
    public func run(name: String, server: RPCServer, services: [any Service]) async throws {
        let port = try await server.start()
        // The group shuts services down in reverse order: the span exporter first in the
        // list stops last, after the server drained its calls and ended their spans; the
        // admin endpoint stops after the server too, so that /readyz answers "draining"
        // and /healthz stays up while calls finish.
        var all: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let exporter = TraceRecording.recorder as? OTLPSpanExporter { all.append(.init(service: exporter)) }
        if let adminListen = options.adminListen, let prometheus {
            let endpoint: RPCClient.Endpoint
            do { endpoint = try RPCClient.Endpoint(parsing: adminListen, allowingAnyPort: true) } catch { throw ValidationError("--admin-listen: \(error.message)") }
            let admin = AdminServer(host: endpoint.host, port: endpoint.port, registry: prometheus, ready: { [health = server.health] in
                health.status(of: "") == .serving
            }, logger: logger)
            try await admin.start()
            all.append(.init(service: admin))
        }
        all.append(.init(service: server))
        all += services.map { .init(service: $0) }
        all.append(.init(service: Announcement(line: "\(name) listening on \(server.host):\(port)")))
        let group = ServiceGroup(configuration: .init(services: all, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
