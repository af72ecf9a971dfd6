import Foundation
import MeshlineExceptions
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import Testing

/// The router over the wire with a real registry; the registry's outbox delivers the reports.
@Suite(.serialized) struct RouterTests {
    @Test func aRepeatedReportOfOneVersionIsADuplicate() async throws {
        try await withMesh { mesh in
            let router = try await mesh.router()
            _ = try await mesh.publish(mesh.export("exp-1"))
            let rejected = try await mesh.reject("exp-1", reason: .capacity)
            #expect(await mesh.deliverReports(to: router) == 1)
            let opened = try await router.onlyCase("exp-1")
            #expect(opened.exportVersion == rejected.version && opened.kind == .rejection && opened.reason == .capacity)
            #expect(opened.rejectedBy == ["WH-A"] && opened.orderID == "order-exp-1")
            let again = try await router.report(ReportRequest(
                tenantID: TestMesh.tenant, exportID: "exp-1", exportVersion: rejected.version, kind: .rejection, reason: .capacity, warehouseID: "WH-A"))
            #expect(again.duplicate && again.exceptionCase == opened)
            #expect(try await router.list().cases.count == 1)
            // A late report of an older version opens its own case, once, inheriting nothing newer.
            let late = ReportRequest(tenantID: TestMesh.tenant, exportID: "exp-1", exportVersion: 1, kind: .expiry)
            let older = try await router.report(late)
            #expect(!older.duplicate && older.exceptionCase?.rejectedBy == [] && older.exceptionCase?.reason == .expired)
            #expect(try await router.report(late).duplicate)
            #expect(try await router.list().cases.count == 2)
            // Unknown exports, missing fields and oversized text are refused with what to fix.
            await #expect { _ = try await router.report(ReportRequest(tenantID: TestMesh.tenant, exportID: "nope", exportVersion: 1, kind: .expiry)) } throws: { code($0) == .notFound }
            await #expect { _ = try await router.report(ReportRequest(tenantID: TestMesh.tenant, exportID: "exp-1", exportVersion: 1, kind: .rejection)) } throws: { code($0) == .invalidArgument }
            await #expect { _ = try await router.report(ReportRequest(tenantID: TestMesh.tenant, exportID: "exp-1", exportVersion: 1, kind: .expiry, detail: String(repeating: "x", count: 5000))) } throws: { code($0) == .invalidArgument }
            await router.stop()
        }
    }

    @Test func aReasonThatIsNeverRetriedEscalatesAtOnce() async throws {
        try await withMesh { mesh in
            let router = try await mesh.router()
            let queued = try await mesh.openCase(mesh.export("exp-addr", queue: "address-desk"), reason: .incorrectAddress, on: router)
            #expect(queued.state == .queued && queued.queue == "address-desk" && queued.escalationLevel == 1 && queued.attempts == 0)
            #expect(queued.dueAtUnixMs == mesh.clock.now + 10 * minute)
            #expect(queued.history.last?.change.contains("REJECTION_REASON_INCORRECT_ADDRESS is never retried") == true)
            let events = try await router.notifications(count: 1)
            #expect(events.map(\.kind) == [.escalationRaised])
            #expect(Set(events.first?.recipients.map(\.contactID) ?? []) == ["ops-oncall", "customer-crm"])
            await router.stop()
        }
    }

    @Test func aRetryThatCouldNotShipByShipByEscalatesAtOnce() async throws {
        try await withMesh { mesh in
            // The first retry waits up to 2 hours; the export must ship within 1.
            let router = try await mesh.router(policy: TestMesh.policy { $0.defaults.retry.initialIntervalMs = 2 * hour; $0.defaults.retry.maximumIntervalMs = 2 * hour; $0.defaults.retry.jitter = false })
            let queued = try await mesh.openCase(mesh.export("exp-late", shipBy: mesh.clock.now + hour), reason: .capacity, on: router)
            #expect(queued.state == .queued && queued.queue == "agency-ops" && queued.attempts == 0)
            #expect(queued.history.last?.change.contains("could not ship by") == true)
            await router.stop()
        }
    }

