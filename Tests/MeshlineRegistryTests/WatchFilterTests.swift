import MeshlineModels
@testable import MeshlineRegistry
import Testing

/// A party-filtered Watch looks at an export's previous version only for changes that
/// can move its parties: acknowledgements and expiries, most of the log, cost no read.
@Suite struct WatchFilterTests {
    @Test func onlyOverridesAndSupersedingPublishesMayChangeTheParties() async throws {
        try await withRegistry { registry in
            let published = try await registry.publish(registry.export("exp-1")).export!
            #expect(ExportRegistryService.mayChangeParties(published))
            let accepted = try await registry.acknowledge("exp-1", version: 1, .accepted)
            #expect(!ExportRegistryService.mayChangeParties(accepted))
            let superseded = try await registry.publish(registry.export("exp-1"), expected: 2).export!
            #expect(ExportRegistryService.mayChangeParties(superseded))
            let rejected = try await registry.acknowledge("exp-1", version: 3, .rejected, reason: .capacity)
            #expect(!ExportRegistryService.mayChangeParties(rejected))
        }
    }
}
