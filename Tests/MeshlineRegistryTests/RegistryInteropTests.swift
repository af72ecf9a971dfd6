import Foundation
import MeshlineModels
import MeshlineRegistry
import MeshlineTestSupport
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

/// A watcher that never reads holds the registry back instead of making it buffer.
@Suite struct SlowWatcherTests {
    @Test func aWatcherThatNeverReadsIsHeldBack() async throws {
        try await withRegistry { registry in
            // 1,500 exports of about 1.3 KB (2 MB): far more than the watcher's flow-control
            // window (64 KiB) plus the per-call send buffer (256 KiB) can hold.
            for index in 0..<1_500 {
                var export = registry.export("exp-\(index)")
                export.packingInstructions = [PackingInstruction(code: "insert", text: String(repeating: "x", count: 1_000))]
                _ = try await registry.store.append(StorageContractTests.create(export))
            }
            let stall = Task {
                try await Scripts.runPython(["Tests/Interop/h2_conformance.py", "stall-watch", String(registry.port), TestRegistry.tenant, "8"])
            }
            // Wait until the count stops changing (two equal samples 300 ms apart), then check it stays.
            var early = registry.service.watchEventsSent
            for _ in 0..<20 {
                try await Task.sleep(for: .milliseconds(300))
                let now = registry.service.watchEventsSent
                if now == early && now > 0 { break }
                early = now
            }
            try await Task.sleep(for: .milliseconds(1000))
            let later = registry.service.watchEventsSent
            #expect(early > 0, "the watch never started")
            #expect(later == early, "the registry kept producing for a watcher that reads nothing (\(early) -> \(later))")
            #expect(later < 1_500, "every event was accepted for a watcher that reads nothing")
            // Other calls are still served at once.
            #expect(try await registry.get("exp-0").exportID == "exp-0")
            _ = try await stall.value
        }
    }
}
