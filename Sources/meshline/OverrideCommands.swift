import ArgumentParser
import Crypto
import Foundation
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineService

/// A local Ed25519 signing key: a JSON file readable by its owner only. The private
/// key never leaves the file; commands print the public key and the key id.
struct KeyFile: Codable {
    var key_id: String
    var public_key: String
    var private_key: String

    static func load(_ path: String) throws -> (keyID: String, key: Curve25519.Signing.PrivateKey) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIFailure.badInput("cannot read key file \(path); create one with `meshline keys generate --out \(path)`")
        }
        guard let file = try? JSONDecoder().decode(KeyFile.self, from: data),
              let raw = Data(base64Encoded: file.private_key),
              let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw) else {
            throw CLIFailure.badInput("\(path) is not a key file written by `meshline keys generate`")
        }
        return (file.key_id, key)
    }
}

/// `meshline keys …`: create signing keys and trust them in the registry's tenants file.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create Ed25519 signing keys for overrides and trust them in a tenants file.",
        subcommands: [Generate.self, Trust.self, APIKey.self]
    )

    struct APIKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "api-key",
            abstract: "Create a connector API key: prints the key once and stores only its SHA-256 in the keys file.",
            discussion: "Services read the file with --api-keys; callers send 'authorization: Bearer KEY' (the CLI: $MESHLINE_API_KEY or --api-key-file).")

        @Option(help: "API keys file to add the key to (created when missing).")
        var keysFile: String
        @Option(help: "Name of the key, e.g. acme-connector; shown in logs and audit.")
        var id: String
        @Option(help: "Tenant the key may act for; repeat for several; '*' for a mesh service that acts for every tenant.")
        var tenant: [String]

        func run() throws {
            guard !tenant.isEmpty else {
                printError("meshline keys api-key: name at least one --tenant (or '*' for a mesh service)")
                throw ExitCode(ExitStatus.badInput)
            }
            do {
                let secret = try APIKeyPolicy.addKey(id: id, tenants: tenant, to: keysFile)
                print(secret)
                printError("added key '\(id)' for \(tenant.joined(separator: ", ")) to \(keysFile); the key above is shown only now")
            } catch {
                printError("meshline keys api-key: \(error)")
                throw ExitCode(ExitStatus.badInput)
            }
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a signing key file (mode 0600); prints the key id and public key, never the private key.")

        @Option(help: "Key file to write; refused when it exists.")
        var out: String
        @Option(help: "Key id the registry will know the key by.")
        var keyID: String
        @Flag(help: "Print JSON.")
        var json = false

        func run() throws {
            guard !FileManager.default.fileExists(atPath: out) else {
                printError("meshline keys generate: \(out) exists; choose another --out (keys are never overwritten)")
                throw ExitCode(ExitStatus.badInput)
            }
            let key = Curve25519.Signing.PrivateKey()
            let publicKey = key.publicKey.rawRepresentation.base64EncodedString()
            let file = KeyFile(key_id: keyID, public_key: publicKey, private_key: key.rawRepresentation.base64EncodedString())
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            guard FileManager.default.createFile(atPath: out, contents: try encoder.encode(file), attributes: [.posixPermissions: 0o600]) else {
                printError("meshline keys generate: cannot write \(out)")
                throw ExitCode(ExitStatus.badInput)
            }
            if json {
                print(JSONValue.object([JSONMember("key_id", .string(keyID)), JSONMember("public_key", .string(publicKey)), JSONMember("file", .string(out))]).text())
            } else {
                print("wrote \(out) (private, mode 0600)\nkey id      \(keyID)\npublic key  \(publicKey)\ntrust it:   meshline keys trust --tenants tenants.json --tenant TENANT --key-file \(out) --can-override")
            }
        }
    }

    struct Trust: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add (or replace) a public key in a registry tenants file; the registry reads it at start.")

        @Option(help: "The tenants file to update (created when missing).")
        var tenants: String
        @Option(help: "Tenant that trusts the key.")
        var tenant: String
        @Option(help: "Key file from `keys generate` (only its public key is read into the tenants file).")
        var keyFile: String?
        @Option(help: "Key id, with --public-key.")
        var keyID: String?
        @Option(help: "Base64 of a 32-byte Ed25519 public key, with --key-id.")
        var publicKey: String?
        @Flag(help: "Allow the key to sign overrides (otherwise it is listed but may not override).")
        var canOverride = false

        func run() throws {
            let keyID: String, publicKey: String
            if let keyFile {
                let loaded = try loadOrExit { try KeyFile.load(keyFile) }
                (keyID, publicKey) = (loaded.keyID, loaded.key.publicKey.rawRepresentation.base64EncodedString())
            } else if let id = self.keyID, let key = self.publicKey {
                guard let raw = Data(base64Encoded: key), raw.count == 32 else {
                    printError("meshline keys trust: --public-key must be the base64 of 32 bytes")
                    throw ExitCode(ExitStatus.badInput)
                }
                (keyID, publicKey) = (id, key)
            } else {
                printError("meshline keys trust: pass --key-file, or --key-id with --public-key")
                throw ExitCode(ExitStatus.badInput)
            }
            var document: [String: Any] = ["tenants": [String: Any]()]
            if let data = FileManager.default.contents(atPath: tenants) {
                guard let parsed = try? JSONSerialization.jsonObject(with: data) as? [String: Any], parsed["tenants"] is [String: Any] else {
                    printError("meshline keys trust: \(tenants) is not a tenants file (a JSON object with \"tenants\")")
                    throw ExitCode(ExitStatus.badInput)
                }
                document = parsed
            }
            var all = document["tenants"] as? [String: Any] ?? [:]
            var entry = all[tenant] as? [String: Any] ?? [:]
            var keys = (entry["keys"] as? [[String: Any]] ?? []).filter { ($0["key_id"] as? String) != keyID }
            keys.append(["key_id": keyID, "public_key": publicKey, "can_override": canOverride])
            entry["keys"] = keys
            all[tenant] = entry
            document["tenants"] = all
            try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]).write(to: URL(fileURLWithPath: tenants))
            print("\(tenants): tenant \(tenant) trusts key \(keyID)\(canOverride ? " to sign overrides" : " (no override right)"); restart the registry to load it")
        }
    }
}

