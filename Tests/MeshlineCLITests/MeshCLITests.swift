import Foundation
import MeshlineModels
import MeshlineTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `meshline rules|inventory|decide|queue` run as processes against real `meshline-registry`,
/// `meshline-decision` and `meshline-exceptions` processes on loopback: exit codes, stdout,
/// stderr and JSON are what users see.
@Suite(.serialized) struct MeshCLITests {
    static let exampleRules = Scripts.repositoryRoot.appendingPathComponent("services/decision/rules.example.yaml").path

    /// The three services wired as `meshline dev` wires them, with a router policy that
    /// sends an incorrect address straight to a human queue.
    final class Mesh {
        let directory: URL
        let registry: ServiceProcess
        let decision: ServiceProcess
        let exceptions: ServiceProcess

        init() async throws {
            directory = try Scripts.temporaryDirectory()
            let tenants: JSONValue = .object([JSONMember("tenants", .object([
                JSONMember("acme", .object([JSONMember("service_levels", .array(["standard", "express"].map(JSONValue.string)))])),
            ]))])
            let policy: JSONValue = .object([
                JSONMember("retry", .object([JSONMember("initial_interval_ms", .integer(500)), JSONMember("maximum_attempts", .integer(3))])),
                JSONMember("never_retry", .array([.string("INCORRECT_ADDRESS")])),
                JSONMember("escalation_delays_ms", .array([.integer(600_000), .integer(1_200_000)])),
                JSONMember("default_queue", .string("agency-ops")),
            ])
            try Data(tenants.text().utf8).write(to: directory.appendingPathComponent("tenants.json"))
            try Data(policy.text().utf8).write(to: directory.appendingPathComponent("policy.json"))
            // The registry reports to the router, which calls the registry back: the router's port is chosen first.
            let routerPort = try Binaries.freePort()
            let path = directory.path
            registry = try ServiceProcess("meshline-registry", [
                "--listen", "127.0.0.1:0", "--data-dir", "\(path)/registry", "--tenants", "\(path)/tenants.json",
                "--exceptions", "127.0.0.1:\(routerPort)", "--threads", "1",
            ])
            decision = try ServiceProcess("meshline-decision", [
                "--listen", "127.0.0.1:0", "--registry", registry.endpoint, "--rules", "\(path)/rules", "--threads", "1",
            ])
            exceptions = try ServiceProcess("meshline-exceptions", [
                "--listen", "127.0.0.1:\(routerPort)", "--data-dir", "\(path)/exceptions", "--registry", registry.endpoint,
                "--decision", decision.endpoint, "--policy", "\(path)/policy.json", "--threads", "1",
            ])
        }

        /// Runs `meshline ARGS` for tenant acme against this mesh.
        func cli(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await Binaries.run("meshline", arguments, environment: [
                "MESHLINE_REGISTRY": registry.endpoint, "MESHLINE_DECISION": decision.endpoint, "MESHLINE_EXCEPTIONS": exceptions.endpoint,
                "MESHLINE_TENANT": "acme",
            ], directory: directory)
        }

        /// Writes `value` as JSON into the mesh's directory and returns the path.
        func write(_ value: JSONValue, as name: String) throws -> String {
            let path = directory.appendingPathComponent(name).path
            try Data(value.text().utf8).write(to: URL(fileURLWithPath: path))
            return path
        }

        /// The example rules put, and stock of TEE-1 in Reno and Dallas counted now.
        func prepare() async throws {
            let put = try await cli(["rules", "put", MeshCLITests.exampleRules])
            #expect(put.status == 0 && put.stdout.contains("stored: tenant acme, version v3.1: 3 warehouses"), "\(put.stdout)\(put.stderr)")
            let stocked = try await cli(["inventory", "update", "--warehouse", "WH-RENO", "--sku", "TEE-1", "--on-hand", "40", "--warehouse", "WH-DALLAS", "--sku", "TEE-1", "--on-hand", "30"])
            #expect(stocked.status == 0 && stocked.stdout.contains("applied 2 of 2 levels"), "\(stocked.stdout)\(stocked.stderr)")
        }

