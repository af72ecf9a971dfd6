import ArgumentParser
import Foundation
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineRegistry

/// The `meshline` command-line tool for operators and connector authors.
@main
struct MeshlineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meshline",
        abstract: "Meshline: deterministic fulfillment routing with ownership-friendly exports.",
        discussion: """
            The mesh is three gRPC services: the decision service, the export registry
            and the exception router. Their contract is proto/meshline/v1/*.proto.
            Commands that talk to the mesh find it with --registry/--decision/--exceptions
            (or $MESHLINE_REGISTRY, $MESHLINE_DECISION, $MESHLINE_EXCEPTIONS) and act for
            --tenant (or $MESHLINE_TENANT). Add --json for output that scripts can parse.

            """ + ExitStatus.help,
        version: MeshlineVersion.current,
        subcommands: [
            DevCommand.self, DemoCommand.self, ExportCommand.self, OverrideCommand.self, KeysCommand.self, ReconcileCommand.self, VerifyCommand.self, HealthCommand.self,
            ContractCommand.self, DecideCommand.self, InventoryCommand.self, RulesCommand.self, QueueCommand.self,
        ]
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

/// `meshline verify`: recomputes every audit chain of a registry's storage.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute every export's audit hash chain and name any broken entry.",
        discussion: """
            With --data-dir, reads the registry's SQLite file directly (the registry may keep running). \
            With --registry and --tenant, asks a running registry for every export of the tenant and its history. \
            Exit code 0: every chain is intact; 1: a chain is broken; 2: the storage or registry cannot be read.
            """
    )

    @Option(help: "The registry's data directory.")
    var dataDir = "./meshline-data"

    @Option(help: "A running registry, HOST:PORT, to verify over gRPC instead of reading --data-dir.")
    var registry: String?

    @Option(help: "With --registry: the tenant whose exports to verify.")
    var tenant: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        if let registry {
            guard let tenant else { throw ValidationError("--registry needs --tenant: a registry only shows one tenant's exports at a time") }
            try await report(try await Self.verifyRemote(registry, tenant: tenant, progress: !json))
            return
        }
        let path = (dataDir as NSString).appendingPathComponent("registry.sqlite")
        guard FileManager.default.fileExists(atPath: path) else {
            FileHandle.standardError.write(Data("meshline verify: no registry database at \(path); pass the registry's --data-dir\n".utf8))
            throw ExitCode(2)
        }
        let summary: Verification.Summary
        do {
            let store = try SQLiteRegistryStore(path: path)
            summary = try await Verification.verifyAll(store) { count in
                if !json && count % 10_000 == 0 { FileHandle.standardError.write(Data("verified \(count) versions…\n".utf8)) }
            }
            await store.close()
        } catch {
            FileHandle.standardError.write(Data("meshline verify: \(error.rpcError.message)\n".utf8))
            throw ExitCode(2)
        }
        try await report(summary)
    }

    /// Every export of `tenant` from a running registry: List page by page, then each export's History.
    static func verifyRemote(_ endpoint: String, tenant: String, progress: Bool) async throws -> Verification.Summary {
        let client: RPCClient
        do {
            client = try RPCClient(endpoints: [endpoint])
        } catch {
            throw ValidationError("--registry: \(error.message)")
        }
        defer { Task { await client.close() } }
        do {
            return try await verifyRemote(client, tenant: tenant, progress: progress)
        } catch let error as RPCError {
            FileHandle.standardError.write(Data("meshline verify: \(error.message)\n".utf8))
            throw ExitCode(2)
        }
    }

    static func verifyRemote(_ client: RPCClient, tenant: String, progress: Bool = false) async throws -> Verification.Summary {
        var summary = Verification.Summary()
        var token = ""
        repeat {
            let page: ListExportsResponse = try await client.unary(
                ExportRegistryDescriptor.list, ListExportsRequest(tenantID: tenant, pageSize: 500, pageToken: token))
            for export in page.exports {
                let history: HistoryResponse = try await client.unary(
                    ExportRegistryDescriptor.history, HistoryRequest(tenantID: tenant, exportID: export.exportID))
                summary.check(history: history.versions)
            }
            token = page.nextPageToken
            if progress { FileHandle.standardError.write(Data("verified \(summary.exports.count) exports…\n".utf8)) }
        } while !token.isEmpty
        return summary
    }

    private func report(_ summary: Verification.Summary) async throws {
        if json {
            let breaks = summary.breaks.map { ["tenant_id": $0.tenantID, "export_id": $0.exportID, "version": String($0.version), "entry": String($0.sequence), "problem": $0.problem] }
            let object: [String: Any] = ["versions": summary.versions, "exports": summary.exports.count, "intact": summary.breaks.isEmpty, "breaks": breaks]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        } else if summary.breaks.isEmpty {
            print("ok: \(summary.versions) versions of \(summary.exports.count) exports, every audit chain intact")
        } else {
            for broken in summary.breaks { print("BROKEN \(broken)") }
            print("\(summary.breaks.count) broken audit entries in \(summary.versions) versions of \(summary.exports.count) exports")
        }
        if !summary.breaks.isEmpty { throw ExitCode(1) }
    }
}
