import Foundation
import GRDB
import Logging
import MeshlineModels
import MeshlineRegistry
import PostgresNIO
import Synchronization
import Testing

/// The storage backends the contract tests run against.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// The PostgreSQL the tests use: `MESHLINE_TEST_POSTGRES_URL`, or the one
    /// `scripts/start-test-postgres` sets up.
    static let postgresURL = ProcessInfo.processInfo.environment["MESHLINE_TEST_POSTGRES_URL"]
        ?? "postgres://meshline:meshline@127.0.0.1:5432/meshline_test"
}

/// A store of one backend, empty, with its own clock; cleaned up after `body`.
func withStore(_ backend: Backend, _ body: (any RegistryStore, TestClock) async throws -> Void) async throws {
    try await withStore(backend) { store, clock, _ in try await body(store, clock) }
}

/// The outbox table of a store as it is on disk, read and changed behind the store's back
/// (to break a row the way a disk or a newer release could).
struct OutboxRows: Sendable {
    struct Row: Sendable, Equatable {
        var id: Int64
        var attempts: Int
        var nextAttemptAt: Int64
    }

    /// Every row, by id.
    let all: @Sendable () async throws -> [Row]
    /// Replaces the stored report bytes of row `id`.
    let setReport: @Sendable (_ id: Int64, _ bytes: [UInt8], _ nextAttemptAt: Int64?) async throws -> Void
}

/// ``withStore(_:_:)`` that also hands over the store's outbox rows on disk.
func withStore(_ backend: Backend, _ body: (any RegistryStore, TestClock, OutboxRows) async throws -> Void) async throws {
    let clock = TestClock()
    switch backend {
    case .sqlite:
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshline-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("registry.sqlite").path
        let store = try SQLiteRegistryStore(path: path, clock: { clock.now })
        let rows = OutboxRows(
            all: {
                try await DatabaseQueue(path: path).read { db in
                    try GRDB.Row.fetchAll(db, sql: "SELECT id, attempts, next_attempt_at FROM outbox ORDER BY id")
                        .map { OutboxRows.Row(id: $0["id"], attempts: $0["attempts"], nextAttemptAt: $0["next_attempt_at"]) }
                }
            },
            setReport: { id, bytes, nextAttemptAt in
                try await DatabaseQueue(path: path).write { db in
                    try db.execute(
                        sql: "UPDATE outbox SET report = ?, next_attempt_at = COALESCE(?, next_attempt_at) WHERE id = ?",
                        arguments: [Data(bytes), nextAttemptAt, id])
                }
            })
        do {
            try await body(store, clock, rows)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    case .postgres:
        try await withPostgresSchema { schema, logger, admin in
            let store = try PostgresRegistryStore(url: Backend.postgresURL, schema: schema, logger: logger, clock: { clock.now })
            let rows = OutboxRows(
                all: {
                    var rows: [OutboxRows.Row] = []
                    let query = PostgresQuery(unsafeSQL: "SELECT id, attempts, next_attempt_at FROM \(schema).outbox ORDER BY id")
                    for try await (id, attempts, next) in try await admin.query(query).decode((Int64, Int32, Int64).self) {
                        rows.append(OutboxRows.Row(id: id, attempts: Int(attempts), nextAttemptAt: next))
                    }
                    return rows
                },
                setReport: { id, bytes, nextAttemptAt in
                    try await admin.query(
                        "UPDATE \(unescaped: schema).outbox SET report = \(ByteBuffer(bytes: bytes)), next_attempt_at = COALESCE(\(nextAttemptAt), next_attempt_at) WHERE id = \(id)")
                })
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await store.run() }
                defer { group.cancelAll() }
                try await store.migrate()
                try await body(store, clock, rows)
            }
        }
    }
}

/// A fresh PostgreSQL schema for `body` (so that tests never see each other's rows), dropped afterwards.
func withPostgresSchema(_ body: (String, Logger) async throws -> Void) async throws {
    try await withPostgresSchema { schema, logger, _ in try await body(schema, logger) }
}

