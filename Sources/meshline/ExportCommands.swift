import ArgumentParser
import Foundation
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC

/// `meshline export …`: publish, read, watch and acknowledge exports in the registry.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Publish, read, watch and acknowledge exports in the export registry.",
        discussion: "Exports as files are JSON in the form of schema/export.schema.json (the .proto field names). " + ExitStatus.help,
        subcommands: [Publish.self, Get.self, History.self, List.self, Watch.self, Ack.self]
    )

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish an export from a JSON file (QA gate first; every violation is listed).")

        @OptionGroup var mesh: MeshOptions
        @Option(help: "JSON file with the export ('-' reads standard input).")
        var file: String
        @Option(help: "The current version this export supersedes; 0 publishes a new export.")
        var expectedVersion: Int64 = 0
        @Option(help: "Idempotency key: a retry with the same key and content returns the stored export.")
        var idempotencyKey = ""

        func run() async throws {
            try await runReporting("export publish") {
                let export: Export = try readMessage(file, root: "export")
                let tenant = mesh.tenant ?? ProcessInfo.processInfo.environment["MESHLINE_TENANT"] ?? export.tenantID
                let response: PublishResponse = try await withClient(try mesh.registry()) { client in
                    try await client.unary(ExportRegistryDescriptor.publish, PublishRequest(
                        tenantID: tenant, export: export, idempotencyKey: idempotencyKey, expectedVersion: expectedVersion))
                }
                mesh.emit(response) {
                    (response.replayed ? "already published (idempotent retry):\n" : "published:\n") + ExportText.summary(response.export ?? Export())
                }
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one export (its latest version, or --version).")

        @OptionGroup var mesh: MeshOptions
        @Argument(help: "The export id.")
        var exportID: String
        @Option(help: "Version to read; 0 reads the latest.")
        var version: Int64 = 0

        func run() async throws {
            try await runReporting("export get") {
                let tenant = try mesh.requireTenant()
                let response: GetExportResponse = try await withClient(try mesh.registry()) { client in
                    try await client.unary(ExportRegistryDescriptor.get, GetExportRequest(tenantID: tenant, exportID: exportID, version: version))
                }
                if mesh.json {
                    print((response.export ?? Export()).protoJSON.text())
                } else {
                    print(ExportText.summary(response.export ?? Export(), audit: true))
                }
            }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show every version of an export with its audit trail.")

        @OptionGroup var mesh: MeshOptions
        @Argument(help: "The export id.")
        var exportID: String

        func run() async throws {
            try await runReporting("export history") {
                let tenant = try mesh.requireTenant()
                let response: HistoryResponse = try await withClient(try mesh.registry()) { client in
                    try await client.unary(ExportRegistryDescriptor.history, HistoryRequest(tenantID: tenant, exportID: exportID))
                }
                mesh.emit(response) {
                    guard let latest = response.versions.last else { return "no versions" }
                    let versions = response.versions.map { "v\($0.version) \(shortName($0.state.protoName, prefix: "EXPORT_STATE_"))  \($0.intendedAction)  owner \($0.owningParty?.text ?? "-")" }
                    return versions.joined(separator: "\n") + "\n\naudit trail of v\(latest.version):\n" + ExportText.audit(latest)
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's exports (latest versions), filtered and paged.")

        @OptionGroup var mesh: MeshOptions
        @Option(help: "Only exports owned by this party, e.g. agency:fulfillment-team.")
        var owner: String?
        @Option(help: "Only exports in this state: published, accepted, rejected, in-exception, superseded, completed, expired, cancelled.")
        var state: String?
        @Option(help: "Only exports of this order.")
        var order = ""
        @Option(help: "Only exports of this kind: routing, backorder, packing, shipping.")
        var kind: String?
        @Option(help: "Exports per page (at most 1000).")
        var pageSize: Int32 = 100
        @Option(help: "Continue from a page token printed by an earlier call.")
        var pageToken = ""
        @Flag(help: "Follow page tokens until the last page.")
        var all = false

        func run() async throws {
            try await runReporting("export list") {
                let tenant = try mesh.requireTenant()
                var request = ListExportsRequest(tenantID: tenant, orderID: order, pageSize: pageSize, pageToken: pageToken)
                if let owner {
                    do { request.owner = try Party(parsing: owner) } catch { throw CLIFailure.badInput("--owner: \(error)") }
                }
                if let state { request.state = try parseEnum(state, option: "--state", prefix: "EXPORT_STATE_") }
                if let kind { request.kind = try parseEnum(kind, option: "--kind", prefix: "EXPORT_KIND_") }
                try await withClient(try mesh.registry()) { client in
                    repeat {
                        let page: ListExportsResponse = try await client.unary(ExportRegistryDescriptor.list, request)
                        mesh.emit(page) {
                            (page.exports.map(ExportText.line) + (page.nextPageToken.isEmpty || all ? [] : ["next page: --page-token \(page.nextPageToken)"]))
                                .joined(separator: "\n")
                        }
                        request.pageToken = page.nextPageToken
                    } while all && !request.pageToken.isEmpty
                }
            }
        }
    }

    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stream committed export versions in commit order; resume with --cursor.",
            discussion: "Prints one line per version (one JSON object per line with --json), each with its cursor. Ctrl-C stops.")

        @OptionGroup var mesh: MeshOptions
        @Option(help: "Only exports this party owns or watches; repeat for several.")
        var party: [String] = []
        @Option(help: "Resume after this cursor (printed with each event).")
        var cursor = ""
        @Flag(help: "Without --cursor: replay the tenant's history from the beginning.")
        var fromBeginning = false
        @Option(help: "Stop after this many events (0: never).")
        var limit = 0

        func run() async throws {
            try await runReporting("export watch") {
                let tenant = try mesh.requireTenant()
                var request = WatchRequest(tenantID: tenant, cursor: cursor, fromBeginning: fromBeginning)
                do { request.parties = try party.map { text throws(PartyParseError) in try Party(parsing: text) } } catch { throw CLIFailure.badInput("--party: \(error)") }
                var configurationTimeout = mesh
                configurationTimeout.timeout = 365 * 24 * 3600  // a watch runs until stopped
                try await withClient(try configurationTimeout.registry()) { client in
                    let stream: ResponseStream<WatchEvent> = try await client.serverStreaming(ExportRegistryDescriptor.watch, request)
                    var seen = 0
                    for try await event in stream {
                        if mesh.json {
                            print(event.protoJSON.text(pretty: false))
                        } else {
                            print(ExportText.line(event.export ?? Export()) + "  cursor \(event.cursor)")
                        }
                        fflush(nil)  // each event reaches a pipe at once
                        seen += 1
                        if limit > 0 && seen >= limit { break }
                    }
                }
            }
        }
    }

    struct Ack: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ack",
            abstract: "Acknowledge an export version: accepted, rejected (with a reason) or completed (with the ship time).")

        @OptionGroup var mesh: MeshOptions
        @Argument(help: "The export id.")
        var exportID: String
        @Option(help: "The version acknowledged (must be current).")
        var version: Int64
        @Option(help: "accepted, rejected or completed.")
        var outcome: String
        @Option(help: "For rejections: out-of-stock, incorrect-address, capacity, other.")
        var reason: String?
        @Option(help: "For completions: when it shipped (Unix ms or ISO 8601); default now.")
        var shippedAt: String?
        @Option(help: "Free text for the audit trail.")
        var detail = ""
        @Option(help: "Who acknowledges, as a party, e.g. 3pl:wh-a-ops.")
        var actor: String

        func run() async throws {
            try await runReporting("export ack") {
                let tenant = try mesh.requireTenant()
                var request = AcknowledgeRequest(tenantID: tenant, exportID: exportID, version: version, detail: detail)
                request.outcome = try parseEnum(outcome, option: "--outcome", prefix: "ACK_OUTCOME_")
                do { request.actor = try Party(parsing: actor) } catch { throw CLIFailure.badInput("--actor: \(error)") }
                if request.outcome == .rejected {
                    guard let reason else { throw CLIFailure.badInput("--outcome rejected needs --reason (out-of-stock, incorrect-address, capacity, other)") }
                    request.reason = try parseEnum(reason, option: "--reason", prefix: "REJECTION_REASON_")
                }
                if request.outcome == .completed {
                    request.shippedAtUnixMs = try shippedAt.map { try parseTime($0, option: "--shipped-at") } ?? nowMilliseconds()
                }
                let response: AcknowledgeResponse = try await withClient(try mesh.registry()) { client in
                    try await client.unary(ExportRegistryDescriptor.acknowledge, request)
                }
                mesh.emit(response) { ExportText.summary(response.export ?? Export()) }
            }
        }
    }
}

