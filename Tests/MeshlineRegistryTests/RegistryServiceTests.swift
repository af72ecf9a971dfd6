import Crypto
import Foundation
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineRegistry
import Synchronization
import Testing

func withRegistry(
    tenants: TenantDirectory = TestRegistry.defaultTenants(), clock: TestClock = TestClock(),
    configuration: ExportRegistryService.Configuration = ExportRegistryService.Configuration(), _ body: (TestRegistry) async throws -> Void
) async throws {
    let registry = try await TestRegistry(tenants: tenants, clock: clock, configuration: configuration)
    do {
        try await body(registry)
    } catch {
        await registry.stop()
        throw error
    }
    await registry.stop()
}

func code(_ error: any Error) -> StatusCode? { (error as? RPCError)?.code }

@Suite(.serialized) struct PublishTests {
    @Test func publishStoresVersionOneWithASealedAuditEntry() async throws {
        try await withRegistry { registry in
            let response = try await registry.publish(registry.export("exp-1"), key: "k1")
            let stored = try #require(response.export)
            #expect(stored.version == 1 && stored.state == .published && !response.replayed)
            #expect(stored.auditTrail.count == 1 && stored.auditTrail[0].change == "published v1")
            #expect(AuditChain.verify(stored).isEmpty)
            #expect(try await registry.get("exp-1") == stored)
        }
    }

    @Test func qaFailuresListEveryViolationInTheStatusDetails() async throws {
        try await withRegistry { registry in
            var bad = registry.export("exp-bad")
            bad.owningParty = nil
            bad.sla?.serviceLevel = "same-day"
            bad.expiresAtUnixMs = registry.clock.now - 1
            do throws(RPCError) {
                _ = try await registry.publish(bad)
                Issue.record("a bad export was accepted")
            } catch {
                #expect(error.code == .invalidArgument)
                let details = try #require(error.metadata.binary("grpc-status-details-bin"))
                let status = try RPCStatus(serializedBytes: details)
                #expect(status.code == 3)
                let any = try #require(status.details.first)
                #expect(any.typeURL == "type.googleapis.com/google.rpc.BadRequest")
                let fields = try BadRequest(serializedBytes: any.value).fieldViolations.map(\.field)
                #expect(fields == ["export.owning_party", "export.sla.service_level", "export.expires_at_unix_ms"])
            }
            // Nothing was stored.
            await #expect { _ = try await registry.get("exp-bad") } throws: { code($0) == .notFound }
        }
    }

    @Test func idempotentRetriesReturnTheStoredExportAndReusedKeysAreRefused() async throws {
        try await withRegistry { registry in
            let original = registry.export("exp-1")
            let first = try await registry.publish(original, key: "retry-me")
            let again = try await registry.publish(original, key: "retry-me")
            #expect(again.replayed && again.export == first.export)
            var changed = registry.export("exp-1")
            changed.intendedAction = "route-to-warehouse:WH-B"
            changed.warehouseID = "WH-B"
            await #expect { _ = try await registry.publish(changed, key: "retry-me") } throws: { code($0) == .alreadyExists }

            // A retry that comes after the TTL has passed still gets what was stored; a
            // new publish of the same content is refused by the QA gate.
            registry.clock.advance(by: 2 * 3_600_000)
            let late = try await registry.publish(original, key: "retry-me")
            #expect(late.replayed && late.export == first.export)
            await #expect { _ = try await registry.publish(original, key: "another-key") } throws: { code($0) == .invalidArgument }
        }
    }

    @Test func aSecondLiveExportForTheSameOrderIsAConflict() async throws {
        try await withRegistry { registry in
            _ = try await registry.publish(registry.export("exp-1", order: "order-9"))
            await #expect { _ = try await registry.publish(registry.export("exp-2", order: "order-9")) } throws: { code($0) == .failedPrecondition }
            // Publishing the same export id again without expected_version is a conflict too.
            await #expect { _ = try await registry.publish(registry.export("exp-1", order: "order-9")) } throws: { code($0) == .failedPrecondition }
        }
    }