/// ``withPostgresSchema(_:)`` that also hands over a client of the database (outside the schema).
func withPostgresSchema(_ body: (String, Logger, PostgresClient) async throws -> Void) async throws {
    let schema = "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    var logger = Logger(label: "meshline.test.postgres")
    logger.logLevel = .error
    let url = URLComponents(string: Backend.postgresURL)!
    let admin = PostgresClient(
        configuration: .init(host: url.host ?? "127.0.0.1", port: url.port ?? 5432, username: url.user ?? "meshline", password: url.password,
                             database: String(url.path.dropFirst()), tls: .disable),
        backgroundLogger: logger)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await admin.run() }
        defer { group.cancelAll() }
        try await admin.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema)"))
        do {
            try await body(schema, logger, admin)
        } catch {
            _ = try? await admin.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"))
            throw error
        }
        try await admin.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"))
    }
}

@Suite(.serialized) struct StorageContractTests {
    static func export(_ id: String, order: String? = nil, version: Int64 = 1, state: ExportState = .published, now: Int64) -> Export {
        let hour: Int64 = 3_600_000
        return Export(
            exportID: id, tenantID: "acme", orderID: order ?? "order-\(id)", kind: .routing, version: version,
            owningParty: Party(role: .agency, name: "team"), decisionVersion: "v1", intendedAction: "route-to-warehouse:WH-A",
            sla: Sla(shipByUnixMs: now + hour, serviceLevel: "standard"), expiresAtUnixMs: now + hour, state: state, warehouseID: "WH-A")
    }

    /// Stores `export` if its id is new (the minimal decision a service makes).
    static func create(_ export: Export, key: String? = nil, hash: [UInt8] = [1]) -> AppendRequest {
        AppendRequest(tenantID: export.tenantID, exportID: export.exportID, idempotencyKey: key) { (state: AppendContext) throws(RegistryError) -> AppendPlan in
            if let earlier = state.idempotent { return .replay(exportID: earlier.exportID, version: earlier.version) }
            if state.current != nil { throw .conflict("exists") }
            return .store(export, sideEffects: AppendSideEffects(idempotency: key.map { ($0, hash) }))
        }
    }

    @Test(arguments: Backend.allCases)
    func appendsAreReadBackEveryWay(backend: Backend) async throws {
        try await withStore(backend) { store, clock in
            let first = Self.export("exp-a", now: clock.now)
            let stored = try await store.append(Self.create(first))
            #expect(stored.export == first && !stored.replayed)
            _ = try await store.append(Self.create(Self.export("exp-b", now: clock.now)))
            let v2 = Self.export("exp-a", version: 2, state: .accepted, now: clock.now)
            _ = try await store.append(AppendRequest(tenantID: "acme", exportID: "exp-a") { (state: AppendContext) throws(RegistryError) -> AppendPlan in
                #expect(state.current == first)
                return .store(v2, sideEffects: AppendSideEffects())
            })
            #expect(try await store.export(tenantID: "acme", exportID: "exp-a", version: nil) == v2)
            #expect(try await store.export(tenantID: "acme", exportID: "exp-a", version: 1) == first)
            #expect(try await store.export(tenantID: "other", exportID: "exp-a", version: nil) == nil)
            #expect(try await store.history(tenantID: "acme", exportID: "exp-a").map(\.version) == [1, 2])
            #expect(try await store.list(tenantID: "acme", filter: ExportFilter(), after: nil, limit: 10).map(\.exportID) == ["exp-a", "exp-b"])
            #expect(try await store.list(tenantID: "acme", filter: ExportFilter(), after: "exp-a", limit: 10).map(\.exportID) == ["exp-b"])
            #expect(try await store.list(tenantID: "acme", filter: ExportFilter(state: .accepted), after: nil, limit: 10).map(\.exportID) == ["exp-a"])
            #expect(try await store.list(tenantID: "acme", filter: ExportFilter(owner: "agency:team", orderID: "order-exp-b"), after: nil, limit: 10).map(\.exportID) == ["exp-b"])
            let commits = try await store.commits(tenantID: "acme", after: 0, limit: 10)
            #expect(commits.map { "\($0.export.exportID)@\($0.export.version)" } == ["exp-a@1", "exp-b@1", "exp-a@2"])
            #expect(try await store.commits(tenantID: "acme", after: commits[1].sequence, limit: 10).count == 1)
            #expect(try await store.lastSequence() == commits[2].sequence)
            #expect(try await store.allVersions(after: 0, limit: 10).count == 3)
        }
    }