/// Text forms of exports for people.
enum ExportText {
    /// One line: id, version, kind, state, action, owner, ship-by.
    static func line(_ export: Export) -> String {
        "\(export.exportID) v\(export.version) \(shortName(export.kind.protoName, prefix: "EXPORT_KIND_")) \(shortName(export.state.protoName, prefix: "EXPORT_STATE_"))"
            + "  \(export.intendedAction)  owner \(export.owningParty?.text ?? "-")  ship by \(formatTime(export.sla?.shipByUnixMs ?? 0))"
    }

    /// A few lines with everything a person needs to act on the export.
    static func summary(_ export: Export, audit: Bool = false) -> String {
        var lines = [
            "\(export.exportID) v\(export.version)  \(shortName(export.kind.protoName, prefix: "EXPORT_KIND_"))  \(shortName(export.state.protoName, prefix: "EXPORT_STATE_"))  order \(export.orderID)\(export.shipment > 0 ? " shipment \(export.shipment)" : "")  tenant \(export.tenantID)",
            "  action     \(export.intendedAction)  (rules \(export.decisionVersion))",
            "  owner      \(export.owningParty?.text ?? "-")" + (export.watchers.isEmpty ? "" : "   watchers \(export.watchers.map(\.text).joined(separator: ", "))"),
        ]
        if let sla = export.sla {
            lines.append("  sla        \(sla.serviceLevel), ship by \(formatTime(sla.shipByUnixMs)), pick \(formatTime(sla.pickWindow?.startUnixMs ?? 0)) – \(formatTime(sla.pickWindow?.endUnixMs ?? 0))")
        }
        lines.append("  expires    \(formatTime(export.expiresAtUnixMs))")
        if let path = export.exceptionPath {
            lines.append("  exceptions \(shortName(path.type.protoName, prefix: "EXCEPTION_PATH_TYPE_")) → queue \(path.queue.isEmpty ? "-" : path.queue)")
        }
        if !export.lines.isEmpty {
            lines.append("  lines      \(export.lines.map { "\($0.quantity)× \($0.sku)" }.joined(separator: ", "))")
        }
        for instruction in export.packingInstructions {
            lines.append("  packing    \(instruction.code): \(instruction.text)")
        }
        if export.shippedAtUnixMs != 0 { lines.append("  shipped    \(formatTime(export.shippedAtUnixMs))") }
        if audit { lines.append("  audit trail:\n" + self.audit(export)) }
        return lines.joined(separator: "\n")
    }

    /// The audit trail, one entry per line; overrides show their signer.
    static func audit(_ export: Export) -> String {
        export.auditTrail.map { entry in
            let signed = entry.override.map { "  [signed by \($0.change.signerKeyID): \($0.change.justification)]" } ?? ""
            return "    #\(entry.sequence) \(formatTime(entry.atUnixMs)) v\(entry.version) \(entry.actor): \(entry.change)\(signed)"
        }.joined(separator: "\n")
    }
}
