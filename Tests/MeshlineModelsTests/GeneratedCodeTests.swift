import MeshlineTestSupport
import Testing

/// The committed protoc-c output and generated Swift must match what proto/ produces now.
@Suite struct GeneratedCodeTests {
    @Test func committedGeneratedCodeIsCurrent() async throws {
        let outcome = try await Scripts.run(["scripts/generate-proto", "--check"])
        #expect(outcome.status == 0, "stale generated code; run scripts/generate-proto:\n\(outcome.output)")
        #expect(outcome.output.contains("generated code is current"))
    }
}