private func loadOrExit<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let failure as CLIFailure {
        printError("meshline: \(failure.message)")
        throw ExitCode(failure.status)
    }
}

/// `meshline override …`: the only way a human changes a decision.
struct OverrideCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "override",
        abstract: "Sign a change to an export with a local key, and submit it to the registry.",
        discussion: "The signature covers \"meshline-override-v1\\n\" + the deterministic protobuf encoding of the change. " + ExitStatus.help,
        subcommands: [Sign.self, Submit.self]
    )

    struct Sign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign an override; writes the signed override as JSON (or submits it with --submit).")

        @OptionGroup var mesh: MeshOptions
        @Option(help: "Key file from `meshline keys generate`.")
        var key: String
        @Option(help: "The export to change.")
        var export: String
        @Option(help: "The export's current version, which the change applies to.")
        var baseVersion: Int64
        @Option(help: "Why (required).")
        var justification: String
        @Option(help: "New owning party, e.g. merchant:acme-ops.")
        var owner: String?
        @Option(help: "New watchers (replace the current ones); repeat for several.")
        var watcher: [String] = []
        @Option(help: "New intended action, e.g. route-to-warehouse:WH-B.")
        var action = ""
        @Option(help: "New state: cancelled or completed.")
        var state: String?
        @Option(help: "New time-to-live end (Unix ms or ISO 8601).")
        var expiresAt: String?
        @Option(help: "Write the signed override to this file instead of standard output.")
        var out: String?
        @Flag(help: "Submit the signed override to the registry at once.")
        var submit = false

        func run() async throws {
            try await runReporting("override sign") {
                guard !justification.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw CLIFailure.badInput("--justification is empty; say why the decision changes")
                }
                let (keyID, privateKey) = try KeyFile.load(key)
                var change = OverrideChange(
                    tenantID: try mesh.requireTenant(), exportID: export, baseVersion: baseVersion, intendedAction: action,
                    justification: justification, signerKeyID: keyID, issuedAtUnixMs: nowMilliseconds(), nonce: UUID().uuidString)
                do {
                    if let owner { change.owningParty = try Party(parsing: owner) }
                    if !watcher.isEmpty {
                        change.watchers = try watcher.map { text throws(PartyParseError) in try Party(parsing: text) }
                        change.replaceWatchers = true
                    }
                } catch {
                    throw CLIFailure.badInput("party: \(error)")
                }
                if let state { change.state = try parseEnum(state, option: "--state", prefix: "EXPORT_STATE_") }
                if let expiresAt { change.expiresAtUnixMs = try parseTime(expiresAt, option: "--expires-at") }
                let signed = SignedOverride(change: change, signature: Array(try privateKey.signature(for: change.signingBytes)))
                if submit {
                    try await OverrideCommand.submit(signed, mesh: mesh)
                } else if let out {
                    try Data(signed.protoJSON.text().utf8).write(to: URL(fileURLWithPath: out))
                    print("signed with \(keyID); submit with: meshline override submit --file \(out)")
                } else {
                    print(signed.protoJSON.text())
                }
            }
        }
    }

    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Submit a signed override (JSON from `override sign`) to the registry.")

        @OptionGroup var mesh: MeshOptions
        @Option(help: "The signed override ('-' reads standard input).")
        var file: String

        func run() async throws {
            try await runReporting("override submit") {
                try await OverrideCommand.submit(try readMessage(file, root: "override"), mesh: mesh)
            }
        }
    }

    static func submit(_ signed: SignedOverride, mesh: MeshOptions) async throws {
        let response: OverrideResponse = try await withClient(try mesh.registry()) { client in
            try await client.unary(ExportRegistryDescriptor.override, OverrideRequest(override: signed))
        }
        mesh.emit(response) { "override applied:\n" + ExportText.summary(response.export ?? Export(), audit: true) }
    }
}

