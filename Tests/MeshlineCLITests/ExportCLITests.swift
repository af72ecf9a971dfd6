import Foundation
import MeshlineModels
import MeshlineTestSupport
import Testing

/// `meshline export|keys|override|reconcile|verify` run as processes against a real
/// `meshline-registry` process: exit codes, stdout, stderr and JSON are what users see.
@Suite(.serialized) struct ExportCLITests {
    final class Mesh {
        let directory: URL
        let registry: ServiceProcess
        let keyFile: URL

        init() async throws {
            directory = try Scripts.temporaryDirectory()
            keyFile = directory.appendingPathComponent("ops.key")
            let tenants = directory.appendingPathComponent("tenants.json").path
            let generated = try await Binaries.run("meshline", ["keys", "generate", "--out", keyFile.path, "--key-id", "ops-1"])
            precondition(generated.status == 0, generated.stderr)
            let trusted = try await Binaries.run("meshline", ["keys", "trust", "--tenants", tenants, "--tenant", "acme", "--key-file", keyFile.path, "--can-override"])
            precondition(trusted.status == 0, trusted.stderr)
            registry = try ServiceProcess("meshline-registry", [
                "--listen", "127.0.0.1:0", "--data-dir", directory.appendingPathComponent("data").path, "--tenants", tenants, "--threads", "1",
            ])
        }

        /// Runs `meshline ARGS` for tenant acme against this registry.
        func cli(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await Binaries.run("meshline", arguments, environment: ["MESHLINE_REGISTRY": registry.endpoint, "MESHLINE_TENANT": "acme"], directory: directory)
        }

        func write(_ export: JSONValue, as name: String) throws -> String {
            let path = directory.appendingPathComponent(name).path
            try Data(export.text().utf8).write(to: URL(fileURLWithPath: path))
            return path
        }

        func stop() {
            #expect(registry.stop() == 0)
            try? FileManager.default.removeItem(at: directory)
        }
    }

    static func export(_ id: String, order: String) -> Export {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let hour: Int64 = 3_600_000
        return Export(
            exportID: id, tenantID: "acme", orderID: order, kind: .routing,
            owningParty: Party(role: .agency, name: "fulfillment-team"), decisionVersion: "v3.1", intendedAction: "route-to-warehouse:WH-A",
            sla: Sla(shipByUnixMs: now + 24 * hour, pickWindow: PickWindow(startUnixMs: now + hour, endUnixMs: now + 2 * hour), serviceLevel: "standard"),
            expiresAtUnixMs: now + hour, exceptionPath: ExceptionPath(type: .autoRetry, queue: "agency-ops"), warehouseID: "WH-A",
            lines: [ExportLine(sku: "SKU-1", quantity: 2)])
    }

    @Test func publishGetAckAndTheJSONMatchesTheSchema() async throws {
        let mesh = try await Mesh()
        defer { mesh.stop() }
        let file = try mesh.write(Self.export("exp-1", order: "o-1").protoJSON, as: "exp-1.json")

        let published = try await mesh.cli(["export", "publish", "--file", file, "--idempotency-key", "k-1"])
        #expect(published.status == 0, "\(published.stderr)")
        #expect(published.stdout.contains("exp-1 v1  routing  published"))
        let retried = try await mesh.cli(["export", "publish", "--file", file, "--idempotency-key", "k-1"])
        #expect(retried.status == 0 && retried.stdout.contains("idempotent retry"))

        let accepted = try await mesh.cli(["export", "ack", "exp-1", "--version", "1", "--outcome", "accepted", "--actor", "3pl:wh-a-ops"])
        #expect(accepted.status == 0 && accepted.stdout.contains("exp-1 v2  routing  accepted"), "\(accepted.stderr)")

        let got = try await mesh.cli(["export", "get", "exp-1", "--json"])
        #expect(got.status == 0)
        let export = try Export(jsonText: Data(got.stdout.utf8), root: "stdout")
        #expect(export.version == 2 && export.state == .accepted && export.auditTrail.count == 2)

        // The printed JSON is valid against schema/export.schema.json and reads the same in Python protobuf.
        let work = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        try Data(got.stdout.utf8).write(to: work.appendingPathComponent("get.json"))
        try Data(export.serializedBytes()).write(to: work.appendingPathComponent("get.bin"))
        let checked = try await Scripts.runPython(["Tests/Interop/json_interop.py", work.path, "schema/export.schema.json", "meshline.v1.Export"])
        #expect(checked.status == 0 && checked.output.contains("1 documents, 0 problems"), "\(checked.output)")

        let listed = try await mesh.cli(["export", "list", "--state", "accepted"])
        #expect(listed.stdout.contains("exp-1 v2 routing accepted"))
        let none = try await mesh.cli(["export", "list", "--state", "rejected"])
        #expect(none.status == 0 && !none.stdout.contains("exp-1"))
    }