    @Test func theShipmentsOfASplitOrderAreLiveSideBySideOncePerShipment() async throws {
        try await withRegistry { registry in
            func shipment(_ id: String, _ number: Int32) -> Export {
                var export = registry.export(id, order: "order-split")
                export.shipment = number
                return export
            }
            _ = try await registry.publish(shipment("exp-s1", 1))
            _ = try await registry.publish(shipment("exp-s2", 2))
            // Shipment 2 again under another id: a conflict naming the shipment.
            await #expect { _ = try await registry.publish(shipment("exp-s2b", 2)) } throws: { error in
                code(error) == .failedPrecondition && "\(error)".contains("shipment 2")
            }
            // An order that ships whole (0) is its first shipment.
            await #expect { _ = try await registry.publish(shipment("exp-s0", 0)) } throws: { code($0) == .failedPrecondition }
            // Out of range: the QA gate.
            await #expect { _ = try await registry.publish(shipment("exp-s-1", -1)) } throws: { code($0) == .invalidArgument }
            let listed: ListExportsResponse = try await registry.client.unary(
                ExportRegistryDescriptor.list, ListExportsRequest(tenantID: TestRegistry.tenant, orderID: "order-split"))
            #expect(Set(listed.exports.map(\.exportID)) == ["exp-s1", "exp-s2"] && Set(listed.exports.map(\.shipment)) == [1, 2])
        }
    }

    @Test func ofConcurrentPublishesForOneOrderExactlyOneWins() async throws {
        try await withRegistry { registry in
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<20 {
                    group.addTask { (try? await registry.publish(registry.export("exp-\(index)", order: "contested"))) != nil }
                }
                var results: [Bool] = []
                for await result in group { results.append(result) }
                return results
            }
            #expect(outcomes.filter { $0 }.count == 1)
        }
    }

    @Test func supersedingNeedsTheCurrentVersion() async throws {
        try await withRegistry { registry in
            _ = try await registry.publish(registry.export("exp-1"))
            var next = registry.export("exp-1")
            next.intendedAction = "route-to-warehouse:WH-B"
            next.warehouseID = "WH-B"
            let v2 = try #require(try await registry.publish(next, expected: 1).export)
            #expect(v2.version == 2 && v2.supersedesVersion == 1 && v2.auditTrail.count == 2)
            #expect(AuditChain.verify(v2).isEmpty)
            await #expect { _ = try await registry.publish(next, expected: 1) } throws: { code($0) == .aborted }
            await #expect { _ = try await registry.publish(registry.export("nope"), expected: 3) } throws: { code($0) == .notFound }
        }
    }

    @Test func aBackorderBecomesARoutingWhenSupersededButNotAPacking() async throws {
        try await withRegistry { registry in
            var backorder = registry.export("exp-bo")
            backorder.kind = .backorder
            backorder.intendedAction = "backorder"
            backorder.warehouseID = ""
            _ = try await registry.publish(backorder)
            let routed = try #require(try await registry.publish(registry.export("exp-bo"), expected: 1).export)
            #expect(routed.kind == .routing && routed.version == 2)
            var packing = registry.export("exp-bo")
            packing.kind = .packing
            await #expect { _ = try await registry.publish(packing, expected: 2) } throws: { code($0) == .invalidArgument }
        }
    }

    @Test func tenantsNeverSeeEachOthersExports() async throws {
        try await withRegistry { registry in
            _ = try await registry.publish(registry.export("exp-1"))
            await #expect { _ = try await registry.get("exp-1", tenant: TestRegistry.otherTenant) } throws: { code($0) == .notFound }
            // A request for one tenant cannot carry another tenant's export.
            await #expect { _ = try await registry.publish(registry.export("exp-2"), tenant: TestRegistry.otherTenant) } throws: { code($0) == .invalidArgument }
            let list: ListExportsResponse = try await registry.client.unary(ExportRegistryDescriptor.list, ListExportsRequest(tenantID: TestRegistry.otherTenant))
            #expect(list.exports.isEmpty)
        }
    }

    @Test func listPagesThroughEveryExportOnce() async throws {
        try await withRegistry { registry in
            for index in 0..<25 { _ = try await registry.publish(registry.export(String(format: "exp-%02d", index))) }
            var seen: [String] = []
            var token = ""
            repeat {
                let page: ListExportsResponse = try await registry.client.unary(
                    ExportRegistryDescriptor.list, ListExportsRequest(tenantID: TestRegistry.tenant, pageSize: 10, pageToken: token))
                seen += page.exports.map(\.exportID)
                token = page.nextPageToken
            } while !token.isEmpty
            #expect(seen == (0..<25).map { String(format: "exp-%02d", $0) })
            let byOwner: ListExportsResponse = try await registry.client.unary(
                ExportRegistryDescriptor.list, ListExportsRequest(tenantID: TestRegistry.tenant, owner: Party(role: .merchant, name: "nobody")))
            #expect(byOwner.exports.isEmpty)
            await #expect {
                let _: ListExportsResponse = try await registry.client.unary(ExportRegistryDescriptor.list, ListExportsRequest(tenantID: TestRegistry.tenant, pageToken: "forged"))
            } throws: { code($0) == .invalidArgument }
        }
    }
}

