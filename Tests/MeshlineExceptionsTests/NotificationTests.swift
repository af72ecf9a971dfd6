import Foundation
import MeshlineExceptions
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import Testing

@Suite(.serialized) struct NotificationTests {
    @Test func anotherTenantsCaseDoesNotExistForThem() async throws {
        try await withMesh { mesh in
            let router = try await mesh.router()
            let caseID = try await mesh.openCase(mesh.export("exp-t", path: .humanQueue), reason: .capacity, on: router).caseID
            let other = TestMesh.otherTenant
            await #expect { _ = try await router.claim(caseID, by: "agency:mallory", tenant: other) } throws: { code($0) == .notFound }
            await #expect { _ = try await router.resolve(caseID, Resolution(kind: .cancelled, reason: "x"), by: "agency:mallory", tenant: other) } throws: { code($0) == .notFound }
            #expect(try await router.list(tenant: other).cases.isEmpty)
            #expect(try await router.notifications(tenant: other, count: 1).isEmpty)
            // Reporting another tenant's export finds nothing in the registry for that tenant.
            await #expect {
                _ = try await router.report(ReportRequest(tenantID: other, exportID: "exp-t", exportVersion: 2, kind: .rejection, reason: .capacity))
            } throws: { code($0) == .notFound }
            // The owner still sees and works it.
            #expect(try await router.claim(caseID, by: "agency:alice").state == .claimed)
            await router.stop()
        }
    }

    @Test func listQueueFiltersSortsByDueTimeAndPages() async throws {
        try await withMesh { mesh in
            let router = try await mesh.router()
            for (index, queue) in ["desk-a", "desk-b", "desk-a"].enumerated() {
                _ = try await mesh.publish(mesh.export("exp-\(index)", path: .humanQueue, queue: queue))
                _ = try await mesh.reject("exp-\(index)", reason: .capacity)
                await mesh.deliverReports(to: router)
                mesh.clock.advance(by: 1_000)
            }
            let first = try await router.list(queue: "desk-a", state: .queued, pageSize: 1)
            #expect(first.cases.map(\.exportID) == ["exp-0"] && !first.nextPageToken.isEmpty)
            let second = try await router.list(queue: "desk-a", state: .queued, pageSize: 1, token: first.nextPageToken)
            #expect(second.cases.map(\.exportID) == ["exp-2"] && second.nextPageToken.isEmpty)
            #expect(try await router.list().cases.map(\.exportID) == ["exp-0", "exp-1", "exp-2"])
            #expect(try await router.list(state: .claimed).cases.isEmpty)
            await #expect { _ = try await router.list(pageSize: 5000) } throws: { code($0) == .invalidArgument }
            await #expect { _ = try await router.list(token: "forged") } throws: { code($0) == .invalidArgument }
            await router.stop()
        }
    }

    @Test func aStreamResumedFromACursorGetsEachEventOnce() async throws {
        try await withMesh { mesh in
            let router = try await mesh.router()
            for index in 0..<3 {
                _ = try await mesh.publish(mesh.export("exp-\(index)", path: .humanQueue))
                _ = try await mesh.reject("exp-\(index)", reason: .capacity)
            }
            await mesh.deliverReports(to: router)
            let firstTwo = try await router.notifications(count: 2)
            #expect(firstTwo.count == 2)
            // Resume after the second: the third, then one raised while the stream is open.
            let stream: ResponseStream<NotificationEvent> = try await router.client.serverStreaming(
                ExceptionRouterDescriptor.notifications, NotificationsRequest(tenantID: TestMesh.tenant, cursor: firstTwo[1].cursor), timeout: .seconds(5))
            var iterator = stream.makeAsyncIterator()
            let third = try #require(try await iterator.next())
            _ = try await mesh.publish(mesh.export("exp-live", path: .humanQueue))
            _ = try await mesh.reject("exp-live", reason: .capacity)
            await mesh.deliverReports(to: router)
            let live = try #require(try await iterator.next())
            #expect(live.exportID == "exp-live" && live.kind == .escalationRaised)
            let all = firstTwo + [third, live]
            #expect(Set(all.map(\.notificationID)).count == 4)
            #expect(Set(all.map(\.exportID)) == ["exp-0", "exp-1", "exp-2", "exp-live"])
            // From the start again: the same four, in the same order, nothing more.
            #expect(try await router.notifications(count: 5).map(\.notificationID) == all.map(\.notificationID))
            await #expect { _ = try await router.notifications(after: "bogus", count: 1) } throws: { code($0) == .invalidArgument }
            await router.stop()
        }
    }

    @Test func aBackorderSendsOneCustomerNoticeAndResolvesWhenARoutableVersionIsPublished() async throws {
        try await withMesh { mesh in
            let router = try await mesh.router()
            let backorder = try await mesh.publish(mesh.export("exp-bo", kind: .backorder))
            let restock = mesh.clock.now + 72 * hour
            let report = ReportRequest(tenantID: TestMesh.tenant, exportID: "exp-bo", exportVersion: backorder.version, kind: .backorder, expectedRestockAtUnixMs: restock)
            let opened = try await router.report(report).exceptionCase!
            #expect(opened.state == .queued && opened.queue == "backorder" && opened.expectedRestockAtUnixMs == restock)
            #expect(try await router.report(report).duplicate)
            // Polls that find nothing new change nothing and tell nobody.
            for _ in 0..<3 {
                mesh.clock.advance(by: minute)
                #expect(await router.scheduler.runOnce() == 1)
            }
            #expect(try await router.onlyCase("exp-bo").state == .queued)
            let notices = try await router.notifications(count: 2)
            #expect(notices.map(\.kind) == [.customerDelayNotice])
            #expect(notices.first?.expectedAtUnixMs == restock && notices.first?.message == "backorder: new expected ship date 2025-12-02")
            #expect(notices.first?.recipients.map(\.contactID) == ["customer-crm"])

            // A human may hold the case meanwhile; stock arriving still resolves it.
            #expect(try await router.claim(opened.caseID, by: "merchant:acme-ops").state == .claimed)
            // Stock arrives: a routing version supersedes the backorder (what the decision service publishes).
            var routing = mesh.export("exp-bo")
            routing.orderID = backorder.orderID
            _ = try await mesh.publish(routing, expected: backorder.version)
            mesh.clock.advance(by: minute)
            #expect(await router.scheduler.runOnce() == 1)
            let resolved = try await router.onlyCase("exp-bo")
            #expect(resolved.state == .resolved && resolved.resolution?.kind == .retried)
            #expect(resolved.resolution?.reason == "stock arrived: exp-bo@2 routes to WH-A")
            let events = try await router.notifications(count: 3)
            #expect(events.map(\.kind) == [.customerDelayNotice, .caseResolved])
            await router.stop()
        }
    }
}