    @Test func refusalsExitWithTenPlusTheStatusCodeAndSayWhatToFix() async throws {
        let mesh = try await Mesh()
        defer { mesh.stop() }
        var bad = Self.export("exp-bad", order: "o-bad")
        bad.owningParty = nil
        bad.sla?.serviceLevel = ""
        let invalid = try await mesh.cli(["export", "publish", "--file", try mesh.write(bad.protoJSON, as: "bad.json")])
        #expect(invalid.status == 13)
        #expect(invalid.stderr.contains("  - export.owning_party:") && invalid.stderr.contains("  - export.sla.service_level:"), "\(invalid.stderr)")

        let file = try mesh.write(Self.export("exp-2", order: "o-2").protoJSON, as: "exp-2.json")
        #expect(try await mesh.cli(["export", "publish", "--file", file]).status == 0)
        let conflict = try await mesh.cli(["export", "publish", "--file", file])
        #expect(conflict.status == 19 && conflict.stderr.contains("pass expected_version=1"))
        let stale = try await mesh.cli(["export", "publish", "--file", file, "--expected-version", "7"])
        #expect(stale.status == 20)
        let missing = try await mesh.cli(["export", "get", "nope"])
        #expect(missing.status == 15 && missing.stderr.contains("NOT_FOUND"))

        let typo = try mesh.write(.object([JSONMember("export_id", .string("x")), JSONMember("ship_by", .integer(1))]), as: "typo.json")
        let unreadable = try await mesh.cli(["export", "publish", "--file", typo])
        #expect(unreadable.status == 2 && unreadable.stderr.contains("export.ship_by: is not a field here"), "\(unreadable.stderr)")
        let noTenant = try await Binaries.run("meshline", ["export", "get", "exp-2", "--registry", mesh.registry.endpoint])
        #expect(noTenant.status == 2 && noTenant.stderr.contains("--tenant"))
        let badReason = try await mesh.cli(["export", "ack", "exp-2", "--version", "1", "--outcome", "rejected", "--reason", "lost", "--actor", "3pl:wh-a"])
        #expect(badReason.status == 2 && badReason.stderr.contains("out-of-stock"))

        // Nobody listens on the port of a stopped registry.
        let closed = try ServiceProcess("meshline-registry", ["--listen", "127.0.0.1:0", "--data-dir", mesh.directory.appendingPathComponent("other").path])
        let endpoint = closed.endpoint
        closed.stop()
        let down = try await Binaries.run("meshline", ["export", "get", "exp-2", "--tenant", "acme", "--registry", endpoint, "--timeout", "2"])
        #expect(down.status == 24, "\(down.stderr)")
    }

