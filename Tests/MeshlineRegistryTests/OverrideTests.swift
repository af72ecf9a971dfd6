import Crypto
import Foundation
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineRegistry
import MeshlineTestSupport
import Testing

@Suite(.serialized) struct OverrideTests {
    func submit(_ registry: TestRegistry, _ signed: SignedOverride) async throws(RPCError) -> Export {
        let response: OverrideResponse = try await registry.client.unary(ExportRegistryDescriptor.override, OverrideRequest(override: signed))
        return response.export!
    }

    @Test func aSignedOverrideIsAppliedAndItsSignatureRecorded() async throws {
        try await withRegistry { registry in
            _ = try await registry.publish(registry.export("exp-1"))
            let signed = try registry.signedOverride("exp-1", baseVersion: 1)
            let changed = try await submit(registry, signed)
            #expect(changed.version == 2 && changed.owningParty == Party(role: .merchant, name: "acme-ops"))
            let entry = try #require(changed.auditTrail.last)
            #expect(entry.override == signed && entry.actor == "key:ops-key")
            #expect(entry.change == "override: merchant takes over the routing")
            #expect(AuditChain.verify(changed).isEmpty)
        }
    }

    @Test func overridesAreRefusedForEveryBrokenRule() async throws {
        try await withRegistry { registry in
            _ = try await registry.publish(registry.export("exp-1"))
            let unknownKey = Curve25519.Signing.PrivateKey()
            let cases: [(String, SignedOverride, StatusCode)] = [
                ("unknown key", try registry.signedOverride("exp-1", baseVersion: 1, key: unknownKey, keyID: "stranger"), .permissionDenied),
                ("another tenant's key", try registry.signedOverride("exp-1", baseVersion: 1, key: TestRegistry.otherTenantKey, keyID: "globex-key"), .permissionDenied),
                ("key without the right to override", try registry.signedOverride("exp-1", baseVersion: 1, key: TestRegistry.readOnlyKey, keyID: "viewer-key"), .permissionDenied),
                ("signed by another key than it names", try registry.signedOverride("exp-1", baseVersion: 1, key: unknownKey), .permissionDenied),
                ("stale base version", try registry.signedOverride("exp-1", baseVersion: 7), .aborted),
                ("empty justification", try registry.signedOverride("exp-1", baseVersion: 1) { $0.justification = "  " }, .invalidArgument),
                ("issued too long ago", try registry.signedOverride("exp-1", baseVersion: 1) { $0.issuedAtUnixMs -= 10 * 60 * 1000 }, .permissionDenied),
                // Refused, not an overflow that stops the registry.
                ("issued at the earliest time there is", try registry.signedOverride("exp-1", baseVersion: 1) { $0.issuedAtUnixMs = .min }, .permissionDenied),
                // Kept in the audit trail of every later version, so it is bounded.
                ("justification longer than 2,048 bytes", try registry.signedOverride("exp-1", baseVersion: 1) { $0.justification = String(repeating: "x", count: 2049) }, .invalidArgument),
                ("unknown export", try registry.signedOverride("exp-404", baseVersion: 1), .notFound),
            ]
            for (name, signed, expected) in cases {
                await #expect(Comment(rawValue: name)) { _ = try await submit(registry, signed) } throws: { code($0) == expected }
            }
            var tampered = try registry.signedOverride("exp-1", baseVersion: 1)
            tampered.change.owningParty = Party(role: .agency, name: "someone-else")
            await #expect("tampered field") { _ = try await submit(registry, tampered) } throws: { code($0) == .permissionDenied }

            // A replayed nonce: the first use succeeds, the second is refused — the very same
            // signed override as a replay (PERMISSION_DENIED), not as a stale base version.
            let once = try registry.signedOverride("exp-1", baseVersion: 1, nonce: "nonce-1")
            _ = try await submit(registry, once)
            await #expect("replayed override") { _ = try await submit(registry, once) } throws: { code($0) == .permissionDenied }
            let replay = try registry.signedOverride("exp-1", baseVersion: 2, nonce: "nonce-1")
            await #expect("reused nonce") { _ = try await submit(registry, replay) } throws: { code($0) == .permissionDenied }
            #expect(try await registry.get("exp-1").version == 2)
        }
    }

