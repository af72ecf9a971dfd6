import Foundation
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineRegistry
import PostgresNIO
import Testing

/// Two registry replicas on one PostgreSQL database: a connector watching one
/// replica receives what is published through the other.
@Suite(.serialized) struct ReplicaTests {
    @Test func aWatchOnOneReplicaSeesCommitsOfTheOther() async throws {
        try await withPostgresSchema { schema, logger in
            let clock = TestClock()
            let stores = try (0..<2).map { _ in try PostgresRegistryStore(url: Backend.postgresURL, schema: schema, logger: logger, clock: { clock.now }) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for store in stores { group.addTask { await store.run() } }
                defer { group.cancelAll() }
                try await stores[0].migrate()
                let services = stores.map { ExportRegistryService(store: $0, tenants: TestRegistry.defaultTenants(), clock: { clock.now }) }
                let servers = services.map { RPCServer(services: [$0]) }
                var clients: [RPCClient] = []
                for server in servers { clients.append(try RPCClient(endpoints: ["127.0.0.1:\(try await server.start())"])) }
                // Replica A's background work, as meshline-registry runs it.
                let maintenance = Task { await RegistryMaintenance(service: services[0], deliver: nil, interval: .milliseconds(100), clock: { clock.now }).run() }

                // The call returns with the first event (the response headers come with it), so it reads in a task.
                let watcher = clients[0]
                let watching = Task { () async throws -> [String] in
                    let stream = try await watcher.serverStreaming(
                        ExportRegistryDescriptor.watch, WatchRequest(tenantID: TestRegistry.tenant), timeout: .seconds(10), as: WatchEvent.self)
                    var seen: [String] = []
                    for try await event in stream {
                        seen.append(event.export?.exportID ?? "")
                        if seen.count == 3 { break }
                    }
                    return seen
                }
                try await Task.sleep(for: .milliseconds(300))  // the watch is waiting for new commits
                for index in 0..<3 {
                    let _: PublishResponse = try await clients[1].unary(
                        ExportRegistryDescriptor.publish, PublishRequest(tenantID: TestRegistry.tenant, export: TestRegistry.export("exp-b\(index)", now: clock.now)))
                }
                let seen = try await watching.value
                #expect(seen == ["exp-b0", "exp-b1", "exp-b2"])

                maintenance.cancel()
                for client in clients { await client.close() }
                for server in servers { await server.shutdown(gracePeriod: .seconds(1)) }
            }
            for store in stores { await store.close() }
        }
    }
}