    @Test(arguments: Backend.allCases)
    func aRefusedAppendStoresNothingAndDoesNotDisturbOthers(backend: Backend) async throws {
        try await withStore(backend) { store, clock in
            let results = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<10 {
                    let export = Self.export("exp-\(index)", now: clock.now)
                    group.addTask {
                        let request = AppendRequest(tenantID: "acme", exportID: export.exportID) { (_: AppendContext) throws(RegistryError) -> AppendPlan in
                            if index % 2 == 1 { throw .conflict("odd ones are refused") }
                            return .store(export, sideEffects: AppendSideEffects(outbox: [ReportRequest(tenantID: "acme", exportID: export.exportID)]))
                        }
                        return (try? await store.append(request)) != nil
                    }
                }
                var stored = 0
                for await ok in group where ok { stored += 1 }
                return stored
            }
            #expect(results == 5)
            let listed = try await store.list(tenantID: "acme", filter: ExportFilter(), after: nil, limit: 20)
            let reports = try await store.pendingReports(now: clock.now, limit: 20)
            #expect(listed.count == 5)
            #expect(reports.count == 5)
        }
    }

    @Test(arguments: Backend.allCases)
    func onlyOneLiveExportPerOrderAndKind(backend: Backend) async throws {
        try await withStore(backend) { store, clock in
            _ = try await store.append(Self.create(Self.export("exp-1", order: "o", now: clock.now)))
            // A decision that ignores the live export is still stopped by the storage.
            await #expect(throws: RegistryError.self) {
                _ = try await store.append(Self.create(Self.export("exp-2", order: "o", now: clock.now)))
            }
            // Once the first is completed, the order is free again.
            _ = try await store.append(AppendRequest(tenantID: "acme", exportID: "exp-1") { (_: AppendContext) throws(RegistryError) -> AppendPlan in
                .store(Self.export("exp-1", order: "o", version: 2, state: .completed, now: clock.now), sideEffects: AppendSideEffects())
            })
            _ = try await store.append(Self.create(Self.export("exp-2", order: "o", now: clock.now)))
        }
    }

    /// A new export's publish (an append with a live key) decided the way the service
    /// decides it, recording what the store showed it.
    static func publishNew(_ export: Export, key: String?, seen: Seen) -> AppendRequest {
        AppendRequest(tenantID: export.tenantID, exportID: export.exportID, liveKey: LiveKey(export), idempotencyKey: key) {
            (state: AppendContext) throws(RegistryError) -> AppendPlan in
            if let earlier = state.idempotent {
                seen.entries.withLock { $0.append("idempotent \(earlier.exportID)") }
                return .replay(exportID: earlier.exportID, version: earlier.version)
            }
            if let current = state.current {
                seen.entries.withLock { $0.append("current \(current.exportID)") }
                throw .conflict("exists")
            }
            if let live = state.liveExportID {
                seen.entries.withLock { $0.append("live \(live)") }
                throw .conflict("live")
            }
            return .store(export, sideEffects: AppendSideEffects(idempotency: key.map { ($0, [7]) }, outbox: [ReportRequest(tenantID: "acme", exportID: export.exportID)]))
        }
    }

    /// What the decisions of ``publishNew(_:key:seen:)`` were shown, in order.
    final class Seen: Sendable {
        let entries = Mutex<[String]>([])
    }

    @Test(arguments: Backend.allCases)
    func aNewExportIsDecidedAgainstEveryEarlierRowItMeets(backend: Backend) async throws {
        try await withStore(backend) { store, clock in
            let seen = Seen()
            let first = Self.export("exp-1", order: "o", now: clock.now)
            #expect(try await store.append(Self.publishNew(first, key: "k-1", seen: seen)).export == first)
            // The same idempotency key: the earlier result, nothing new stored.
            let replay = try await store.append(Self.publishNew(Self.export("exp-9", order: "p", now: clock.now), key: "k-1", seen: seen))
            #expect(replay.replayed && replay.export == first)
            // The same export id (other order, new key): the stored export is shown to the decision.
            await #expect(throws: RegistryError.self) {
                _ = try await store.append(Self.publishNew(Self.export("exp-1", order: "q", now: clock.now), key: "k-2", seen: seen))
            }
            // The same order and kind under another id: the live export is shown.
            await #expect(throws: RegistryError.self) {
                _ = try await store.append(Self.publishNew(Self.export("exp-2", order: "o", now: clock.now), key: "k-3", seen: seen))
            }
            #expect(seen.entries.withLock { $0 } == ["idempotent exp-1", "current exp-1", "live exp-1"])
            // The refused publishes left nothing behind: no versions, no keys, no reports.
            #expect(try await store.allVersions(after: 0, limit: 10).map(\.export.exportID) == ["exp-1"])
            #expect(try await store.pendingReports(now: clock.now, limit: 10).count == 1)
            let retried = try await store.append(Self.publishNew(Self.export("exp-3", order: "r", now: clock.now), key: "k-2", seen: seen))
            #expect(!retried.replayed && retried.export.exportID == "exp-3")
        }
    }

    /// Runs `race` while the store's committer is held inside an earlier append (its
    /// decision waits), so that the racing appends queue up and share the next batch.
    static func whileCommitsAreHeld<T: Sendable>(
        _ store: any RegistryStore, now: Int64, _ race: @escaping @Sendable () async -> T
    ) async throws -> T {
        let release = DispatchSemaphore(value: 0)
        let holding = DispatchSemaphore(value: 0)
        let heldID = "held-\(UUID().uuidString)"
        let held = Task {
            try await store.append(AppendRequest(tenantID: "acme", exportID: heldID) { (_: AppendContext) throws(RegistryError) -> AppendPlan in
                holding.signal()
                _ = release.wait(timeout: .now() + 5)
                return .store(Self.export(heldID, now: now), sideEffects: AppendSideEffects())
            }).export
        }
        while holding.wait(timeout: .now()) == .timedOut { try await Task.sleep(for: .milliseconds(5)) }
        let racing = Task { await race() }
        try await Task.sleep(for: .milliseconds(200))
        release.signal()
        _ = try await held.value
        return await racing.value
    }

    /// Racing publishes share one batch (group commit): the unique keys must still let
    /// exactly one win, and every other one see the winner.
    @Test(arguments: Backend.allCases)
    func racingPublishesOfOneOrderOrOneKeyHaveOneWinner(backend: Backend) async throws {
        try await withStore(backend) { store, clock in
            let seen = Seen()
            let sameOrder = try await Self.whileCommitsAreHeld(store, now: clock.now) {
                await withTaskGroup(of: String?.self) { group in
                    for index in 0..<20 {
                        group.addTask {
                            let export = Self.export("order-race-\(index)", order: "contested", now: clock.now)
                            return try? await store.append(Self.publishNew(export, key: nil, seen: seen)).export.exportID
                        }
                    }
                    return await group.reduce(into: [String]()) { if let id = $1 { $0.append(id) } }
                }
            }
            #expect(sameOrder.count == 1)
            #expect(seen.entries.withLock { $0 }.count == 19)
            #expect(Set(seen.entries.withLock { $0 }) == ["live \(sameOrder.first ?? "")"])

            let sameKey = try await Self.whileCommitsAreHeld(store, now: clock.now) {
                await withTaskGroup(of: (String, Bool)?.self) { group in
                    for index in 0..<20 {
                        group.addTask {
                            let export = Self.export("key-race-\(index)", order: "key-race-\(index)", now: clock.now)
                            guard let stored = try? await store.append(Self.publishNew(export, key: "shared", seen: seen)) else { return nil }
                            return (stored.export.exportID, stored.replayed)
                        }
                    }
                    return await group.reduce(into: [(String, Bool)]()) { if let outcome = $1 { $0.append(outcome) } }
                }
            }
            #expect(sameKey.count == 20)
            #expect(Set(sameKey.map(\.0)).count == 1)
            #expect(sameKey.filter { !$0.1 }.count == 1)
            // The two held appends, and one winner of each race.
            let versions = try await store.allVersions(after: 0, limit: 100)
            #expect(versions.count == 4)
        }
    }

    @Test(arguments: Backend.allCases)
    func idempotencyRecordsAndNoncesAreRemembered(backend: Backend) async throws {
        try await withStore(backend) { store, clock in
            let export = Self.export("exp-1", now: clock.now)
            _ = try await store.append(Self.create(export, key: "k", hash: [9, 9]))
            let replay = try await store.append(AppendRequest(tenantID: "acme", exportID: "exp-1", idempotencyKey: "k") { (state: AppendContext) throws(RegistryError) -> AppendPlan in
                #expect(state.idempotent == IdempotencyRecord(requestHash: [9, 9], exportID: "exp-1", version: 1))
                return .replay(exportID: "exp-1", version: 1)
            })
            #expect(replay.replayed && replay.export == export)
            // Also read outside any commit (a publish the QA gate refuses looks its key up so).
            #expect(try await store.idempotencyRecord(tenantID: "acme", key: "k") == IdempotencyRecord(requestHash: [9, 9], exportID: "exp-1", version: 1))
            #expect(try await store.idempotencyRecord(tenantID: "acme", key: "other") == nil)
            #expect(try await store.idempotencyRecord(tenantID: "globex", key: "k") == nil)

            func override(_ version: Int64) -> AppendRequest {
                AppendRequest(tenantID: "acme", exportID: "exp-1", nonce: ("key", "n-1")) { (state: AppendContext) throws(RegistryError) -> AppendPlan in
                    // A used nonce is refused before the decision (which would refuse the stale version).
                    guard state.current?.version == version - 1 else { throw .staleVersion(expected: version - 1, current: state.current?.version ?? 0) }
                    return .store(Self.export("exp-1", version: version, now: clock.now), sideEffects: AppendSideEffects())
                }
            }
            _ = try await store.append(override(2))
            for replay in [override(2), override(3)] {
                await #expect { _ = try await store.append(replay) } throws: { error in
                    guard case .permissionDenied(let message) = error as? RegistryError else { return false }
                    return message.contains("replay")
                }
            }
            #expect(try await store.export(tenantID: "acme", exportID: "exp-1", version: nil)?.version == 2)
        }
    }

    @Test(arguments: Backend.allCases)
    func outboxItemsRetryUntilDelivered(backend: Backend) async throws {
        try await withStore(backend) { store, clock in
            let export = Self.export("exp-1", now: clock.now)
            _ = try await store.append(AppendRequest(tenantID: "acme", exportID: "exp-1") { (_: AppendContext) throws(RegistryError) -> AppendPlan in
                .store(export, sideEffects: AppendSideEffects(
                    outbox: [ReportRequest(tenantID: "acme", exportID: "exp-1", kind: .rejection)], traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
            })
            let pending = try await store.pendingReports(now: clock.now, limit: 10)
            #expect(try pending.map { try $0.report.get().exportID } == ["exp-1"])
            // Delivered later in the trace of the call that queued it.
            #expect(pending.first?.traceparent == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            try await store.reportFailed(pending[0].id, retryAt: clock.now + 1_000)
            #expect(try await store.pendingReports(now: clock.now, limit: 10).isEmpty)
            let retried = try await store.pendingReports(now: clock.now + 1_000, limit: 10)
            #expect(retried.first?.attempts == 1)
            try await store.reportDelivered(retried[0].id)
            #expect(try await store.pendingReports(now: clock.now + 60_000, limit: 10).isEmpty)
        }
    }

    @Test(arguments: Backend.allCases)
    func theOutboxCountsEveryQueuedReportDueOrNot(backend: Backend) async throws {
        try await withStore(backend) { store, clock, _ in
            #expect(try await store.outboxCount() == 0)
            for id in ["exp-1", "exp-2"] {
                let export = Self.export(id, now: clock.now)
                _ = try await store.append(AppendRequest(tenantID: "acme", exportID: id) { (_: AppendContext) throws(RegistryError) -> AppendPlan in
                    .store(export, sideEffects: AppendSideEffects(outbox: [ReportRequest(tenantID: "acme", exportID: id, kind: .rejection)]))
                })
            }
            let pending = try await store.pendingReports(now: clock.now, limit: 10)
            try await store.reportFailed(pending[0].id, retryAt: clock.now + 60_000)
            #expect(try await store.outboxCount() == 2)
            try await store.reportDelivered(pending[1].id)
            #expect(try await store.outboxCount() == 1)
        }
    }

    /// A row that does not decode (a corrupt disk page, a report written by a newer
    /// release) used to fail every `pendingReports` call, so that no report reached the
    /// router any more. It is now one item among the others, carrying its error, and
    /// stays on disk until it is delivered.
    @Test(arguments: Backend.allCases)
    func anOutboxRowThatDoesNotDecodeIsReturnedWithItsErrorAndKept(backend: Backend) async throws {
        try await withStore(backend) { store, clock, rows in
            for id in ["exp-1", "exp-2", "exp-3"] {
                let export = Self.export(id, now: clock.now)
                _ = try await store.append(AppendRequest(tenantID: "acme", exportID: id) { (_: AppendContext) throws(RegistryError) -> AppendPlan in
                    .store(export, sideEffects: AppendSideEffects(outbox: [ReportRequest(tenantID: "acme", exportID: id, kind: .rejection)]))
                })
            }
            let queued = try await rows.all()
            #expect(queued.count == 3)
            // A length-delimited field whose length runs past the end.
            try await rows.setReport(queued[0].id, [0x0A, 0xFF, 0x01], nil)

            let pending = try await store.pendingReports(now: clock.now, limit: 10)
            #expect(pending.map(\.id) == queued.map(\.id))
            #expect(throws: ProtoDecodingError.self) { try pending[0].report.get() }
            #expect(try pending.dropFirst().map { try $0.report.get().exportID } == ["exp-2", "exp-3"])

            // Set aside: still on disk, due later, the others unaffected.
            try await store.reportFailed(queued[0].id, retryAt: clock.now + 3_600_000)
            for item in pending.dropFirst() { try await store.reportDelivered(item.id) }
            #expect(try await rows.all() == [OutboxRows.Row(id: queued[0].id, attempts: 1, nextAttemptAt: clock.now + 3_600_000)])
            #expect(try await store.pendingReports(now: clock.now + 60_000, limit: 10).isEmpty)
            #expect(try await store.pendingReports(now: clock.now + 3_600_000, limit: 10).map(\.id) == [queued[0].id])
        }
    }

    @Test(arguments: Backend.allCases)
    func expiryAndShipByQueries(backend: Backend) async throws {
        try await withStore(backend) { store, clock in
            _ = try await store.append(Self.create(Self.export("exp-1", now: clock.now)))
            _ = try await store.append(Self.create(Self.export("exp-2", state: .accepted, now: clock.now)))
            #expect(try await store.expired(now: clock.now, limit: 10).isEmpty)
            #expect(try await store.expired(now: clock.now + 3_600_000, limit: 10).map(\.exportID) == ["exp-1"])
            #expect(try await store.routingExports(tenantID: "acme", shipByFrom: clock.now, to: clock.now + 7_200_000, after: nil, limit: 10).map(\.exportID) == ["exp-1", "exp-2"])
            #expect(try await store.routingExports(tenantID: "acme", shipByFrom: clock.now + 7_200_000, to: clock.now + 9_000_000, after: nil, limit: 10).isEmpty)

            // Pages walk the range in ship-by order, then export id (bytes), each export once.
            let hour: Int64 = 3_600_000
            for (id, shipBy) in [("pg-a", 5 * hour), ("pg-b", 3 * hour), ("pg-C", 3 * hour), ("pg-c", 3 * hour), ("pg-d", 4 * hour)] {
                var export = Self.export(id, now: clock.now)
                export.sla?.shipByUnixMs = clock.now + shipBy
                _ = try await store.append(Self.create(export))
            }
            for limit in [1, 2, 10] {
                var walked: [String] = []
                var cursor: ShipByCursor?
                while true {
                    let page = try await store.routingExports(tenantID: "acme", shipByFrom: clock.now + 2 * hour, to: clock.now + 6 * hour, after: cursor, limit: limit)
                    walked += page.map(\.exportID)
                    guard page.count == limit, let last = page.last, walked.count < 20 else { break }
                    cursor = ShipByCursor(after: last)
                }
                #expect(walked == ["pg-C", "pg-b", "pg-c", "pg-d", "pg-a"], "pages of \(limit)")
            }
        }
    }

    /// Whether appending `export` to `store` is refused as too large with a message holding `texts`.
    static func refusedAsTooLarge(_ store: any RegistryStore, _ export: Export, saying texts: String...) async -> Bool {
        do {
            _ = try await store.append(create(export))
            return false
        } catch {
            guard case .tooLarge(let message) = error else { return false }
            return texts.allSatisfy { message.contains($0) }
        }
    }

    /// A version past the registry's size (every version carries the whole audit trail)
    /// is refused as too large and leaves nothing behind, on either backend; a version
    /// that ends the export has room beyond it.
    @Test(arguments: Backend.allCases)
    func aVersionLargerThanTheRegistryStoresIsRefused(backend: Backend) async throws {
        try await withStore(backend) { store, clock in
            /// `entries` audit entries of 2,000 bytes each.
            func trail(_ entries: Int) -> [AuditEntry] {
                (1...entries).map { AuditEntry(sequence: Int64($0), atUnixMs: clock.now, actor: "3pl:wh-a", change: String(repeating: "x", count: 2000), version: Int64($0)) }
            }
            var export = Self.export("exp-big", now: clock.now)
            export.auditTrail = trail(600)
            #expect(await Self.refusedAsTooLarge(store, export, saying: "exp-big", "\(StoredExportSize.maximumBytes)"))
            #expect(try await store.export(tenantID: "acme", exportID: "exp-big", version: nil) == nil)
            #expect(try await store.lastSequence() == 0)
            // A version that ends the export may still be stored, so that the order can have a new
            // export — up to its own, larger limit, past which it is told what to shorten.
            var huge = export
            huge.state = .cancelled
            huge.auditTrail = trail(1100)
            #expect(await Self.refusedAsTooLarge(store, huge, saying: "even for a version that ends an export", "\(StoredExportSize.maximumEndingBytes)"))
            export.state = .cancelled
            _ = try await store.append(Self.create(export))
            #expect(try await store.export(tenantID: "acme", exportID: "exp-big", version: nil)?.state == .cancelled)
            var smaller = Self.export("exp-smaller", now: clock.now)
            smaller.auditTrail = Array(export.auditTrail.prefix(400))
            _ = try await store.append(Self.create(smaller))
            #expect(try await store.export(tenantID: "acme", exportID: "exp-smaller", version: nil)?.auditTrail.count == 400)
        }
    }

    /// List pages in byte order of export ids whatever collation the PostgreSQL database
    /// was made with (the official image's default is a linguistic one, en_US.utf8,
    /// which orders `ex-a` before `EX-b` where byte order puts it after): the cursor
    /// must compare the way the page is sorted, or pages skip or repeat exports.
    @Test func postgresListPagesEveryExportOnceUnderALinguisticCollation() async throws {
        try await withPostgresSchema { schema, logger in
            let clock = TestClock()
            let store = try PostgresRegistryStore(url: Backend.postgresURL, schema: schema, logger: logger, clock: { clock.now })
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await store.run() }
                defer { group.cancelAll() }
                try await store.migrate()
                // The test database is C.UTF-8; give the column the collation such a database would have.
                let url = URLComponents(string: Backend.postgresURL)!
                let admin = PostgresClient(
                    configuration: .init(host: url.host ?? "127.0.0.1", port: url.port ?? 5432, username: url.user ?? "meshline", password: url.password,
                                         database: String(url.path.dropFirst()), tls: .disable),
                    backgroundLogger: logger)
                group.addTask { await admin.run() }
                try await admin.query(PostgresQuery(unsafeSQL: "ALTER TABLE \(schema).exports_latest ALTER COLUMN export_id TYPE TEXT COLLATE \"en-x-icu\""))
                let ids = ["EX-b", "ex-a", "Ex-c", "ex-B"]
                for id in ids { _ = try await store.append(Self.create(Self.export(id, now: clock.now))) }
                var listed: [String] = []
                var cursor: String?
                while let page = Optional(try await store.list(tenantID: "acme", filter: ExportFilter(), after: cursor, limit: 1)), let last = page.last {
                    listed += page.map(\.exportID)
                    cursor = last.exportID
                    if listed.count > ids.count { break }
                }
                #expect(listed == ids.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
            }
        }
    }
}
