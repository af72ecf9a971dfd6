import Foundation
import MeshlineExceptions
import MeshlineModels
import Testing

@Suite struct PolicyTests {
    @Test func theExamplePolicyLoadsWithTenantSectionsOverTheDefaults() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../services/exceptions/policy.example.json").path
        let policy = try RouterPolicy(contentsOf: path)
        #expect(policy.defaults.retry.maximumAttempts == 5 && policy.defaults.retry.initialIntervalMs == 2_000)
        #expect(policy.defaults.rule(for: .capacity).initialIntervalMs == 600_000 && policy.defaults.rule(for: .capacity).maximumAttempts == 3)
        #expect(policy.defaults.neverRetry == [.incorrectAddress])
        let acme = policy.section(tenantID: "acme")
        #expect(acme.retry.maximumAttempts == 8 && acme.retry.initialIntervalMs == 2_000)
        #expect(acme.neverRetry == [.incorrectAddress, .other] && acme.escalationDelaysMs == [300_000, 900_000])
        #expect(acme.escalationDelay(level: 5) == 900_000)
        #expect(policy.section(tenantID: "unknown") == policy.defaults)
    }

    @Test func aBrokenPolicyNamesTheFieldToFix() {
        #expect(throws: ExceptionError.invalidRequest(field: "policy.retry.backoff_coefficient", reason: "must be between 1 and 100")) {
            _ = try RouterPolicy(json: Data(#"{"retry": {"backoff_coefficient": 0.5}}"#.utf8))
        }
        #expect(throws: ExceptionError.self) { _ = try RouterPolicy(json: Data(#"{"never_retry": ["LOST_IN_SPACE"]}"#.utf8)) }
        #expect(throws: ExceptionError.self) { _ = try RouterPolicy(json: Data(#"{"tenants": {"acme": {"escalation_delays_ms": []}}}"#.utf8)) }
    }

    @Test func backoffGrowsToItsCeilingWithFullJitterThatASeedRepeats() {
        var rule = RetryRule()
        rule.initialIntervalMs = 1_000
        rule.backoffCoefficient = 2
        rule.maximumIntervalMs = 10_000
        #expect((1...6).map { rule.ceiling(attempt: $0) } == [1_000, 2_000, 4_000, 8_000, 10_000, 10_000])
        var policy = RouterPolicy()
        policy.jitter = JitterSource(seed: 7)
        let delays = (1...6).map { policy.retryDelay(rule: rule, caseID: "case-1", attempt: $0) }
        #expect(delays == (1...6).map { policy.retryDelay(rule: rule, caseID: "case-1", attempt: $0) })
        #expect(zip(delays, 1...6).allSatisfy { delay, attempt in delay >= 1 && delay <= rule.ceiling(attempt: attempt) })
        // Another seed or another case gives other delays; no jitter gives the ceiling.
        policy.jitter = JitterSource(seed: 8)
        #expect(delays != (1...6).map { policy.retryDelay(rule: rule, caseID: "case-1", attempt: $0) })
        rule.jitter = false
        #expect(policy.retryDelay(rule: rule, caseID: "case-1", attempt: 3) == 4_000)
    }
}
