import ArgumentParser
import Foundation
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC

/// `meshline decide`: one order through the decision service, with its explanation.
struct DecideCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decide",
        abstract: "Decide an order: publish its exports and explain every candidate warehouse.",
        discussion: """
            The order is JSON in the form of schema/order.schema.json (the .proto field names). The tenant is \
            --tenant, $MESHLINE_TENANT, or the order's tenant_id. With --dry-run the decision is made and \
            explained but nothing is published.

            """ + ExitStatus.help)

    @OptionGroup var mesh: MeshOptions
    @Option(help: "JSON file with the order ('-' reads standard input).")
    var file: String
    @Flag(help: "Decide and explain without publishing anything.")
    var dryRun = false

    func run() async throws {
        try await runReporting("decide") {
            let order: Order = try readMessage(file, root: "order")
            let tenant = mesh.tenant ?? ProcessInfo.processInfo.environment["MESHLINE_TENANT"] ?? order.tenantID
            guard !tenant.isEmpty else {
                throw CLIFailure.badInput("no tenant: set tenant_id in \(file), or pass --tenant TENANT")
            }
            let response: DecideResponse = try await withClient(try mesh.decision()) { client in
                try await client.unary(DecisionServiceDescriptor.decide, DecideRequest(tenantID: tenant, order: order, dryRun: dryRun))
            }
            mesh.emit(response) { DecisionText.describe(response.decision ?? Decision(), dryRun: dryRun) }
        }
    }
}

/// Text forms of decisions for people.
enum DecisionText {
    static func describe(_ decision: Decision, dryRun: Bool) -> String {
        var lines = ["order \(decision.orderID) of tenant \(decision.tenantID), rules \(decision.decisionVersion)"]
        let now = nowMilliseconds()
        if decision.exports.isEmpty {
            lines.append("no exports")
        } else {
            lines.append(dryRun ? "would publish (dry run, nothing published):" : "published:")
        }
        for export in decision.exports {
            lines.append(ExportText.summary(export))
            lines.append("  ttl        \(duration(export.expiresAtUnixMs - now))")
        }
        let explanation = decision.explanation ?? Explanation()
        lines.append("")
        lines.append(textTable(
            ["WAREHOUSE", "ELIGIBLE", "CHOSEN", "SHIPMENTS", "COST", "KM", "REASON"],
            explanation.candidates.map { candidate in
                [
                    candidate.warehouseID, candidate.eligible ? "yes" : "no", candidate.chosen ? "yes" : "no", String(candidate.shipments),
                    String(format: "%.2f", candidate.cost), String(candidate.distanceKm), candidate.reason,
                ]
            }))
        lines.append("summary: \(explanation.summary)" + (explanation.inventoryStale ? "  (inventory stale: short TTL)" : ""))
        return lines.joined(separator: "\n")
    }

    /// `4h 0m`, `25m`, `expired` for a span in milliseconds.
    static func duration(_ milliseconds: Int64) -> String {
        guard milliseconds > 0 else { return "expired" }
        let minutes = milliseconds / 60_000
        return minutes >= 60 ? "\(minutes / 60)h \(minutes % 60)m" : "\(minutes)m"
    }
}

/// Columns padded to their widest cell; the last column is left unpadded.
func textTable(_ headers: [String], _ rows: [[String]]) -> String {
    let all = [headers] + rows
    let widths = headers.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { row in
        row.enumerated().map { column, cell in
            column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}

/// `meshline inventory update`: stock levels into the decision service's view.
struct InventoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "Send stock levels to the decision service.",
        subcommands: [Update.self])

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Update stock levels per warehouse and SKU; exports that depend on them are re-evaluated.",
            discussion: """
                Give levels as repeated --warehouse W --sku S --on-hand N triples (the n-th of each belong together), \
                or as --file levels.json holding a JSON array of InventoryLevel objects \
                ({"warehouse_id": …, "sku": …, "on_hand": …, "as_of_unix_ms": …}). A level older than the one \
                the service knows is ignored.
                """)

        @OptionGroup var mesh: MeshOptions
        @Option(help: "Warehouse of a level; repeat once per level.")
        var warehouse: [String] = []
        @Option(help: "SKU of a level; repeat once per level.")
        var sku: [String] = []
        @Option(help: "Units on hand of a level; repeat once per level.")
        var onHand: [Int64] = []
        @Option(help: "When the levels were counted (Unix ms or ISO 8601): once for all, or once per level. Default: now.")
        var asOf: [String] = []
        @Option(help: "JSON file with an array of InventoryLevel ('-' reads standard input), instead of the triples.")
        var file: String?

        func run() async throws {
            try await runReporting("inventory update") {
                let tenant = try mesh.requireTenant()
                let levels = try file.map(Self.read) ?? triples()
                let response: UpdateInventoryResponse = try await withClient(try mesh.decision()) { client in
                    try await client.unary(DecisionServiceDescriptor.updateInventory, UpdateInventoryRequest(tenantID: tenant, levels: levels))
                }
                mesh.emit(response) {
                    "applied \(response.applied) of \(levels.count) levels (older ones are ignored)\n"
                        + "re-evaluated: " + (response.reevaluatedExportIDs.isEmpty ? "none" : response.reevaluatedExportIDs.joined(separator: ", "))
                }
            }
        }

        private func triples() throws -> [InventoryLevel] {
            guard !warehouse.isEmpty else {
                throw CLIFailure.badInput("no levels: pass --warehouse W --sku S --on-hand N (repeat for more), or --file levels.json")
            }
            guard sku.count == warehouse.count, onHand.count == warehouse.count else {
                throw CLIFailure.badInput(
                    "\(warehouse.count) --warehouse, \(sku.count) --sku and \(onHand.count) --on-hand: give one of each per level")
            }
            guard asOf.count <= 1 || asOf.count == warehouse.count else {
                throw CLIFailure.badInput("\(asOf.count) --as-of for \(warehouse.count) levels: give one for all, or one per level")
            }
            let times = try asOf.map { try parseTime($0, option: "--as-of") }
            let now = nowMilliseconds()
            return warehouse.indices.map { index in
                InventoryLevel(
                    warehouseID: warehouse[index], sku: sku[index], onHand: onHand[index],
                    asOfUnixMs: times.isEmpty ? now : times[times.count == 1 ? 0 : index])
            }
        }

        private static func read(_ path: String) throws -> [InventoryLevel] {
            let data = try readInput(path)
            do {
                return try [InventoryLevel](protoJSON: try JSONValue(parsing: data), path: "levels")
            } catch let error as ProtoJSONError {
                throw CLIFailure.badInput("\(path): \(error.description); the file holds a JSON array of InventoryLevel")
            } catch {
                throw CLIFailure.badInput("\(path): \(error)")
            }
        }
    }
}

/// The bytes of a file, or of standard input for `-`.
func readInput(_ path: String) throws -> Data {
    if path == "-" { return FileHandle.standardInput.readDataToEndOfFile() }
    guard let contents = FileManager.default.contents(atPath: path) else {
        throw CLIFailure.badInput("cannot read \(path): no such file or no permission")
    }
    return contents
}