@Suite(.serialized) struct WatchAndAcknowledgeTests {
    @Test func aWatchResumedFromItsCursorGetsEveryVersionOnceInOrder() async throws {
        try await withRegistry { registry in
            for index in 0..<5 { _ = try await registry.publish(registry.export("exp-\(index)")) }
            // Read three events, then drop the call as a killed client would.
            var cursor = ""
            var received: [String] = []
            let stream = try await registry.client.serverStreaming(
                ExportRegistryDescriptor.watch, WatchRequest(tenantID: TestRegistry.tenant, fromBeginning: true), as: WatchEvent.self)
            var iterator = stream.makeAsyncIterator()
            for _ in 0..<3 {
                let event = try #require(try await iterator.next())
                received.append("\(event.export!.exportID)@\(event.export!.version)")
                cursor = event.cursor
            }
            // More commits while nobody watches.
            for index in 5..<8 { _ = try await registry.publish(registry.export("exp-\(index)")) }
            _ = try await registry.acknowledge("exp-0", version: 1, .accepted)

            let resumed = try await registry.client.serverStreaming(
                ExportRegistryDescriptor.watch, WatchRequest(tenantID: TestRegistry.tenant, cursor: cursor), as: WatchEvent.self)
            var resumedIterator = resumed.makeAsyncIterator()
            for _ in 0..<6 {
                let event = try #require(try await resumedIterator.next())
                received.append("\(event.export!.exportID)@\(event.export!.version)")
            }
            #expect(received == (0..<8).map { "exp-\($0)@1" } + ["exp-0@2"])
        }
    }

    @Test func watchFiltersByParty() async throws {
        try await withRegistry { registry in
            var other = registry.export("exp-other")
            other.owningParty = Party(role: .agency, name: "another-team")
            other.watchers = []
            _ = try await registry.publish(other)
            _ = try await registry.publish(registry.export("exp-mine"))
            // The version that takes the export away from the watcher is still the watcher's
            // to see (it must stop working on it); the versions after it are not.
            var takenAway = registry.export("exp-mine")
            takenAway.owningParty = Party(role: .agency, name: "another-team")
            takenAway.watchers = []
            _ = try await registry.publish(takenAway, expected: 1)
            _ = try await registry.publish(takenAway, expected: 2)
            _ = try await registry.publish(registry.export("exp-last"))
            for fromBeginning in [true, false] {
                // Also resumed right after v1, so that the stream has not seen v1 itself.
                let afterV1 = fromBeginning ? "" : try await Self.cursor(after: "exp-mine", version: 1, registry)
                let stream = try await registry.client.serverStreaming(
                    ExportRegistryDescriptor.watch,
                    WatchRequest(tenantID: TestRegistry.tenant, parties: [Party(role: .merchant, name: "acme-ops")], cursor: afterV1, fromBeginning: fromBeginning),
                    as: WatchEvent.self)
                var iterator = stream.makeAsyncIterator()
                var seen: [String] = []
                for _ in 0..<(fromBeginning ? 3 : 2) {
                    guard let export = try await iterator.next()?.export else { break }
                    seen.append("\(export.exportID)@\(export.version)")
                }
                #expect(seen == (fromBeginning ? ["exp-mine@1", "exp-mine@2", "exp-last@1"] : ["exp-mine@2", "exp-last@1"]))
            }
        }
    }

    /// The cursor of the event of `exportID`@`version` in an unfiltered Watch from the beginning.
    static func cursor(after exportID: String, version: Int64, _ registry: TestRegistry) async throws -> String {
        let stream = try await registry.client.serverStreaming(
            ExportRegistryDescriptor.watch, WatchRequest(tenantID: TestRegistry.tenant, fromBeginning: true), as: WatchEvent.self)
        for try await event in stream where event.export?.exportID == exportID && event.export?.version == version {
            return event.cursor
        }
        return ""
    }

