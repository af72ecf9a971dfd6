import Foundation
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineTestSupport
import Testing

/// The real `meshline-exceptions` process against a real registry.
@Suite(.serialized) struct ExecutableTests {
    static func router(_ arguments: [String]) throws -> ServiceProcess {
        try ServiceProcess("meshline-exceptions", ["--listen", "127.0.0.1:0", "--threads", "1", "--log-level", "error"] + arguments)
    }

    @Test func theExecutableServesReportsKeepsCasesAcrossARestartAndExitsZeroOnSigterm() async throws {
        try await withMesh { mesh in
            let data = mesh.directory.appendingPathComponent("router-data")
            let policy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../services/exceptions/policy.example.json").path
            let arguments = ["--data-dir", data.path, "--registry", "127.0.0.1:\(mesh.registryPort)", "--policy", policy]
            _ = try await mesh.publish(mesh.export("exp-x", path: .humanQueue))
            let rejected = try await mesh.reject("exp-x", reason: .capacity)

            let first = try Self.router(arguments)
            let client = try RPCClient(endpoints: ["127.0.0.1:\(first.port)"])
            let report = ReportRequest(tenantID: TestMesh.tenant, exportID: "exp-x", exportVersion: rejected.version, kind: .rejection, reason: .capacity)
            let opened: ReportResponse = try await client.unary(ExceptionRouterDescriptor.report, report)
            #expect(opened.exceptionCase?.state == .queued && !opened.duplicate)
            await client.close()
            #expect(first.stop() == 0, "SIGTERM must drain and exit 0")

            let second = try Self.router(arguments)
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
            let refusal = #expect(throws: CocoaError.self) { _ = try Self.router(["--data-dir", data.path, "--registry", "127.0.0.1:1", "--policy", broken.path]) }
            #expect(refusal?.localizedDescription.contains("policy.retry.maximum_attempts must be 0 to 1000") == true)
        }
    }
}
