import Foundation
import MeshlineTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The product's front door: `meshline dev` runs the mesh, `meshline demo` walks
/// the use cases against it, and stock gRPC (Python grpcio) checks what is left:
/// versions, owners, audit chains, the override's signature, one notification per
/// backorder, the reconciliation. Ctrl-C then stops the mesh cleanly.
@Suite(.serialized) struct DemoTests {
    @Test func theDemoRunsEveryUseCaseAndLeavesAStateStockGRPCConfirms() async throws {
        let directory = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let dev = Process()
        dev.executableURL = try Binaries.path("meshline")
        dev.arguments = ["dev", "--data-dir", directory.appendingPathComponent("mesh").path, "--base-port", "0"]
        let output = Pipe()
        dev.standardOutput = output
        dev.standardError = output
        try dev.run()
        defer { if dev.isRunning { kill(dev.processIdentifier, SIGKILL) } }

        // The endpoints, from the lines `dev` prints once every service is healthy.
        var text = ""
        let deadline = Date().addingTimeInterval(60)
        while !text.contains("override key"), Date() < deadline {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        func endpoint(_ name: String) throws -> String {
            let line = try #require(text.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(name + " ") }, "no \(name) in: \(text)")
            return String(line.split(separator: " ").last!)
        }
        let registry = try endpoint("registry"), decision = try endpoint("decision"), exceptions = try endpoint("exceptions")
        let key = directory.appendingPathComponent("mesh/keys/ops.key").path
        let summary = directory.appendingPathComponent("summary.json").path

        let demo = try await Binaries.run("meshline", [
            "demo", "--registry", registry, "--decision", decision, "--exceptions", exceptions, "--key", key, "--summary", summary,
        ])
        #expect(demo.status == 0, "\(demo.stdout)\n\(demo.stderr)")
        for step in ["Routing accepted by a warehouse", "re-evaluated to another warehouse", "customer delay notice", "different owners",
                     "signed override", "SLA reconciliation", "every hash chain intact", "Where to look next"] {
            #expect(demo.stdout.contains(step), "the demo did not show: \(step)")
        }

        let check = try await Scripts.runPython(["Tests/Interop/demo_check.py", directory.appendingPathComponent("py").path, registry, exceptions, summary, key])
        #expect(check.status == 0 && check.output.contains("7 passed, 0 failed"), "\(check.output)")

        kill(dev.processIdentifier, SIGINT)
        while dev.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        let rest = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(dev.terminationStatus == 0 && rest.contains("stopped cleanly"), "\(rest)")
    }
}