    @Test func acknowledgementsMoveTheStateAndRejectionsReachTheRouter() async throws {
        try await withRegistry { registry in
            let router = RecordingRouter()
            let routerServer = RPCServer(services: [router])
            let routerPort = try await routerServer.start()
            let routerClient = try RPCClient(endpoints: ["127.0.0.1:\(routerPort)"])
            let maintenance = RegistryMaintenance(service: registry.service, deliver: { report in
                let _: ReportResponse = try await routerClient.unary(ExceptionRouterDescriptor.report, report)
            }, clock: { registry.clock.now })

            _ = try await registry.publish(registry.export("exp-1"))
            let accepted = try await registry.acknowledge("exp-1", version: 1, .accepted)
            #expect(accepted.state == .accepted && accepted.version == 2)
            await #expect { _ = try await registry.acknowledge("exp-1", version: 1, .accepted) } throws: { code($0) == .aborted }
            let rejected = try await registry.acknowledge("exp-1", version: 2, .rejected, reason: .outOfStock)
            #expect(rejected.state == .rejected && AuditChain.verify(rejected).isEmpty)
            #expect(rejected.auditTrail.last?.actor == "3pl:wh-a")

            #expect(await maintenance.runOnce() == 1)
            let reports = router.reports.withLock { $0 }
            #expect(reports.count == 1)
            #expect(reports.first?.exportID == "exp-1" && reports.first?.kind == .rejection && reports.first?.reason == .outOfStock)
            #expect(await maintenance.runOnce() == 0, "a delivered report is not sent again")

            _ = try await registry.publish(registry.export("exp-2"))
            await #expect { _ = try await registry.acknowledge("exp-2", version: 1, .completed) } throws: { code($0) == .invalidArgument }
            // Who acknowledges goes into the audit trail of every later version: a valid, bounded party.
            for (actor, field) in [(Party(role: .unspecified, name: "wh-a"), "actor.role"), (Party(role: .thirdPartyLogistics, name: String(repeating: "w", count: 100_000)), "actor.name")] {
                await #expect {
                    let _: AcknowledgeResponse = try await registry.client.unary(
                        ExportRegistryDescriptor.acknowledge,
                        AcknowledgeRequest(tenantID: TestRegistry.tenant, exportID: "exp-2", version: 1, outcome: .accepted, actor: actor))
                } throws: { error in
                    code(error) == .invalidArgument && "\(error)".contains(field)
                }
            }
            let done = try await registry.acknowledge("exp-2", version: 1, .completed, shippedAt: registry.clock.now)
            #expect(done.state == .completed && done.shippedAtUnixMs == registry.clock.now)
            // A shipped export is finished: superseding it would make the order live again.
            await #expect { _ = try await registry.publish(registry.export("exp-2"), expected: done.version) } throws: { code($0) == .failedPrecondition }
            #expect(try await registry.get("exp-2").state == .completed)

            await routerClient.close()
            await routerServer.shutdown()
        }
    }

    @Test func aBackorderIsReportedToTheRouterOnceInTheSameTransaction() async throws {
        try await withRegistry { registry in
            let router = RecordingRouter()
            let routerServer = RPCServer(services: [router])
            let routerClient = try RPCClient(endpoints: ["127.0.0.1:\(try await routerServer.start())"])
            let maintenance = RegistryMaintenance(service: registry.service, deliver: { report in
                let _: ReportResponse = try await routerClient.unary(ExceptionRouterDescriptor.report, report)
            }, clock: { registry.clock.now })

            var backorder = registry.export("exp-bo")
            backorder.kind = .backorder
            backorder.intendedAction = "backorder"
            backorder.warehouseID = ""
            _ = try await registry.publish(backorder)
            // Stock arrives: the routing version that supersedes it is not an exception.
            _ = try await registry.publish(registry.export("exp-bo"), expected: 1)
            #expect(await maintenance.runOnce() == 1)
            let reports = router.reports.withLock { $0 }
            #expect(reports.map(\.kind) == [.backorder] && reports.first?.exportVersion == 1 && reports.first?.detail == "no warehouse can fill 1× SKU-1")
            await routerClient.close()
            await routerServer.shutdown()
        }
    }

    @Test func reportsWaitUntilTheRouterAnswers() async throws {
        try await withRegistry { registry in
            _ = try await registry.publish(registry.export("exp-1"))
            _ = try await registry.acknowledge("exp-1", version: 1, .rejected, reason: .capacity)
            let down = RegistryMaintenance(service: registry.service, deliver: { _ in throw RPCError(code: .unavailable, message: "router down") }, clock: { registry.clock.now })
            #expect(await down.runOnce() == 0)
            let up = RegistryMaintenance(service: registry.service, deliver: { _ in }, clock: { registry.clock.now })
            #expect(await up.runOnce() == 0, "the retry waits for its backoff")
            registry.clock.advance(by: 1_000)
            #expect(await up.runOnce() == 1)
        }
    }

    @Test func anUnacknowledgedExportExpiresAndIsReported() async throws {
        try await withRegistry { registry in
            _ = try await registry.publish(registry.export("exp-1"))
            let maintenance = RegistryMaintenance(service: registry.service, deliver: { _ in }, clock: { registry.clock.now })
            #expect(await maintenance.runOnce() == 0)
            registry.clock.advance(by: 2 * 3_600_000)
            #expect(await maintenance.runOnce() == 1)
            let expired = try await registry.get("exp-1")
            #expect(expired.state == .expired && expired.version == 2 && AuditChain.verify(expired).isEmpty)
        }
    }
}
