import Foundation
import MeshlineDecision
import MeshlineModels
import MeshlineRPC
import MeshlineTestSupport
import Testing

@Suite struct RuleSetTests {
    static let example = Scripts.repositoryRoot.appendingPathComponent("services/decision/rules.example.yaml").path

    @Test func theExampleFileIsAValidRuleSet() throws {
        let rules = try RuleSetYAML.decode(String(contentsOfFile: Self.example, encoding: .utf8), file: Self.example)
        #expect(rules.tenantID == "acme")
        #expect(rules.version == "v3.1")
        #expect(rules.warehouses.map(\.timeZone) == ["America/Los_Angeles", "America/Chicago", "America/New_York"])
        #expect(rules.warehouses.first?.cutoffMinuteOfDay == Int32(14 * 60))
        #expect(rules.ownership.filter { $0.action == "route-to-warehouse" }.map(\.merchantID) == ["", "acme-outlet"])
        #expect(rules.exceptionRules.first { $0.action == "backorder" }?.path?.queue == "backorder")
        #expect(rules.ttl == TtlPolicy(ttlMs: 14_400_000, staleTTLMs: 1_800_000, freshnessLimitMs: 21_600_000))
        #expect(rules.packingRules.first?.instruction?.code == "insert:spring-catalog")
    }

    @Test func encodingAndDecodingGiveTheSameRuleSet() throws {
        var rules = Fixture.rules([Fixture.warehouse("W-2", cutoff: 7), Fixture.warehouse("W-1", zones: ["us-east", "us-west"], distances: ["us-east": 12])],
                                  version: "v2.0.1", split: true, maxShipments: 3, minShipmentValue: 500,
                                  packing: [PackingRule(sku: "MUG", instruction: PackingInstruction(code: "wrap", text: "Wrap \"it\": carefully.", skus: ["MUG"], source: "ops"))],
                                  rollout: Rollout(percent: 30, fallbackVersion: "v1.0"))
        rules.createdAtUnixMs = 1234
        let text = RuleSetYAML.encode(rules)
        #expect(try RuleSetYAML.decode(text, file: "round-trip.yaml") == rules)
    }

    @Test(arguments: [
        // (what is wrong, line of the example file to replace (1-based), its replacement, expected file:line:column and field)
        ("unknown field", 11, "    cuttoff: \"14:00\"", "f.yaml:11:5: warehouses[0].cuttoff is not a known field"),
        ("bad cutoff", 11, "    cutoff: \"25:00\"", "f.yaml:11:13: warehouses[0].cutoff '25:00' is not a local time"),
        ("cutoff out of range", 11, "    cutoff_minute_of_day: 1440", "f.yaml:11:5: warehouses[0].cutoff_minute_of_day is 1440; use 0 to 1439"),
        ("bad time zone", 10, "    time_zone: \"Mars/Olympus\"", "f.yaml:10:5: warehouses[0].time_zone 'Mars/Olympus' is not an IANA time zone"),
        ("not a number", 12, "    daily_capacity: lots", "f.yaml:12:21: warehouses[0].daily_capacity 'lots' is not a whole number"),
        ("bad party", 16, "    operator: \"warehouse:reno\"", "f.yaml:16:15: warehouses[0].operator 'warehouse' is not a party role"),
        ("not YAML", 9, "    zones: [us-west", ": not valid YAML: "),
    ])
    func yamlErrorsNameFileLineAndField(name: String, lineNumber: Int, replacement: String, expected: String) throws {
        let base = try String(contentsOfFile: Self.example, encoding: .utf8)
        var lines = base.components(separatedBy: "\n")
        lines[lineNumber - 1] = replacement
        do {
            _ = try RuleSetYAML.decode(lines.joined(separator: "\n"), file: "f.yaml")
            Issue.record("\(name) was accepted")
        } catch {
            guard case .ruleFile(let message) = error else { Issue.record("\(error)"); return }
            #expect(message.hasPrefix("f.yaml:"), "\(name): \(message)")
            #expect(message.contains(expected), "\(name): \(message)")
            #expect(error.rpcError.code == .invalidArgument)
        }
    }

