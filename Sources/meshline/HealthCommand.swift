import ArgumentParser
import Foundation
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC

/// `meshline health HOST:PORT`: asks a service's grpc.health.v1.Health, for scripts and container health checks.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Check a service's health (grpc.health.v1.Health/Check); exit 0 when it is SERVING.",
        discussion: "Exit codes: 0 serving; 1 not serving (e.g. draining); 10 + the gRPC status code when the check itself fails (24: unreachable).")

    @Argument(help: "The service, HOST:PORT.")
    var endpoint: String
    @Option(help: "The service name to ask about, e.g. meshline.v1.ExportRegistry; empty asks about the whole server.")
    var service = ""
    @Option(help: "Seconds to wait.")
    var timeout: Double = 3

    func run() async throws {
        try await runReporting("health") {
            let parsed: RPCClient.Endpoint
            do throws(RPCError) {
                parsed = try RPCClient.Endpoint(parsing: endpoint)
            } catch {
                throw CLIFailure.badInput("\(endpoint): \(error.message)")
            }
            var configuration = RPCClient.Configuration(endpoints: [parsed])
            configuration.defaultTimeout = .milliseconds(Int64(timeout * 1000))
            configuration.connectTimeout = .milliseconds(Int64(timeout * 1000))
            let response: HealthCheckResponse = try await withClient(RPCClient(configuration: configuration)) { client in
                try await client.unary(HealthDescriptor.check, HealthCheckRequest(service: service))
            }
            print("\(endpoint)\(service.isEmpty ? "" : " \(service)"): \(response.status.protoName)")
            if response.status != .serving { throw ExitCode(ExitStatus.checkFailed) }
        }
    }
}