/// `meshline reconcile`: SLA outcomes against actual ship times.
struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Report SLA outcomes (on time, late, open past ship-by, median lateness) by owner, warehouse and service level.")

    @OptionGroup var mesh: MeshOptions
    @Option(help: "Start of the ship-by range (Unix ms or ISO 8601); default 30 days ago.")
    var from: String?
    @Option(help: "End of the ship-by range (exclusive); default now.")
    var to: String?

    func run() async throws {
        try await runReporting("reconcile") {
            let tenant = try mesh.requireTenant()
            let fromTime = try from.map { try parseTime($0, option: "--from") } ?? nowMilliseconds() - 30 * 86_400_000
            let toTime = try to.map { try parseTime($0, option: "--to") } ?? 0
            let response: ReconcileResponse = try await withClient(try mesh.registry()) { client in
                try await client.unary(ExportRegistryDescriptor.reconcile, ReconcileRequest(tenantID: tenant, fromUnixMs: fromTime, toUnixMs: toTime))
            }
            mesh.emit(response) { ReconcileText.report(response.report ?? ReconcileReport()) }
        }
    }
}

enum ReconcileText {
    static func report(_ report: ReconcileReport) -> String {
        var lines = ["SLA outcomes for \(report.tenantID), ship-by \(formatTime(report.fromUnixMs)) to \(formatTime(report.toUnixMs))",
                     row("", "on time", "late", "open late", "open", "median late")]
        lines.append(row("total", report.total ?? SlaOutcome()))
        for (title, groups) in [("by owner", report.byOwner), ("by warehouse", report.byWarehouse), ("by service level", report.byServiceLevel)] where !groups.isEmpty {
            lines.append(title)
            for group in groups { lines.append(row("  " + group.key, group.outcome ?? SlaOutcome())) }
        }
        return lines.joined(separator: "\n")
    }

    private static func row(_ key: String, _ outcome: SlaOutcome) -> String {
        let median = outcome.medianLatenessMs == 0 ? "-" : String(format: "%.1f h", Double(outcome.medianLatenessMs) / 3_600_000)
        return row(key, String(outcome.onTime), String(outcome.late), String(outcome.openPastShipBy), String(outcome.openWithinSLA), median)
    }

    private static func row(_ columns: String...) -> String {
        columns[0].padding(toLength: 28, withPad: " ", startingAt: 0) + columns.dropFirst().map { $0.padding(toLength: 12, withPad: " ", startingAt: 0) }.joined()
    }
}
