import ArgumentParser
import MeshlineModels

/// The `meshline` command-line tool for operators and connector authors.
@main
struct MeshlineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshline",
        abstract: "Meshline: deterministic fulfillment routing with ownership-friendly exports.",
        discussion: """
            The mesh is three gRPC services: the decision service, the export registry
            and the exception router. Their contract is proto/meshline/v1/*.proto.
            """,
        version: MeshlineVersion.current,
        subcommands: [ContractCommand.self]
    )
}

/// `meshline contract`: the services and RPCs this build speaks.
struct ContractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contract",
        abstract: "List the gRPC services and methods of the contract this build speaks."
    )

    func run() {
        let services: [(String, [RPCMethod])] = [
            (ExportRegistryDescriptor.fullName, ExportRegistryDescriptor.methods),
            (DecisionServiceDescriptor.fullName, DecisionServiceDescriptor.methods),
            (ExceptionRouterDescriptor.fullName, ExceptionRouterDescriptor.methods),
            (HealthDescriptor.fullName, HealthDescriptor.methods),
        ]
        print("Meshline \(MeshlineVersion.current), contract \(MeshlineVersion.contractPackage)")
        for (service, methods) in services {
            print("\nservice \(service)")
            for method in methods {
                let response = method.serverStreaming ? "stream \(method.responseType)" : method.responseType
                print("  \(method.name)(\(method.requestType)) -> \(response)")
            }
        }
    }
}