        /// Writes an order for one TEE-1 to the western zone, placed now.
        func order(_ id: String) throws -> String {
            let order = Order(
                orderID: id, tenantID: "acme", placedAtUnixMs: Int64(Date().timeIntervalSince1970 * 1000), serviceLevel: "standard",
                shipTo: Address(name: "Pat Doe", lines: ["1 Main St"], city: "Reno", region: "NV", postalCode: "89501", country: "US"),
                zone: "us-west", lines: [OrderLine(sku: "TEE-1", quantity: 1, unitPriceMinor: 3000)], currency: "USD")
            return try write(order.protoJSON, as: "\(id).json")
        }

        func stop() {
            #expect(exceptions.stop() == 0)
            #expect(decision.stop() == 0)
            #expect(registry.stop() == 0)
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// A loopback port nobody listens on right now.
    @Test func rulesCheckValidatesFilesWithoutAnyService() async throws {
        let work = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let ok = try await Binaries.run("meshline", ["rules", "check", Self.exampleRules])
        #expect(ok.status == 0)
        #expect(ok.stdout == "\(Self.exampleRules): ok, tenant acme, version v3.1: 3 warehouses, 4 ownership rules, 2 service levels, 2 exception rules, 2 packing rules\n")

        // A misspelt key is found by the parser; an unknown time zone by the validation behind it.
        let text = try String(contentsOfFile: Self.exampleRules, encoding: .utf8)
        let misspelt = work.appendingPathComponent("misspelt.yaml").path
        try Data(text.replacingOccurrences(of: "cost_weight: 1.2", with: "cost_wieght: 1.2").utf8).write(to: URL(fileURLWithPath: misspelt))
        let zone = work.appendingPathComponent("zone.yaml").path
        try Data(text.replacingOccurrences(of: "America/Chicago", with: "America/Atlantis").utf8).write(to: URL(fileURLWithPath: zone))
        let lines = text.components(separatedBy: "\n")
        let misspeltLine = lines.firstIndex { $0.contains("cost_weight: 1.2") }! + 1
        let zoneLine = lines.firstIndex { $0.contains("America/Chicago") }! + 1

        let failed = try await Binaries.run("meshline", ["rules", "check", misspelt, zone, Self.exampleRules])
        #expect(failed.status == 1)
        #expect(failed.stdout.contains("\(misspelt):\(misspeltLine):5: warehouses[2].cost_wieght is not a known field; use one of"), "\(failed.stdout)")
        #expect(failed.stdout.contains("\(zone):\(zoneLine):"), "\(failed.stdout)")
        #expect(failed.stdout.contains("warehouses[1].time_zone 'America/Atlantis' is not an IANA time zone"), "\(failed.stdout)")
        #expect(failed.stdout.contains("\(Self.exampleRules): ok"))

        let json = try await Binaries.run("meshline", ["rules", "check", "--json", zone, Self.exampleRules])
        #expect(json.status == 1)
        let results = try JSONValue(parsing: Data(json.stdout.utf8))
        guard case .array(let files) = results, files.count == 2 else { Issue.record("not a list of two files: \(json.stdout)"); return }
        #expect(files[0]["ok"] == .bool(false) && files[1]["ok"] == .bool(true) && files[1]["version"] == .string("v3.1"))
        guard case .array(let problems) = files[0]["problems"], let first = problems.first else { Issue.record("no problems: \(json.stdout)"); return }
        #expect(first["line"] == .integer(Int64(zoneLine)) && first["column"] != nil)

        let missing = try await Binaries.run("meshline", ["rules", "check", work.appendingPathComponent("nope.yaml").path])
        #expect(missing.status == 2 && missing.stderr.contains("cannot read") && missing.stderr.contains("nope.yaml"))
    }

    @Test func decideExplainsEveryCandidateAndADryRunPublishesNothing() async throws {
        let mesh = try await Mesh()
        defer { mesh.stop() }
        try await mesh.prepare()

        let rules = try await mesh.cli(["rules", "get"])
        #expect(rules.status == 0 && rules.stdout.contains("version: \"v3.1\"") && rules.stdout.contains("WH-NEWARK"), "\(rules.stdout)\(rules.stderr)")
        let rulesJSON = try await mesh.cli(["rules", "get", "--version", "v3.1", "--json"])
        #expect(try GetRuleSetResponse(jsonText: Data(rulesJSON.stdout.utf8), root: "stdout").ruleSet?.warehouses.count == 3)
        let unknown = try await mesh.cli(["rules", "get", "--version", "v9"])
        #expect(unknown.status == 15 && unknown.stderr.contains("v9"))
        let again = try await mesh.cli(["rules", "put", Self.exampleRules])
        #expect(again.status == 0, "the same rules under the same version are accepted again: \(again.stderr)")

        let levels: JSONValue = .array([InventoryLevel(warehouseID: "WH-NEWARK", sku: "TEE-1", onHand: 3, asOfUnixMs: Int64(Date().timeIntervalSince1970 * 1000)).protoJSON])
        let fromFile = try await mesh.cli(["inventory", "update", "--file", try mesh.write(levels, as: "levels.json"), "--json"])
        #expect(try UpdateInventoryResponse(jsonText: Data(fromFile.stdout.utf8), root: "stdout").applied == 1, "\(fromFile.stderr)")

        let dry = try await mesh.cli(["decide", "--file", try mesh.order("o-dry"), "--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("would publish (dry run, nothing published):"), "\(dry.stdout)")
        let none = try await mesh.cli(["export", "list", "--order", "o-dry"])
        #expect(none.status == 0 && none.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(none.stdout)")

        let decided = try await mesh.cli(["decide", "--file", try mesh.order("o-1")])
        #expect(decided.status == 0, "\(decided.stderr)")
        #expect(decided.stdout.contains("order o-1 of tenant acme, rules v3.1\npublished:\n"), "\(decided.stdout)")
        #expect(decided.stdout.contains("  action     route-to-warehouse:WH-"))
        #expect(decided.stdout.contains("  owner      agency:fulfillment-team"))
        #expect(decided.stdout.contains("  ttl        3h 59m") || decided.stdout.contains("  ttl        4h 0m"), "\(decided.stdout)")
        let table = decided.stdout.components(separatedBy: "\n").filter { $0.hasPrefix("WAREHOUSE") || $0.hasPrefix("WH-") }
        #expect(table.count == 4 && table[0].contains("ELIGIBLE  CHOSEN  SHIPMENTS  COST"), "\(decided.stdout)")
        #expect(table.filter { $0.contains(" yes       yes ") }.count == 1, "exactly one chosen candidate: \(table)")
        #expect(decided.stdout.contains("\nsummary: WH-"))

        let json = try await mesh.cli(["decide", "--file", try mesh.order("o-2"), "--json"])
        let response = try DecideResponse(jsonText: Data(json.stdout.utf8), root: "stdout")
        let decision = try #require(response.decision)
        #expect(decision.orderID == "o-2" && decision.decisionVersion == "v3.1")
        #expect(decision.exports.count == 1 && decision.exports[0].version == 1 && decision.exports[0].state == .published)
        #expect(decision.explanation?.candidates.count == 3 && decision.explanation?.candidates.filter(\.chosen).count == 1)
        let listed = try await mesh.cli(["export", "list"])
        #expect(listed.stdout.components(separatedBy: "\n").filter { $0.contains(" routing published") }.count == 2)

        // Emptying the chosen warehouse re-decides both routed exports elsewhere.
        let chosen = decision.exports[0].warehouseID
        let emptied = try await mesh.cli(["inventory", "update", "--warehouse", chosen, "--sku", "TEE-1", "--on-hand", "0"])
        #expect(emptied.status == 0 && emptied.stdout.contains("applied 1 of 1 levels"), "\(emptied.stdout)\(emptied.stderr)")
        let reevaluated = emptied.stdout.components(separatedBy: "\n").first { $0.hasPrefix("re-evaluated: ") } ?? ""
        #expect(reevaluated.contains(decision.exports[0].exportID) && reevaluated.components(separatedBy: ", ").count == 2, "\(emptied.stdout)")
        let moved = try await mesh.cli(["export", "get", decision.exports[0].exportID])
        #expect(moved.stdout.contains(" v2 ") && !moved.stdout.contains("action     route-to-warehouse:\(chosen)"), "\(moved.stdout)")

        // The tenant comes from the order when neither --tenant nor $MESHLINE_TENANT is given.
        var other = try Order(jsonText: Data(contentsOf: URL(fileURLWithPath: try mesh.order("o-3"))), root: "order")
        other.tenantID = "globex"
        let foreign = try await Binaries.run("meshline", ["decide", "--file", try mesh.write(other.protoJSON, as: "globex.json"), "--decision", mesh.decision.endpoint])
        #expect(foreign.status == 15 && foreign.stderr.contains("tenant 'globex' has no rule set"), "\(foreign.stderr)")
    }

    @Test func aRejectedExportBecomesACaseClaimedAndResolvedFromTheQueue() async throws {
        let mesh = try await Mesh()
        defer { mesh.stop() }
        try await mesh.prepare()
        let decided = try await mesh.cli(["decide", "--file", try mesh.order("o-r"), "--json"])
        let export = try #require(try DecideResponse(jsonText: Data(decided.stdout.utf8), root: "stdout").decision?.exports.first)

        let rejected = try await mesh.cli([
            "export", "ack", export.exportID, "--version", "1", "--outcome", "rejected", "--reason", "incorrect-address", "--actor", "3pl:reno-ops",
        ])
        #expect(rejected.status == 0, "\(rejected.stderr)")

        // The registry hands the rejection to the router; the policy never retries a bad address.
        var cases: [ExceptionCase] = []
        for _ in 0..<100 where cases.isEmpty {
            let listed = try await mesh.cli(["queue", "list", "--queue", "agency-ops", "--json"])
            #expect(listed.status == 0, "\(listed.stderr)")
            cases = try ListQueueResponse(jsonText: Data(listed.stdout.utf8), root: "stdout").cases
            if cases.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        let opened = try #require(cases.first)
        // The case is about version 2, the rejected one the acknowledgement appended.
        #expect(opened.exportID == export.exportID && opened.exportVersion == 2 && opened.state == .queued && opened.reason == .incorrectAddress && opened.escalationLevel == 1)

        let table = try await mesh.cli(["queue", "list"])
        let rows = table.stdout.components(separatedBy: "\n")
        #expect(rows.first?.hasPrefix("CASE") == true && rows.first?.contains("EXPORT") == true && rows.first?.contains("CLAIMED BY") == true)
        let row = try #require(rows.first { $0.hasPrefix(opened.caseID) })
        #expect(row.contains("\(export.exportID)@2") && row.contains("rejection") && row.contains("incorrect-address") && row.contains("queued"), "\(row)")
        let misspelt = try await mesh.cli(["queue", "list", "--state", "waiting"])
        #expect(misspelt.status == 2 && misspelt.stderr.contains("retrying, queued, claimed, resolved"), "\(misspelt.stderr)")

        let claimed = try await mesh.cli(["queue", "claim", opened.caseID, "--as", "agency:fulfillment-team"])
        #expect(claimed.status == 0 && claimed.stdout.contains("claimed") && claimed.stdout.contains("claimed by agency:fulfillment-team"), "\(claimed.stdout)\(claimed.stderr)")
        let taken = try await mesh.cli(["queue", "claim", opened.caseID, "--as", "merchant:acme-ops"])
        #expect(taken.status == 19 && taken.stderr.contains("already claimed by agency:fulfillment-team"), "\(taken.stderr)")
        let notTheirs = try await mesh.cli(["queue", "claim", opened.caseID, "--as", "merchant:acme-ops", "--release"])
        #expect(notTheirs.status == 19 && notTheirs.stderr.contains("only they can release it"), "\(notTheirs.stderr)")
        let released = try await mesh.cli(["queue", "claim", opened.caseID, "--as", "agency:fulfillment-team", "--release"])
        #expect(released.status == 0 && released.stdout.contains("  queued  ") && released.stdout.contains("released by agency:fulfillment-team"), "\(released.stdout)")
        #expect(try await mesh.cli(["queue", "claim", opened.caseID, "--as", "agency:fulfillment-team"]).status == 0)
        let badParty = try await mesh.cli(["queue", "claim", opened.caseID, "--as", "fulfillment-team"])
        #expect(badParty.status == 2 && badParty.stderr.contains("ROLE:NAME"), "\(badParty.stderr)")

        let noReason = try await mesh.cli(["queue", "resolve", opened.caseID, "--as", "agency:fulfillment-team", "--cancelled"])
        #expect(noReason.status == 2 && noReason.stderr.contains("--reason"))
        let twoWays = try await mesh.cli(["queue", "resolve", opened.caseID, "--as", "agency:fulfillment-team", "--retried", "--cancelled", "--reason", "x"])
        #expect(twoWays.status == 2 && twoWays.stderr.contains("exactly one of"))
        let badRef = try await mesh.cli(["queue", "resolve", opened.caseID, "--as", "agency:fulfillment-team", "--overridden", "v2"])
        #expect(badRef.status == 2 && badRef.stderr.contains("EXPORT_ID@VERSION"))
        let resolved = try await mesh.cli([
            "queue", "resolve", opened.caseID, "--as", "agency:fulfillment-team", "--cancelled", "--reason", "customer cancelled: address unknown",
        ])
        #expect(resolved.status == 0, "\(resolved.stderr)")
        #expect(resolved.stdout.contains("resolved   cancelled: customer cancelled: address unknown"), "\(resolved.stdout)")
        let twice = try await mesh.cli(["queue", "resolve", opened.caseID, "--as", "agency:fulfillment-team", "--retried"])
        #expect(twice.status == 19 && twice.stderr.contains("already resolved"))

        let open = try await mesh.cli(["queue", "list"])
        #expect(open.status == 0 && open.stdout.hasPrefix("no cases open"), "\(open.stdout)")
        let all = try await mesh.cli(["queue", "list", "--all"])
        #expect(all.stdout.contains(opened.caseID) && all.stdout.contains("resolved"))
        let byState = try await mesh.cli(["queue", "list", "--state", "resolved", "--json"])
        #expect(try ListQueueResponse(jsonText: Data(byState.stdout.utf8), root: "stdout").cases.map(\.caseID) == [opened.caseID])

        // The stream carries the escalation to the queue, then the resolution; a cursor resumes after an event.
        let stream = try await mesh.cli(["queue", "notifications", "--limit", "2", "--json"])
        #expect(stream.status == 0, "\(stream.stderr)")
        let events = try stream.stdout.split(separator: "\n").map { try NotificationEvent(jsonText: Data($0.utf8), root: "event") }
        #expect(events.map(\.kind) == [.escalationRaised, .caseResolved], "\(stream.stdout)")
        #expect(events.first?.caseID == opened.caseID && events.first?.message.contains("agency-ops") == true)
        let resumed = try await mesh.cli(["queue", "notifications", "--cursor", events[0].cursor, "--limit", "1"])
        #expect(resumed.status == 0 && resumed.stdout.contains("case-resolved case \(opened.caseID)") && resumed.stdout.contains("cursor \(events[1].cursor)"), "\(resumed.stdout)")
    }

    @Test func badInputExitsTwoAndSaysWhatToFix() async throws {
        let work = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        // Nothing listens on this port: every case below fails before any call.
        let nowhere = "127.0.0.1:\(try Binaries.freePort())"
        func cli(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await Binaries.run("meshline", arguments + ["--decision", nowhere, "--exceptions", nowhere, "--tenant", "acme"], directory: work)
        }
        let missing = try await cli(["decide", "--file", "no-such-order.json"])
        #expect(missing.status == 2 && missing.stderr.contains("cannot read no-such-order.json"), "\(missing.stderr)")
        try Data(#"{"order_id": "o-1", "ship_by": 1}"#.utf8).write(to: work.appendingPathComponent("typo.json"))
        let typo = try await cli(["decide", "--file", "typo.json"])
        #expect(typo.status == 2 && typo.stderr.contains("order.ship_by"), "\(typo.stderr)")
        let state = try await cli(["queue", "list", "--state", "open"])
        #expect(state.status == 2 && state.stderr.contains("--state 'open' is not one of retrying, queued, claimed, resolved"), "\(state.stderr)")
        let uneven = try await cli(["inventory", "update", "--warehouse", "WH-A", "--sku", "S", "--on-hand", "1", "--warehouse", "WH-B"])
        #expect(uneven.status == 2 && uneven.stderr.contains("give one of each per level"), "\(uneven.stderr)")
        let time = try await cli(["inventory", "update", "--warehouse", "WH-A", "--sku", "S", "--on-hand", "1", "--as-of", "yesterday"])
        #expect(time.status == 2 && time.stderr.contains("ISO 8601"), "\(time.stderr)")
        let broken = work.appendingPathComponent("broken.yaml")
        try Data("tenant_id: acme\nversion: [\n".utf8).write(to: broken)
        let put = try await cli(["rules", "put", broken.path])
        #expect(put.status == 2 && put.stderr.contains("is not a valid rule set; fix:") && put.stderr.contains("\(broken.path):"), "\(put.stderr)")
        let down = try await cli(["queue", "list", "--timeout", "2"])
        #expect(down.status == 24, "\(down.stderr)")
    }
}
