import Foundation
import MeshlineExceptions
import MeshlineModels
import Testing

/// The storage backends the contract runs against.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    var testDescription: String { rawValue }
}

/// An empty store of one backend, closed (and dropped) after `body`.
func withCaseStore(_ backend: Backend, _ body: (any CaseStore) async throws -> Void) async throws {
    switch backend {
    case .sqlite:
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshline-cases-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteCaseStore(path: directory.appendingPathComponent("cases.sqlite").path)
        do {
            try await body(store)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    case .postgres:
        try await withPostgresSchema { make in
            let store = try make()
            try await store.migrate()
            try await body(store)
        }
    }
}

@Suite(.serialized) struct CaseStoreContractTests {
    static func record(_ id: String, tenant: String = "acme", export: String? = nil, version: Int64 = 1, state: CaseState = .queued, queue: String = "ops", due: Int64 = 0, timer: CaseTimer? = nil) -> CaseRecord {
        let exportID = export ?? "exp-\(id)"
        return CaseRecord(
            exceptionCase: ExceptionCase(
                caseID: id, tenantID: tenant, exportID: exportID, exportVersion: version, orderID: "order-\(id)", kind: .rejection, reason: .capacity,
                state: state, queue: queue, escalationLevel: 1, dueAtUnixMs: due, history: [CaseEvent(atUnixMs: 1, actor: "service:exceptions", change: "opened")]),
            export: Export(exportID: exportID, tenantID: tenant, version: version, escalationContacts: [Contact(contactID: "ops", level: 1)]),
            timer: timer)
    }

    static func notice(_ id: String, tenant: String = "acme") -> NotificationEvent {
        NotificationEvent(notificationID: id, tenantID: tenant, kind: .escalationRaised, caseID: "c", message: id)
    }

    @Test(arguments: Backend.allCases)
    func casesAreOpenedOncePerExportVersionAndReadBackPerTenant(backend: Backend) async throws {
        try await withCaseStore(backend) { store in
            let first = Self.record("c1", export: "exp-a", version: 2)
            let opened = try await store.open(CaseChange(record: first, notifications: [Self.notice("c1/escalation-1")]))
            #expect(opened.record == first && !opened.duplicate)
            // Same tenant, export and version under another id: the stored case comes back.
            let again = try await store.open(CaseChange(record: Self.record("c2", export: "exp-a", version: 2)))
            #expect(again.duplicate && again.record == first)
            _ = try await store.open(CaseChange(record: Self.record("c3", export: "exp-a", version: 4)))
            #expect(try await store.record(tenantID: "acme", caseID: "c1") == first)
            #expect(try await store.record(tenantID: "globex", caseID: "c1") == nil)
            #expect(try await store.record(tenantID: "acme", caseID: "c2") == nil)
            #expect(try await store.record(tenantID: "acme", exportID: "exp-a", version: 2)?.exceptionCase.caseID == "c1")
            #expect(try await store.record(tenantID: "acme", exportID: "exp-a", version: nil)?.exceptionCase.caseID == "c3")
            #expect(try await store.record(tenantID: "globex", exportID: "exp-a", version: nil) == nil)
        }
    }

    @Test(arguments: Backend.allCases)
    func theOpenCaseSummaryCountsUnresolvedCasesPerTenantQueueAndState(backend: Backend) async throws {
        try await withCaseStore(backend) { store in
            func open(_ id: String, tenant: String = "acme", queue: String, state: CaseState, openedAt: Int64, shipBy: Int64) async throws {
                var record = Self.record(id, tenant: tenant, state: state, queue: queue)
                record.exceptionCase.createdAtUnixMs = openedAt
                record.export.sla = Sla(shipByUnixMs: shipBy)
                _ = try await store.open(CaseChange(record: record))
            }
            try await open("c1", queue: "ops", state: .queued, openedAt: 1_000, shipBy: 50_000)
            try await open("c2", queue: "ops", state: .queued, openedAt: 3_000, shipBy: 200_000)
            try await open("c3", queue: "ops", state: .claimed, openedAt: 2_000, shipBy: 0)
            try await open("c4", queue: "ops", state: .resolved, openedAt: 500, shipBy: 10)
            try await open("c5", tenant: "globex", queue: "ops", state: .retrying, openedAt: 4_000, shipBy: 99_000)
            let summary = try await store.openCaseSummary(shipByBefore: 100_000).sorted { ($0.tenantID, $0.state.rawValue) < ($1.tenantID, $1.state.rawValue) }
            #expect(summary == [
                OpenCases(tenantID: "acme", queue: "ops", state: .queued, count: 2, oldestOpenedAt: 1_000, shipByAtRisk: 1),
                OpenCases(tenantID: "acme", queue: "ops", state: .claimed, count: 1, oldestOpenedAt: 2_000, shipByAtRisk: 0),
                OpenCases(tenantID: "globex", queue: "ops", state: .retrying, count: 1, oldestOpenedAt: 4_000, shipByAtRisk: 1),
            ])
            // Resolving a case takes it out of the summary.
            _ = try await store.update(tenantID: "acme", caseID: "c1") { current throws(ExceptionError) in
                var record = current
                record.exceptionCase.state = .resolved
                return CaseChange(record: record)
            }
            let after = try await store.openCaseSummary(shipByBefore: 100_000).first { $0.tenantID == "acme" && $0.state == .queued }
            #expect(after == OpenCases(tenantID: "acme", queue: "ops", state: .queued, count: 1, oldestOpenedAt: 3_000, shipByAtRisk: 0))
        }
    }

    @Test(arguments: Backend.allCases)
    func updatesDecideOnTheLockedCaseAndStoreNotificationsOnce(backend: Backend) async throws {
        try await withCaseStore(backend) { store in
            _ = try await store.open(CaseChange(record: Self.record("c1")))
            let changed = try await store.update(tenantID: "acme", caseID: "c1") { (current: CaseRecord) throws(ExceptionError) -> CaseChange? in
                var record = current
                record.exceptionCase.state = .claimed
                record.exceptionCase.claimedBy = "agency:ops"
                return CaseChange(record: record, notifications: [Self.notice("n-1"), Self.notice("n-1")])
            }
            #expect(changed.exceptionCase.state == .claimed)
            #expect(try await store.record(tenantID: "acme", caseID: "c1") == changed)
            // A case whose version moves on (a newer version joined it) is found by that version.
            let moved = try await store.update(tenantID: "acme", caseID: "c1") { (current: CaseRecord) throws(ExceptionError) -> CaseChange? in
                var record = current
                record.exceptionCase.exportVersion += 1
                return CaseChange(record: record)
            }
            #expect(try await store.record(tenantID: "acme", exportID: moved.exceptionCase.exportID, version: moved.exceptionCase.exportVersion) == moved)
            // nil stores nothing; a thrown error stores nothing and reaches the caller.
            let unchanged = try await store.update(tenantID: "acme", caseID: "c1") { (_: CaseRecord) throws(ExceptionError) -> CaseChange? in nil }
            #expect(unchanged == moved)
            await #expect(throws: ExceptionError.conflict("no")) {
                _ = try await store.update(tenantID: "acme", caseID: "c1") { (_: CaseRecord) throws(ExceptionError) -> CaseChange? in throw .conflict("no") }
            }
            await #expect(throws: ExceptionError.caseNotFound(caseID: "c1")) {
                _ = try await store.update(tenantID: "globex", caseID: "c1") { (current: CaseRecord) throws(ExceptionError) -> CaseChange? in CaseChange(record: current) }
            }
            // A notification id stored again (here by a second change) is not stored twice.
            _ = try await store.update(tenantID: "acme", caseID: "c1") { (current: CaseRecord) throws(ExceptionError) -> CaseChange? in
                CaseChange(record: current, notifications: [Self.notice("n-1"), Self.notice("n-2")])
            }
            _ = try await store.open(CaseChange(record: Self.record("g1", tenant: "globex"), notifications: [Self.notice("g-1", tenant: "globex")]))
            let events = try await store.notifications(tenantID: "acme", after: 0, limit: 10)
            #expect(events.map(\.notificationID) == ["n-1", "n-2"])
            #expect(try await store.notifications(tenantID: "globex", after: 0, limit: 10).map(\.notificationID) == ["g-1"])
            // Cursors resume after an event.
            #expect(Set(events.map(\.cursor)).count == 2 && events.allSatisfy { $0.cursor.hasPrefix("n.") })
        }
    }

    @Test(arguments: Backend.allCases)
    func listingFiltersAndSortsByDueTimeAndPages(backend: Backend) async throws {
        try await withCaseStore(backend) { store in
            _ = try await store.open(CaseChange(record: Self.record("c-late", due: 300)))
            _ = try await store.open(CaseChange(record: Self.record("c-soon", due: 100)))
            _ = try await store.open(CaseChange(record: Self.record("c-mid", due: 200)))
            _ = try await store.open(CaseChange(record: Self.record("c-other-queue", queue: "merchant", due: 150)))
            _ = try await store.open(CaseChange(record: Self.record("c-claimed", state: .claimed, due: 50)))
            _ = try await store.open(CaseChange(record: Self.record("g-1", tenant: "globex", due: 10)))
            let all = try await store.list(QueueFilter(tenantID: "acme", limit: 10)).map(\.exceptionCase.caseID)
            #expect(all == ["c-claimed", "c-soon", "c-other-queue", "c-mid", "c-late"])
            let queued = try await store.list(QueueFilter(tenantID: "acme", queue: "ops", state: .queued, limit: 2))
            #expect(queued.map(\.exceptionCase.caseID) == ["c-soon", "c-mid"])
            let rest = try await store.list(QueueFilter(tenantID: "acme", queue: "ops", state: .queued, after: queued.last!.position, limit: 2))
            #expect(rest.map(\.exceptionCase.caseID) == ["c-late"])
        }
    }

    @Test(arguments: Backend.allCases)
    func dueTimersAreLeasedToOneOwnerUntilTheLeaseEnds(backend: Backend) async throws {
        try await withCaseStore(backend) { store in
            _ = try await store.open(CaseChange(record: Self.record("c-due", timer: CaseTimer(kind: .escalate, at: 1_000))))
            _ = try await store.open(CaseChange(record: Self.record("c-later", timer: CaseTimer(kind: .retry, at: 5_000))))
            _ = try await store.open(CaseChange(record: Self.record("c-none")))
            #expect(try await store.nextTimerAt() == 1_000)
            #expect(try await store.leaseDue(now: 999, until: 31_000, owner: "a", limit: 10).isEmpty)
            let leased = try await store.leaseDue(now: 1_000, until: 31_000, owner: "a", limit: 10)
            #expect(leased.map(\.exceptionCase.caseID) == ["c-due"] && leased.first?.lease == Lease(owner: "a", until: 31_000))
            // Held by a: b gets nothing, also once c-later is due, until a's lease ends.
            #expect(try await store.leaseDue(now: 2_000, until: 32_000, owner: "b", limit: 10).isEmpty)
            #expect(try await store.leaseDue(now: 5_000, until: 35_000, owner: "b", limit: 10).map(\.exceptionCase.caseID) == ["c-later"])
            #expect(try await store.leaseDue(now: 31_000, until: 61_000, owner: "b", limit: 10).map(\.exceptionCase.caseID) == ["c-due"])
            // Storing the outcome with the lease and timer cleared takes the case off the timers.
            _ = try await store.update(tenantID: "acme", caseID: "c-due") { (current: CaseRecord) throws(ExceptionError) -> CaseChange? in
                var record = current
                record.lease = nil
                record.timer = nil
                return CaseChange(record: record)
            }
            #expect(try await store.record(tenantID: "acme", caseID: "c-due")?.lease == nil)
            // c-later is due but held by b: it can be worked when b's lease ends.
            #expect(try await store.nextTimerAt() == 35_000)
            #expect(try await store.leaseDue(now: 100_000, until: 130_000, owner: "c", limit: 10).map(\.exceptionCase.caseID) == ["c-later"])
        }
    }
}
