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

    /// A router that keeps refusing (here PERMISSION_DENIED, as for an API key not
    /// allowed for the tenant) used to get the report every minute forever, and nobody
    /// heard of it. It still gets it until it accepts, and each refusal is now a warning
    /// line and a count, with the outbox's size beside them.
    @Test(arguments: Backend.allCases)
    func aReportTheRouterKeepsRefusingIsRetriedAndMadeVisible(backend: Backend) async throws {
        try await Self.withHarness(backend) { harness, store, rows in
            harness.router.refusal.withLock { $0 = RPCError(code: .permissionDenied, message: "API key 'registry' may not act for tenant 'acme'") }
            try await Self.queueReports(store, ["exp-1", "exp-2"], clock: harness.clock)
            let ids = try await rows.all().map(\.id)
            let failures = #"meshline_outbox_delivery_failures_total"#
            func refusals() -> Int64 { harness.metrics.counterTotal(label: failures, dimensions: [("code", "PERMISSION_DENIED")]) }
            func pendingGauge() throws -> Double? { try harness.metrics.expectGauge("meshline_outbox_pending").lastValue }

            #expect(await harness.maintenance.runOnce() == 0)
            var warnings = harness.log.entries(.warning)
            #expect(warnings.count == 2)
            #expect(warnings.map { $0.metadata["outbox_id"] } == ids.map { "\($0)" })
            #expect(warnings.allSatisfy { $0.metadata["attempts"] == "1" && $0.metadata["code"] == "PERMISSION_DENIED" && $0.metadata["retry_in_ms"] == "500" })
            #expect(warnings.map { $0.metadata["export_id"] } == ["exp-1", "exp-2"])
            // Neither the report's free text nor the router's message.
            for entry in harness.log.entries.withLock({ $0 }) {
                let text = entry.message + entry.metadata.values.joined(separator: " ")
                #expect(!text.contains("Pat Doe") && !text.contains("may not act"), "\(entry)")
            }
            #expect(refusals() == 2)
            #expect(try pendingGauge() == 2)

            // Refused on every attempt, backing off to a minute: still queued, still told.
            for _ in 0..<12 {
                harness.clock.advance(by: 60_000)
                #expect(await harness.maintenance.runOnce() == 0)
            }
            #expect(try await rows.all().map(\.attempts) == [13, 13])
            #expect(refusals() == 26)
            warnings = harness.log.entries(.warning)
            #expect(warnings.count == 26)
            #expect(warnings.suffix(2).allSatisfy { $0.metadata["attempts"] == "13" && $0.metadata["retry_in_ms"] == "60000" })
            #expect(try pendingGauge() == 2)
            #expect(harness.router.reports.withLock { $0 }.isEmpty)

            // Once the router accepts (the key fixed), both arrive and the outbox is empty.
            harness.router.refusal.withLock { $0 = nil }
            harness.clock.advance(by: 60_000)
            #expect(await harness.maintenance.runOnce() == 2)
            #expect(harness.router.reports.withLock { $0 }.map(\.exportID) == ["exp-1", "exp-2"])
            #expect(try await rows.all().isEmpty)
            #expect(try pendingGauge() == 0)
            #expect(refusals() == 26)
        }
    }

    /// Without a router the reports wait, and the gauge shows them piling up.
    @Test(arguments: Backend.allCases)
    func theGaugeCountsReportsWaitingWithoutARouter(backend: Backend) async throws {
        try await withStore(backend) { store, clock, _ in
            let metrics = TestMetrics()
            let service = ExportRegistryService(store: store, tenants: TestRegistry.defaultTenants(), clock: { clock.now })
            let maintenance = RegistryMaintenance(service: service, deliver: nil, clock: { clock.now }, metricsFactory: metrics)
            #expect(await maintenance.runOnce() == 0)
            #expect(try metrics.expectGauge("meshline_outbox_pending").lastValue == 0)
            try await Self.queueReports(store, ["exp-1", "exp-2", "exp-3"], clock: clock)
            // Refreshed at most every 10 s while nothing is delivered.
            #expect(await maintenance.runOnce() == 0)
            #expect(try metrics.expectGauge("meshline_outbox_pending").lastValue == 0)
            clock.advance(by: 10_000)
            #expect(await maintenance.runOnce() == 0)
            #expect(try metrics.expectGauge("meshline_outbox_pending").lastValue == 3)
        }
    }
}
