import Foundation
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import Testing

/// The real `meshline-exceptions` process against a real registry.
@Suite(.serialized) struct ExecutableTests {
    /// A running router process and the port it printed.
    final class RouterProcess {
        let process = Process()
        let output = Pipe()
        private(set) var port = 0

        init(arguments: [String]) throws {
            let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("meshline-exceptions")
            guard FileManager.default.isExecutableFile(atPath: binary.path) else {
                throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "\(binary.path) is missing; build with swift build --build-tests"])
            }
            process.executableURL = binary
            process.arguments = ["--listen", "127.0.0.1:0", "--threads", "1", "--log-level", "error"] + arguments
            process.standardOutput = output
            process.standardError = output
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
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "meshline-exceptions did not start: \(text)"])
        }

        /// SIGTERM: drain, stop the scheduler, flush, exit.
        func stop() -> Int32 {
            process.terminate()
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    @Test func theExecutableServesReportsKeepsCasesAcrossARestartAndExitsZeroOnSigterm() async throws {
        try await withMesh { mesh in
            let data = mesh.directory.appendingPathComponent("router-data")
            let policy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../services/exceptions/policy.example.json").path
            let arguments = ["--data-dir", data.path, "--registry", "127.0.0.1:\(mesh.registryPort)", "--policy", policy]
            _ = try await mesh.publish(mesh.export("exp-x", path: .humanQueue))
            let rejected = try await mesh.reject("exp-x", reason: .capacity)

            let first = try RouterProcess(arguments: arguments)
            let client = try RPCClient(endpoints: ["127.0.0.1:\(first.port)"])
            let report = ReportRequest(tenantID: TestMesh.tenant, exportID: "exp-x", exportVersion: rejected.version, kind: .rejection, reason: .capacity)
            let opened: ReportResponse = try await client.unary(ExceptionRouterDescriptor.report, report)
            #expect(opened.exceptionCase?.state == .queued && !opened.duplicate)
            await client.close()
            #expect(first.stop() == 0, "SIGTERM must drain and exit 0")

            let second = try RouterProcess(arguments: arguments)
            let again = try RPCClient(endpoints: ["127.0.0.1:\(second.port)"])
            let repeated: ReportResponse = try await again.unary(ExceptionRouterDescriptor.report, report)
            #expect(repeated.duplicate && repeated.exceptionCase == opened.exceptionCase)
            let listed: ListQueueResponse = try await again.unary(ExceptionRouterDescriptor.listQueue, ListQueueRequest(tenantID: TestMesh.tenant))
            #expect(listed.cases.map(\.caseID) == [opened.exceptionCase?.caseID])
            await again.close()
            #expect(second.stop() == 0)

            // A broken policy file stops the start with a message naming the field.
            let broken = mesh.directory.appendingPathComponent("broken.json")
            try Data(#"{"retry": {"maximum_attempts": -1}}"#.utf8).write(to: broken)
            #expect(throws: (any Error).self) { _ = try RouterProcess(arguments: ["--data-dir", data.path, "--registry", "127.0.0.1:1", "--policy", broken.path]) }
        }
    }
}