    @Test func aPythonSignedOverrideIsAccepted() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("meshline-python-sign-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        // Python makes a key pair, signs the change with the `cryptography` package, and
        // prints the public key; the registry is then started trusting that key.
        let clock = TestClock()
        let output = try await runPython(["Tests/Interop/sign_override.py", work.path, TestRegistry.tenant, "exp-py", "1", String(clock.now)])
        let line = try #require(output.split(separator: "\n").first { $0.hasPrefix("public_key ") })
        let publicKey = try #require(Data(base64Encoded: String(line.dropFirst("public_key ".count))))
        let request = try OverrideRequest(serializedBytes: [UInt8](Data(contentsOf: work.appendingPathComponent("override.bin"))))
        let tenants = TenantDirectory(tenants: [
            TestRegistry.tenant: .init(serviceLevels: nil, keys: ["python-key": .init(keyID: "python-key", publicKey: [UInt8](publicKey), canOverride: true)])
        ])
        try await withRegistry(tenants: tenants, clock: clock) { registry in
            _ = try await registry.publish(registry.export("exp-py"))
            let response: OverrideResponse = try await registry.client.unary(ExportRegistryDescriptor.override, request)
            #expect(response.export?.auditTrail.last?.override == request.override)
            #expect(response.export?.owningParty == Party(role: .merchant, name: "python-signer"))
        }
    }
}

@Suite struct ReconcileTests {
    /// Also read a page at a time (1 and 3 exports per read): the report is the same.
    @Test(arguments: [1000, 1, 3])
    func outcomesAreCountedByOwnerWarehouseAndServiceLevel(pageSize: Int) async throws {
        var configuration = ExportRegistryService.Configuration()
        configuration.reconcilePageSize = pageSize
        try await withRegistry(configuration: configuration) { registry in
            let now = registry.clock.now
            let hour: Int64 = 3_600_000
            // Ship-by in one hour for all; then the clock moves 2 hours on.
            for index in 0..<4 { _ = try await registry.publish(registry.export("exp-\(index)", shipBy: now + hour)) }
            _ = try await registry.acknowledge("exp-0", version: 1, .completed, shippedAt: now + hour / 2)  // on time
            _ = try await registry.acknowledge("exp-1", version: 1, .completed, shippedAt: now + 2 * hour)  // an hour late
            _ = try await registry.acknowledge("exp-2", version: 1, .completed, shippedAt: now + 3 * hour)  // two hours late
            registry.clock.advance(by: 2 * hour)  // exp-3 is open past ship-by
            let response: ReconcileResponse = try await registry.client.unary(
                ExportRegistryDescriptor.reconcile, ReconcileRequest(tenantID: TestRegistry.tenant, fromUnixMs: now, toUnixMs: now + 10 * hour))
            let total = try #require(response.report?.total)
            #expect(total.onTime == 1 && total.late == 2 && total.openPastShipBy == 1 && total.openWithinSLA == 0)
            #expect(total.medianLatenessMs == hour)
            #expect(response.report?.byWarehouse.map(\.key) == ["WH-A"])
            #expect(response.report?.byOwner.first?.key == "agency:fulfillment-team")
            #expect(response.report?.byServiceLevel.first?.outcome?.late == 2)
        }
    }
}

/// Runs a Python script from the repository root; fails the test on a non-zero exit.
func runPython(_ arguments: [String]) async throws -> String {
    let (status, output) = try await Scripts.runPython(arguments)
    #expect(status == 0, "python failed:\n\(output)")
    return output
}
