import Foundation
import MeshlineExceptions
import MeshlineModels
import MeshlineRPC
import Testing

@Suite(.serialized) struct DurabilityTests {
    @Test func aRestartInTheMiddleOfABackoffStillRetriesOnTime() async throws {
        try await withMesh { mesh in
            let path = mesh.directory.appendingPathComponent("restart.sqlite").path
            var router = try await mesh.router(path: path)
            let retrying = try await mesh.openCase(mesh.export("exp-r"), reason: .capacity, on: router)
            #expect(retrying.state == .retrying && retrying.attempts == 0)
            let due = retrying.nextAttemptAtUnixMs
            #expect(due > mesh.clock.now && due <= mesh.clock.now + 10_000)

            // Half-way through the backoff the router stops; a new one opens the same database.
            mesh.clock.advance(by: (due - mesh.clock.now) / 2)
            await router.stop()
            router = try await mesh.router(path: path)
            mesh.clock.advance(by: due - mesh.clock.now - 1)
            #expect(await router.scheduler.runOnce() == 0)
            mesh.clock.advance(by: 1)
            #expect(await router.scheduler.runOnce() == 1)
            // The retry ran at its due time. The decision service is down in this test,
            // so the retry is not counted and is scheduled again: never lost.
            let after = try await router.onlyCase("exp-r")
            let fired = try #require(after.history.last)
            #expect(fired.atUnixMs == due && fired.change.contains("the decision service did not answer (UNAVAILABLE)"))
            #expect(after.state == .retrying && after.attempts == 0 && after.nextAttemptAtUnixMs > due)
            #expect(try await router.store.record(tenantID: TestMesh.tenant, caseID: after.caseID)?.unanswered == 1)
            await router.stop()
        }
    }

    @Test func whileTheDecisionServiceStaysDownACaseIsRetriedUntilShipByThenQueued() async throws {
        try await withMesh { mesh in
            let router = try await mesh.router()
            let shipBy = mesh.clock.now + 10 * minute
            var current = try await mesh.openCase(mesh.export("exp-down", shipBy: shipBy), reason: .capacity, on: router)
            var rounds = 0
            while current.state == .retrying {
                mesh.clock.advance(by: current.nextAttemptAtUnixMs - mesh.clock.now)
                #expect(await router.scheduler.runOnce() == 1)
                current = try await router.onlyCase("exp-down")
                rounds += 1
            }
            // Unanswered retries are not attempts, so only ship-by ends them; their
            // backoff grows (10 s, 20 s, 40 s, then 60 s at most, with full jitter).
            #expect(rounds >= 10 && rounds <= 60 && current.attempts == 0)
            #expect(current.state == .queued && mesh.clock.now <= shipBy)
            #expect(current.history.last?.change.contains("could not ship by \(shipBy)") == true)
            await router.stop()
        }
    }

    @Test func twoRoutersOnOnePostgresDatabaseWorkEachCaseOnce() async throws {
        try await withMesh { mesh in
            try await withPostgresSchema { make in
                let first = try make()
                try await first.migrate()
                let second = try make()
                let routerA = try await TestRouter(mesh: mesh, store: first, decision: nil, policy: TestMesh.policy())
                let routerB = try await TestRouter(mesh: mesh, store: second, decision: nil, policy: TestMesh.policy())
                let count = 40
                for index in 0..<count {
                    _ = try await mesh.publish(mesh.export("exp-\(index)", path: .humanQueue))
                    _ = try await mesh.reject("exp-\(index)", reason: .capacity)
                }
                // Reports go to both replicas alike.
                await mesh.deliverReports(to: routerA)
                #expect(try await routerB.list(pageSize: 1000).cases.count == count)
                mesh.clock.advance(by: 10 * minute)
                async let workedA = routerA.scheduler.runOnce()
                async let workedB = routerB.scheduler.runOnce()
                let (a, b) = await (workedA, workedB)
                let again = await routerA.scheduler.runOnce() + (await routerB.scheduler.runOnce())
                #expect(a + b == count && again == 0)
                let cases = try await routerB.list(pageSize: 1000).cases
                #expect(cases.allSatisfy { $0.escalationLevel == 2 && $0.history.filter { $0.change.hasPrefix("escalated") }.count == 1 })
                let raised = try await routerA.notifications(count: 2 * count + 1).filter { $0.notificationID.hasSuffix("escalation-2") }
                #expect(raised.count == count)
                await routerA.stop()
                await routerB.stop()
            }
        }
    }
}