    @Test(arguments: [
        // (what is wrong, expected violation field)
        ("duplicate warehouse", "rule_set.warehouses[1].warehouse_id"),
        ("bad version", "rule_set.version"),
        ("percent above 100", "rule_set.rollout.percent"),
        ("no backorder exception rule", "rule_set.exception_rules"),
        ("no default owner", "rule_set.ownership"),
        ("stale TTL longer than TTL", "rule_set.ttl.stale_ttl_ms"),
        ("packing rule with both triggers", "rule_set.packing_rules[0]"),
        ("long warehouse name", "rule_set.warehouses[0].name"),
    ])
    func invalidRuleSetsAreRefusedWithTheField(name: String, field: String) throws {
        var rules = Fixture.rules([Fixture.warehouse("W-1"), Fixture.warehouse("W-2")])
        switch name {
        case "duplicate warehouse": rules.warehouses[1].warehouseID = "W-1"
        case "bad version": rules.version = "3.1"
        case "percent above 100": rules.rollout = Rollout(percent: 101, fallbackVersion: "v0.9")
        case "no backorder exception rule": rules.exceptionRules.removeAll { $0.action == "backorder" }
        case "no default owner": rules.ownership.removeAll { $0.action == "backorder" }
        case "stale TTL longer than TTL": rules.ttl?.staleTTLMs = 5 * Fixture.hour
        case "long warehouse name": rules.warehouses[0].name = String(repeating: "n", count: 257)
        default: rules.packingRules = [PackingRule(promotion: "p", sku: "s", instruction: PackingInstruction(code: "c", text: "t"))]
        }
        #expect(rules.violations().map(\.field) == [field])
        #expect(throws: DecisionError.self) { try RuleStore().put(rules, now: Fixture.noon) }
    }

    @Test func putRuleSetsSurviveARestartAndVersionsNeverChange() throws {
        let directory = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try RuleStore(directory: directory)
        let stored = try store.put(Fixture.rules([Fixture.warehouse("W-1")], version: "v1.0"), now: Fixture.noon)
        #expect(stored.createdAtUnixMs == Fixture.noon)
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("acme@v1.0.yaml").path))
        // The same content again is the stored version; other content under the same version is refused.
        #expect(try store.put(Fixture.rules([Fixture.warehouse("W-1")], version: "v1.0"), now: Fixture.noon + 5) == stored)
        #expect(throws: DecisionError.versionExists(tenantID: "acme", version: "v1.0")) {
            try store.put(Fixture.rules([Fixture.warehouse("W-2")], version: "v1.0"), now: Fixture.noon)
        }
        // A rollout needs its fallback to exist.
        #expect(throws: DecisionError.self) {
            try store.put(Fixture.rules([Fixture.warehouse("W-1")], version: "v2.0", rollout: Rollout(percent: 5, fallbackVersion: "v0.1")), now: Fixture.noon)
        }
        _ = try store.put(Fixture.rules([Fixture.warehouse("W-1")], version: "v1.10"), now: Fixture.noon)
        _ = try store.put(Fixture.rules([Fixture.warehouse("W-1")], version: "v1.9"), now: Fixture.noon)

        let restarted = try RuleStore(directory: directory)
        #expect(try restarted.get(tenantID: "acme", version: "v1.0").ruleSet == stored)
        // v1.10 is newer than v1.9: versions compare by number.
        #expect(try restarted.get(tenantID: "acme").version == "v1.10")
        #expect(throws: DecisionError.ruleSetNotFound(tenantID: "globex", version: nil)) { try restarted.get(tenantID: "globex") }
    }

    @Test func aBrokenFileInTheDirectoryIsReportedWithItsPath() throws {
        let directory = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try "tenant_id: \"acme\"\nversion: \"v1\"\nwarehouses: 3\n".write(to: directory.appendingPathComponent("broken.yaml"), atomically: true, encoding: .utf8)
        do {
            _ = try RuleStore(directory: directory)
            Issue.record("a broken file was accepted")
        } catch {
            guard case .ruleFile(let message) = error else { Issue.record("\(error)"); return }
            #expect(message.contains("broken.yaml:3:13: warehouses must be a list"), "\(message)")
        }
    }
}