    @Test func anUnclaimedCaseEscalatesLevelByLevel() async throws {
        try await withMesh { mesh in
            let router = try await mesh.router()
            var current = try await mesh.openCase(mesh.export("exp-h", path: .humanQueue, queue: "agency-ops"), reason: .capacity, on: router)
            #expect(current.state == .queued && current.escalationLevel == 1)
            let opened = mesh.clock.now

            mesh.clock.advance(by: 10 * minute - 1)
            #expect(await router.scheduler.runOnce() == 0)
            mesh.clock.advance(by: 1)
            #expect(await router.scheduler.runOnce() == 1)
            current = try await router.onlyCase("exp-h")
            #expect(current.escalationLevel == 2 && current.dueAtUnixMs == opened + 10 * minute + 20 * minute)

            mesh.clock.advance(by: 20 * minute)
            #expect(await router.scheduler.runOnce() == 1)
            current = try await router.onlyCase("exp-h")
            #expect(current.escalationLevel == 3 && current.state == .queued)
            // Level 3 is the export's last: nothing is due any more.
            mesh.clock.advance(by: 10 * hour)
            #expect(await router.scheduler.runOnce() == 0)
            #expect(try await router.onlyCase("exp-h").escalationLevel == 3)

            let events = try await router.notifications(count: 3)
            #expect(events.map(\.notificationID) == ["escalation-1", "escalation-2", "escalation-3"].map { "\(current.caseID)/\($0)" })
            #expect(events.map { $0.recipients.map(\.contactID).sorted() } == [["customer-crm", "ops-oncall"], ["ops-lead"], ["merchant-ops"]])
            #expect(current.history.map(\.change).filter { $0.hasPrefix("escalated") }.count == 2)
            await router.stop()
        }
    }

    @Test func claimReleaseAndResolveAreRecordedOnTheHistory() async throws {
        try await withMesh { mesh in
            let router = try await mesh.router()
            let caseID = try await mesh.openCase(mesh.export("exp-c", path: .autoEscalateToAgency), reason: .outOfStock, on: router).caseID

            let claimed = try await router.claim(caseID, by: "agency:alice")
            #expect(claimed.state == .claimed && claimed.claimedBy == "agency:alice")
            await #expect { _ = try await router.claim(caseID, by: "agency:bob") } throws: { code($0) == .failedPrecondition }
            await #expect { _ = try await router.claim(caseID, by: "not a party") } throws: { code($0) == .invalidArgument }
            // A claimed case does not escalate.
            mesh.clock.advance(by: 11 * minute)
            #expect(await router.scheduler.runOnce() == 0)
            let released = try await router.claim(caseID, by: "agency:alice", release: true)
            #expect(released.state == .queued && released.claimedBy.isEmpty && released.escalationLevel == 1)
            #expect(released.dueAtUnixMs == mesh.clock.now + 10 * minute)
            _ = try await router.claim(caseID, by: "agency:bob")

            await #expect { _ = try await router.resolve(caseID, Resolution(kind: .cancelled), by: "agency:bob") } throws: { code($0) == .invalidArgument }
            await #expect { _ = try await router.resolve(caseID, Resolution(kind: .cancelled, reason: "customer asked"), by: "agency:alice") } throws: { code($0) == .failedPrecondition }
            // An override must point at a version a signed override produced.
            await #expect { _ = try await router.resolve(caseID, Resolution(kind: .overridden, overrideRef: "exp-c"), by: "agency:bob") } throws: { code($0) == .invalidArgument }
            await #expect { _ = try await router.resolve(caseID, Resolution(kind: .overridden, overrideRef: "exp-c@9"), by: "agency:bob") } throws: { code($0) == .failedPrecondition }
            // Not newer than the case's version: whatever made it came before the case.
            await #expect { _ = try await router.resolve(caseID, Resolution(kind: .overridden, overrideRef: "exp-c@1"), by: "agency:bob") } throws: { code($0) == .invalidArgument }
            let overridden = try await mesh.override("exp-c")
            // Newer, but not made by an override: a later acknowledgement.
            let accepted = try await mesh.acknowledge("exp-c", version: overridden.version, .accepted)
            await #expect { _ = try await router.resolve(caseID, Resolution(kind: .overridden, overrideRef: "exp-c@\(accepted.version)"), by: "agency:bob") } throws: { code($0) == .failedPrecondition }
            let resolved = try await router.resolve(caseID, Resolution(kind: .overridden, overrideRef: "exp-c@\(overridden.version)"), by: "agency:bob")
            #expect(resolved.state == .resolved && resolved.resolution == Resolution(kind: .overridden, overrideRef: "exp-c@\(overridden.version)"))
            await #expect { _ = try await router.resolve(caseID, Resolution(kind: .cancelled, reason: "again"), by: "agency:bob") } throws: { code($0) == .failedPrecondition }

            #expect(overridden.version == 3)
            #expect(resolved.history.map { "\($0.actor) \($0.change)" } == [
                "service:exceptions opened: exp-c@2 rejected (REJECTION_REASON_OUT_OF_STOCK) at WH-A",
                "service:exceptions queued in agency-ops at level 1: the exception path is EXCEPTION_PATH_TYPE_AUTO_ESCALATE_TO_AGENCY",
                "agency:alice claimed by agency:alice at level 1",
                "agency:alice released by agency:alice",
                "agency:bob claimed by agency:bob at level 1",
                "agency:bob resolved RESOLUTION_KIND_OVERRIDDEN (exp-c@3)",
            ])
            let resolvedEvents = try await router.notifications(count: 2).filter { $0.kind == .caseResolved }
            #expect(resolvedEvents.count == 1 && resolvedEvents.first?.caseID == caseID)
            await router.stop()
        }
    }
}
