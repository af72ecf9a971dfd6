import Foundation
import MeshlineTestSupport
import Testing

/// No Docker engine runs on these machines, so the container files are checked
/// statically: hadolint, `docker-compose config` in both profiles, and every flag
/// in a CMD or compose command against the built executable's --help.
@Suite struct DeploymentTests {
    @Test func dockerfilesAndComposeFileHoldTogether() async throws {
        let outcome = try await Scripts.runPython(["Tests/Interop/check_deploy.py", Binaries.directory.path])
        #expect(outcome.status == 0, "\(outcome.output)")
        #expect(outcome.output.contains("check_deploy: 3 Dockerfiles, compose in 2 profiles, 0 problems"))
    }
}
