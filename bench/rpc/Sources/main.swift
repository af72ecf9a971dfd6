// A MeshlineRPC server for load tests: serves grpc.health.v1.Health and the Echo
// test service on loopback until SIGTERM or SIGINT, then drains and exits 0.
//
//   meshline-bench-rpc-server [--port N] [--threads N]
//
// Prints `listening on PORT` once ready.

import Logging
import MeshlineEcho
import MeshlineHTTP2
import ServiceLifecycle
import UnixSignals

let arguments = CommandLine.arguments
func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}

var configuration = RPCServer.Configuration()
configuration.port = Int(option("--port") ?? "0") ?? 0
configuration.threads = Int(option("--threads") ?? "1") ?? 1
configuration.drainGracePeriod = .seconds(5)
var logger = Logger(label: "meshline.bench.rpc")
logger.logLevel = .warning
let server = RPCServer(configuration: configuration, services: [EchoService()], logger: logger)
let port = try await server.start()
print("listening on \(port)")

let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
try await group.run()