    @Test func aSignedOverrideIsAppliedAndThePrivateKeyNeverPrinted() async throws {
        let mesh = try await Mesh()
        defer { mesh.stop() }
        #expect(try await mesh.cli(["export", "publish", "--file", try mesh.write(Self.export("exp-o", order: "o-o").protoJSON, as: "o.json")]).status == 0)
        let keyText = try String(contentsOf: mesh.keyFile, encoding: .utf8)
        let privateKey = try #require(JSONValue(parsing: Data(keyText.utf8))["private_key"])
        guard case .string(let secret) = privateKey else { Issue.record("no private key in the key file"); return }
        let attributes = try FileManager.default.attributesOfItem(atPath: mesh.keyFile.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)

        let signedFile = mesh.directory.appendingPathComponent("signed.json").path
        let signed = try await mesh.cli([
            "override", "sign", "--key", mesh.keyFile.path, "--export", "exp-o", "--base-version", "1",
            "--justification", "merchant ships this one itself", "--owner", "merchant:acme-ops", "--out", signedFile,
        ])
        #expect(signed.status == 0, "\(signed.stderr)")
        let submitted = try await mesh.cli(["override", "submit", "--file", signedFile, "--json"])
        #expect(submitted.status == 0, "\(submitted.stderr)")
        let response = try OverrideResponse(jsonText: Data(submitted.stdout.utf8), root: "stdout")
        #expect(response.export?.owningParty?.text == "merchant:acme-ops")
        #expect(response.export?.auditTrail.last?.override?.change.justification == "merchant ships this one itself")
        #expect(response.export?.auditTrail.last?.override?.signature.count == 64)

        let replay = try await mesh.cli(["override", "submit", "--file", signedFile])
        #expect(replay.status == 17 && replay.stderr.contains("replay"), "a replayed override is refused as one (PERMISSION_DENIED): \(replay.stderr)")
        let empty = try await mesh.cli(["override", "sign", "--key", mesh.keyFile.path, "--export", "exp-o", "--base-version", "2", "--justification", " ", "--submit"])
        #expect(empty.status == 2 && empty.stderr.contains("--justification"))

        for output in [signed, submitted, replay, empty] {
            #expect(!output.stdout.contains(secret) && !output.stderr.contains(secret))
        }
        #expect(!mesh.registry.logText.contains(secret))

        let verify = try await mesh.cli(["verify", "--registry", mesh.registry.endpoint, "--tenant", "acme"])
        #expect(verify.status == 0 && verify.stdout.contains("every audit chain intact"))
    }

    @Test func watchPrintsEveryVersionWithACursorToResumeFrom() async throws {
        let mesh = try await Mesh()
        defer { mesh.stop() }
        for index in 1...3 {
            let file = try mesh.write(Self.export("exp-w\(index)", order: "o-w\(index)").protoJSON, as: "w\(index).json")
            #expect(try await mesh.cli(["export", "publish", "--file", file]).status == 0)
        }
        let first = try await mesh.cli(["export", "watch", "--from-beginning", "--limit", "2", "--json"])
        let events = try first.stdout.split(separator: "\n").map { try WatchEvent(jsonText: Data($0.utf8), root: "event") }
        #expect(events.map { $0.export?.exportID } == ["exp-w1", "exp-w2"])
        let rest = try await mesh.cli(["export", "watch", "--cursor", events[1].cursor, "--limit", "1"])
        #expect(rest.status == 0 && rest.stdout.hasPrefix("exp-w3 v1 routing published"), "\(rest.stdout)\(rest.stderr)")
    }

    @Test func reconcileCountsShippedExports() async throws {
        let mesh = try await Mesh()
        defer { mesh.stop() }
        #expect(try await mesh.cli(["export", "publish", "--file", try mesh.write(Self.export("exp-r", order: "o-r").protoJSON, as: "r.json")]).status == 0)
        #expect(try await mesh.cli(["export", "ack", "exp-r", "--version", "1", "--outcome", "completed", "--actor", "3pl:wh-a"]).status == 0)
        let report = try await mesh.cli(["reconcile", "--json", "--to", String(Int64(Date().timeIntervalSince1970 * 1000) + 7 * 86_400_000)])
        let parsed = try ReconcileResponse(jsonText: Data(report.stdout.utf8), root: "stdout")
        #expect(parsed.report?.total?.onTime == 1 && parsed.report?.byWarehouse.first?.key == "WH-A", "\(report.stdout)")
        let text = try await mesh.cli(["reconcile", "--to", String(Int64(Date().timeIntervalSince1970 * 1000) + 7 * 86_400_000)])
        #expect(text.stdout.contains("total") && text.stdout.contains("WH-A"))
    }
}
