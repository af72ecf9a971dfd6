import MeshlineModels
import MeshlineRPC
@testable import MeshlineService
import Testing

/// Per-tenant rate limits keep one bucket per tenant name a caller sends: bounded.
@Suite struct RateLimitTests {
    let method = ExportRegistryDescriptor.list

    @Test func idleBucketsAreForgottenOnceThereAreMany() async throws {
        let policy = APIKeyPolicy(keys: nil, tenantRate: 5)
        let many = APIKeyPolicy.bucketsKeptWithoutPruning + 500
        for index in 0..<many { try policy.authorize(tenant: "tenant-\(index)", principal: nil, method: method) }
        #expect(policy.bucketCount == many)
        // A second later every bucket is full again: the next call forgets them all but its own.
        try await Task.sleep(for: .milliseconds(1100))
        try policy.authorize(tenant: "busy", principal: nil, method: method)
        #expect(policy.bucketCount == 1)
    }

    @Test func aTenantNameLongerThanAnIdentifierIsRefusedWithoutABucket() {
        let policy = APIKeyPolicy(keys: nil, tenantRate: 5)
        #expect {
            try policy.authorize(tenant: String(repeating: "t", count: Identifier.maximumLength + 1), principal: nil, method: method)
        } throws: { ($0 as? RPCError)?.code == .invalidArgument }
        #expect(policy.bucketCount == 0)
    }
}
