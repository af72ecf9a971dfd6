import Foundation
import MeshlineTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The replicated set-up (`scripts/scale-out`: PostgreSQL, two replicas of each
/// service) runs the demo with the same outcome, also when one replica of each
/// service is killed in the middle of it.
/// Needs the local PostgreSQL that `scripts/test` (through `scripts/start-test-postgres`) starts.
@Suite(.serialized) struct ScaleOutTests {
    @Test func theDemoCompletesWhileOneReplicaOfEachServiceIsKilled() async throws {
        let directory = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let setup = directory.appendingPathComponent("scale-out")
        let scaleOut = Process()
        // Through a tiny exec wrapper that clears the signal mask: a process started from a
        // test thread inherits that thread's blocked signals, and bash cannot trap SIGTERM then.
        scaleOut.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        scaleOut.arguments = [
            "python3", "-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
            Scripts.repositoryRoot.appendingPathComponent("scripts/scale-out").path, "--dir", setup.path, "--bin", Binaries.directory.path,
        ]
        scaleOut.standardOutput = FileHandle.nullDevice
        scaleOut.standardError = FileHandle.nullDevice
        try scaleOut.run()
        defer {
            // Stops every replica (SIGTERM), also when an expectation failed.
            if scaleOut.isRunning { scaleOut.terminate() }
        }
        let endpointsFile = setup.appendingPathComponent("endpoints")
        var line = ""
        for _ in 0..<600 where line.isEmpty {
            line = (try? String(contentsOf: endpointsFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            if line.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        var endpoints: [String: [String]] = [:]
        for field in line.split(separator: " ") {
            let parts = field.split(separator: "=", maxSplits: 1)
            endpoints[String(parts[0])] = parts[1].split(separator: ",").map(String.init)
        }
        let registries = try #require(endpoints["registry"]), decisions = try #require(endpoints["decision"]), routers = try #require(endpoints["exceptions"])
        let summary = directory.appendingPathComponent("summary.json").path
        let key = setup.appendingPathComponent("keys/ops.key").path

        let demo = Process()
        demo.executableURL = try Binaries.path("meshline")
        demo.arguments = ["demo", "--key", key, "--summary", summary]
            + registries.flatMap { ["--registry", $0] } + decisions.flatMap { ["--decision", $0] } + routers.flatMap { ["--exceptions", $0] }
        let output = Pipe()
        demo.standardOutput = output
        demo.standardError = output
        try demo.run()
        defer { if demo.isRunning { kill(demo.processIdentifier, SIGKILL) } }

        // When the rejection is being re-routed, kill one replica of each service.
        var text = ""
        var killed: [String] = []
        while demo.isRunning || killed.isEmpty {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
            if killed.isEmpty, text.contains("the registry hands it to the exception router") {
                for service in ["registry", "decision", "exceptions"] {
                    let pid = try String(contentsOf: setup.appendingPathComponent("pids/\(service)-1.pid"), encoding: .utf8)
                    kill(pid_t(pid.trimmingCharacters(in: .whitespacesAndNewlines))!, SIGKILL)
                    killed.append(service)
                }
            }
        }
        // Polled: Process.waitUntilExit spins on a task's thread.
        while demo.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        text += String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(killed.count == 3, "the demo never reached the re-routing step: \(text)")
        #expect(demo.terminationStatus == 0, "\(text)")
        #expect(text.contains("every hash chain intact") && text.contains("on time 2, late 0"), "\(text)")

        // Nothing lost: the surviving replicas hold the same final state a single mesh does.
        let check = try await Scripts.runPython([
            "Tests/Interop/demo_check.py", directory.appendingPathComponent("py").path, registries[1], routers[1], summary, key,
        ])
        #expect(check.status == 0 && check.output.contains("7 passed, 0 failed"), "\(check.output)")

        scaleOut.terminate()
        while scaleOut.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        #expect(scaleOut.terminationStatus == 0)
    }
}
