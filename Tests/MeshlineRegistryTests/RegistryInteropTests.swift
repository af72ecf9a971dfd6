import Foundation
import MeshlineRegistry
import Testing

/// The registry through Python grpcio: every QA rule and every status code.
@Suite struct RegistryInteropTests {
    @Test func grpcioClientSeesEveryRuleAndStatusCode() async throws {
        try await withRegistry { registry in
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("meshline-registry-interop-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: work) }
            let output = try await runPython(["Tests/Interop/registry_interop.py", String(registry.port), work.path, String(registry.clock.now)])
            #expect(output.contains(" passed, 0 failed"), "\(output)")
            #expect(!output.contains("FAIL "), "\(output)")
        }
    }
}
