import Foundation
import Logging
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
@testable import MeshlineRegistry
import MetricsTestKit
import Synchronization
import Testing

/// What the outbox's delivery does with reports it cannot send, on both storage
/// backends: what the router receives, what stays on disk, and what an operator is
/// told (log lines, metrics).
@Suite(.serialized) struct OutboxTests {
    /// A registry service over `store`, the maintenance delivering to a recording router
    /// over the wire, its log and its metrics.
    struct Harness {
        let service: ExportRegistryService
        let maintenance: RegistryMaintenance
        let router: RecordingRouter
        let log: LogRecorder
        let metrics: TestMetrics
        let clock: TestClock
    }

    static func withHarness(_ backend: Backend, _ body: (Harness, any RegistryStore, OutboxRows) async throws -> Void) async throws {
        try await withStore(backend) { store, clock, rows in
            let log = LogRecorder()
            let metrics = TestMetrics()
            let service = ExportRegistryService(store: store, tenants: TestRegistry.defaultTenants(), clock: { clock.now }, logger: log.logger)
            let router = RecordingRouter()
            let routerServer = RPCServer(services: [router])
            let routerClient = try RPCClient(endpoints: ["127.0.0.1:\(try await routerServer.start())"])
            let maintenance = RegistryMaintenance(service: service, deliver: { report in
                let _: ReportResponse = try await routerClient.unary(ExceptionRouterDescriptor.report, report)
            }, clock: { clock.now }, metricsFactory: metrics)
            do {
                try await body(Harness(service: service, maintenance: maintenance, router: router, log: log, metrics: metrics, clock: clock), store, rows)
            } catch {
                await routerClient.close()
                await routerServer.shutdown()
                throw error
            }
            await routerClient.close()
            await routerServer.shutdown()
        }
    }

    /// Queues one rejection report per export id, as an acknowledgement would.
    static func queueReports(_ store: any RegistryStore, _ ids: [String], clock: TestClock) async throws {
        for id in ids {
            var unexpiring = StorageContractTests.export(id, now: clock.now)
            // Not expiring while the test moves its clock (an expiry would queue a report too).
            unexpiring.expiresAtUnixMs = clock.now + 30 * 86_400_000
            let export = unexpiring
            _ = try await store.append(AppendRequest(tenantID: "acme", exportID: id) { (_: AppendContext) throws(RegistryError) -> AppendPlan in
                .store(export, sideEffects: AppendSideEffects(outbox: [
                    ReportRequest(tenantID: "acme", exportID: id, kind: .rejection, detail: "customer Pat Doe, 1 Main St")
                ]))
            })
        }
    }

    @Test(arguments: Backend.allCases)
    func aReportThatDoesNotDecodeIsSetAsideAndTheOthersAreDelivered(backend: Backend) async throws {
        try await Self.withHarness(backend) { harness, store, rows in
            try await Self.queueReports(store, ["exp-1", "exp-2", "exp-3"], clock: harness.clock)
            let queued = try await rows.all()
            let bad = queued[0].id
            let valid = ReportRequest(tenantID: "acme", exportID: "exp-1", kind: .rejection).serializedBytes()
            // Truncated: a length-delimited field whose length runs past the end.
            try await rows.setReport(bad, [0x0A, 0xFF, 0x01], nil)

            // The rows after it reach the router.
            #expect(await harness.maintenance.runOnce() == 2)
            #expect(harness.router.reports.withLock { $0 }.map(\.exportID) == ["exp-2", "exp-3"])
            // The bad row is still on disk, its next attempt an hour out.
            #expect(try await rows.all() == [OutboxRows.Row(id: bad, attempts: 1, nextAttemptAt: harness.clock.now + 3_600_000)])
            // The operator is told once: an error naming the outbox id, and a count.
            let errors = harness.log.entries(.error)
            #expect(errors.count == 1)
            #expect(errors.first?.metadata["outbox_id"] == "\(bad)")
            #expect(errors.first?.message.contains("does not decode") == true)
            #expect(try harness.metrics.expectCounter("meshline_outbox_undecodable_total").totalValue == 1)

            // Set aside: the next rounds neither retry nor log it again...
            #expect(await harness.maintenance.runOnce() == 0)
            harness.clock.advance(by: 60_000)
            #expect(await harness.maintenance.runOnce() == 0)
            #expect(harness.log.entries(.error).count == 1)
            // ...until its hour is over: read again, still undecodable, told again.
            harness.clock.advance(by: 3_600_000)
            #expect(await harness.maintenance.runOnce() == 0)
            #expect(harness.log.entries(.error).count == 2)
            #expect(try harness.metrics.expectCounter("meshline_outbox_undecodable_total").totalValue == 2)
            #expect(try await rows.all().map(\.attempts) == [2])

            // Repaired (or read by a release that understands it), it is delivered and removed.
            try await rows.setReport(bad, valid, 0)
            #expect(await harness.maintenance.runOnce() == 1)
            #expect(harness.router.reports.withLock { $0 }.map(\.exportID) == ["exp-2", "exp-3", "exp-1"])
            #expect(try await rows.all().isEmpty)
        }
    }
}
