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
        version: MeshlineVersion.current
    )
}
