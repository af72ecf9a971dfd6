import Foundation
import MeshlineDecision
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineTestSupport
import Testing

/// The real `meshline-decision` executable: two replicas side by side on one rules
/// directory, a client balancing over both, and a clean SIGTERM.
@Suite struct ProcessTests {
    /// The directory holding the built executables (next to the test bundle).
    static let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()

    /// A running replica and the port it printed.
    final class Replica {
        let process = Process()
        let output = Pipe()
        private(set) var port = 0

        init(registry: String, rules: URL) throws {
            let binary = ProcessTests.binaries.appendingPathComponent("meshline-decision")
            guard FileManager.default.isExecutableFile(atPath: binary.path) else {
                throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "\(binary.path) is missing; build with swift build --build-tests"])
            }
            process.executableURL = binary
            process.arguments = ["--listen", "127.0.0.1:0", "--registry", registry, "--rules", rules.path, "--rules-refresh", "1", "--threads", "1", "--log-level", "warning"]
            process.standardOutput = output
            try process.run()
            var text = ""
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
                if let range = text.range(of: #"listening on 127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                    port = Int(text[range].split(separator: ":").last!)!
                    return
                }
            }
            process.terminate()
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "the replica did not start: \(text)"])
        }

        func stop() -> Int32 {
            process.terminate()
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    @Test func twoReplicasShareRulesThroughTheDirectoryAndStopCleanly() async throws {
        let harness = try await DecisionHarness()
        let rules = harness.directory.appendingPathComponent("replica-rules")
        try FileManager.default.createDirectory(at: rules, withIntermediateDirectories: true)
        try Data(RuleSetYAML.encode(WireTests.rules).utf8).write(to: rules.appendingPathComponent("acme.yaml"))
        let first = try Replica(registry: harness.registryEndpoint, rules: rules)
        let second = try Replica(registry: harness.registryEndpoint, rules: rules)
        let firstClient = try RPCClient(endpoints: ["127.0.0.1:\(first.port)"])
        let secondClient = try RPCClient(endpoints: ["127.0.0.1:\(second.port)"])
        let both = try RPCClient(endpoints: ["127.0.0.1:\(first.port)", "127.0.0.1:\(second.port)"])

        // A version put on one replica is written to the directory and served by the other.
        var newer = WireTests.rules
        newer.version = "v1.1"
        let _: PutRuleSetResponse = try await firstClient.unary(DecisionServiceDescriptor.putRuleSet, PutRuleSetRequest(ruleSet: newer))
        var seen = ""
        for _ in 0..<50 where seen != "v1.1" {
            try await Task.sleep(for: .milliseconds(100))
            let response: GetRuleSetResponse = try await secondClient.unary(DecisionServiceDescriptor.getRuleSet, GetRuleSetRequest(tenantID: Fixture.tenant))
            seen = response.ruleSet?.version ?? ""
        }
        #expect(seen == "v1.1")

        // Inventory is each replica's own view: the feed sends it to every replica.
        let update = UpdateInventoryRequest(tenantID: Fixture.tenant, levels: [InventoryLevel(warehouseID: "WH-B", sku: "SKU-1", onHand: 9, asOfUnixMs: Fixture.noon)])
        for client in [firstClient, secondClient] {
            let _: UpdateInventoryResponse = try await client.unary(DecisionServiceDescriptor.updateInventory, update)
        }
        var decided: [String] = []
        for index in 0..<4 {
            let response: DecideResponse = try await both.unary(
                DecisionServiceDescriptor.decide, DecideRequest(tenantID: Fixture.tenant, order: Fixture.order("order-\(index)")))
            #expect(response.decision?.decisionVersion == "v1.1")
            decided += response.decision?.exports.map(\.exportID) ?? []
        }
        #expect(Set(try await harness.list(kind: .routing).map(\.exportID)) == Set(decided))
        #expect(decided.count == 4)

        for client in [firstClient, secondClient, both] { await client.close() }
        #expect(first.stop() == 0)
        #expect(second.stop() == 0)
        await harness.stop()
    }

    @Test func anInvalidRulesFileStopsTheStartWithFileLineAndField() throws {
        let rules = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: rules) }
        var text = RuleSetYAML.encode(WireTests.rules)
        text = text.replacingOccurrences(of: "\"America/Los_Angeles\"", with: "\"America/Atlantis\"")
        try Data(text.utf8).write(to: rules.appendingPathComponent("acme.yaml"))
        let line = text.components(separatedBy: "\n").firstIndex { $0.contains("America/Atlantis") }! + 1
        let process = Process()
        process.executableURL = Self.binaries.appendingPathComponent("meshline-decision")
        process.arguments = ["--listen", "127.0.0.1:0", "--registry", "127.0.0.1:1", "--rules", rules.path]
        let output = Pipe()
        process.standardError = output
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let message = String(decoding: data, as: UTF8.self)
        #expect(process.terminationStatus != 0)
        #expect(message.contains("acme.yaml:\(line):"), "\(message)")
        #expect(message.contains("warehouses[0].time_zone 'America/Atlantis' is not an IANA time zone"), "\(message)")
    }
}
