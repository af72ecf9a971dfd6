import Foundation
import MeshlineTestSupport
import Testing

/// A `--database` URL may hold a password; no refusal of it may show the password.
@Suite struct DatabaseOptionTests {
    @Test(arguments: [
        "postgress://meshline:s3cret@127.0.0.1:5432/meshline",  // mistyped scheme
        "postgres://meshline:s3#cret@127.0.0.1:5432/meshline",  // a password URL parsing cannot read
    ])
    func aRefusedDatabaseURLNeverShowsItsPassword(url: String) async throws {
        let data = try Scripts.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: data) }
        let result = try await Binaries.run("meshline-registry", ["--listen", "127.0.0.1:0", "--data-dir", data.path, "--database", url])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--database") || result.stderr.contains("is not postgres://"), "\(result.stderr)")
        #expect(!(result.stdout + result.stderr).contains("s3"), "\(result.stderr)")
    }
}
