// A MeshlineRPC server for load tests: serves grpc.health.v1.Health and the Echo
// test service on loopback until SIGTERM or SIGINT, then drains and exits 0.
//
//   meshline-bench-rpc-server [--port N] [--threads N]
//       [--metrics [--admin-port N]] [--otlp-endpoint URL] [--trace-sample-rate R]
//
// Prints `listening on PORT` once ready. With --metrics or --otlp-endpoint the
// server runs as a Meshline service does (MeshlineService's ServiceRunner): RPC
// metrics through swift-metrics into a Prometheus registry, served on an admin
// port, and spans of a share R of calls (default 0.01) exported over OTLP/HTTP;
// without them, neither is installed (no observer, no span recorder).

import ArgumentParser
import Logging
import MeshlineEcho
import MeshlineHTTP2
import MeshlineService
import ServiceLifecycle
import UnixSignals

let arguments = CommandLine.arguments
func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

let port = Int(option("--port") ?? "0") ?? 0
let threads = Int(option("--threads") ?? "1") ?? 1
let metrics = arguments.contains("--metrics")
let otlpEndpoint = option("--otlp-endpoint")

if metrics || otlpEndpoint != nil {
    var flags = ["--threads", String(threads), "--grace-period", "5", "--log-level", "warning"]
    if metrics { flags += ["--admin-listen", "127.0.0.1:\(option("--admin-port") ?? "0")"] }
    if let otlpEndpoint { flags += ["--otlp-endpoint", otlpEndpoint, "--trace-sample-rate", option("--trace-sample-rate") ?? "0.01"] }
    let runner = try ServiceRunner(try ServiceOptions.parse(flags), label: "meshline.bench.rpc")
    let server = RPCServer(configuration: try runner.serverConfiguration(listen: "127.0.0.1:\(port)"), services: [EchoService()], logger: runner.logger)
    // ServiceRunner prints `meshline-bench-rpc-server listening on 127.0.0.1:PORT`.
    try await runner.run(name: "meshline-bench-rpc-server", server: server, services: [])
} else {
    var configuration = RPCServer.Configuration()
    configuration.port = port
    configuration.threads = threads
    configuration.drainGracePeriod = .seconds(5)
    var logger = Logger(label: "meshline.bench.rpc")
    logger.logLevel = .warning
    let server = RPCServer(configuration: configuration, services: [EchoService()], logger: logger)
    let bound = try await server.start()
    print("listening on \(bound)")

    let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    try await group.run()
}
