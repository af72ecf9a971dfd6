import Foundation
public import Logging
public import MeshlineModels
import MeshlineStorage
import NIOCore
import PostgresNIO

/// Storage on PostgreSQL (postgres-nio), for several router replicas on one database.
///
/// A change locks its case row (`SELECT … FOR UPDATE`) for the transaction; the
/// scheduler leases due cases with `FOR UPDATE SKIP LOCKED`, so two replicas never
/// lease the same case. Notifications are inserted under a transaction-scoped
/// advisory lock, so their sequence numbers follow commit order and a stream that
/// reads `seq > cursor` never skips one that became visible late.
///
/// Call ``run()`` (e.g. in a ServiceGroup) for the connection pool to work.
public final class PostgresCaseStore: CaseStore {
    private let client: PostgresClient
    private let logger: Logger
    /// Serializes notification inserts ("meshexcp" in ASCII).
    private static let notificationLock: Int64 = 0x6D65_7368_6578_6370

    /// A store for `url` (`postgres://user:password@host:port/database`); `schema`
    /// puts the tables in that schema instead of the user's default one.
    public init(url: String, schema: String? = nil, logger: Logger) throws(ExceptionError) {
        guard let configuration = PostgresURL.configuration(url, schema: schema) else {
            throw .invalidRequest(field: "--database", reason: PostgresURL.malformed(url))
        }
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
    }

    /// Runs the connection pool until the task is cancelled.
    public func run() async {
        await client.run()
    }

    /// Creates the tables when they do not exist (safe with several replicas starting at once).
    public func migrate() async throws(ExceptionError) {
        try await perform { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.notificationLock))", logger: self.logger)
            if try await connection.apply(Self.schema, logger: self.logger) {
                try await self.backfillOpenCases(connection)
            }
        }
    }

    private static let schema: [SchemaStep] = [
        .statement(
            """
            CREATE TABLE IF NOT EXISTS cases (
                case_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, export_id TEXT NOT NULL, export_version BIGINT NOT NULL,
                state INTEGER NOT NULL, queue TEXT NOT NULL, due_key BIGINT NOT NULL, timer_kind INTEGER, timer_at BIGINT,
                lease_owner TEXT, lease_until BIGINT NOT NULL DEFAULT 0, unanswered INTEGER NOT NULL DEFAULT 0, body BYTEA NOT NULL, export BYTEA NOT NULL,
                UNIQUE (tenant_id, export_id, export_version))
            """),
        .statement("CREATE INDEX IF NOT EXISTS cases_timer ON cases (timer_at) WHERE timer_at IS NOT NULL"),
        .statement("CREATE INDEX IF NOT EXISTS cases_queue ON cases (tenant_id, due_key, case_id)"),
        .statement(
            """
            CREATE TABLE IF NOT EXISTS notifications (
                seq BIGSERIAL PRIMARY KEY, tenant_id TEXT NOT NULL, notification_id TEXT NOT NULL UNIQUE, body BYTEA NOT NULL)
            """),
        .statement("CREATE INDEX IF NOT EXISTS notifications_tenant ON notifications (tenant_id, seq)"),
        // For the open-case gauges (added after the first release; see backfillOpenCases).
        .whenColumnMissing(table: "cases", column: "opened_at", [
            "ALTER TABLE cases ADD COLUMN opened_at BIGINT NOT NULL DEFAULT 0", "ALTER TABLE cases ADD COLUMN ship_by BIGINT NOT NULL DEFAULT 0",
        ]),
        .statement("CREATE INDEX IF NOT EXISTS cases_open ON cases (tenant_id, queue, state) WHERE state <> \(CaseState.resolved.rawValue)"),
    ]

    /// Open cases stored before `opened_at` and `ship_by` existed get them from their protobufs.
    private func backfillOpenCases(_ connection: PostgresConnection) async throws {
        let resolved = Int32(CaseState.resolved.rawValue)
        let stale = try await fetch("SELECT \(unescaped: Self.columns) FROM cases WHERE state <> \(resolved) AND opened_at = 0", connection)
        for record in stale {
            let c = record.exceptionCase
            try await connection.query(
                "UPDATE cases SET opened_at = \(c.createdAtUnixMs), ship_by = \(record.export.sla?.shipByUnixMs ?? 0) WHERE case_id = \(c.caseID)",
                logger: logger)
        }
    }

    /// Runs `body` in a transaction, mapping database failures to ``ExceptionError``.
    private func perform<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws(ExceptionError) -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as ExceptionError {
            throw error
        } catch let error as PSQLError {
            throw .storage("PostgreSQL: \(error.serverInfo?[.message] ?? String(reflecting: error.code))")
        } catch let error as PostgresTransactionError {
            if let inner = error.closureError as? ExceptionError { throw inner }
            throw .storage("PostgreSQL transaction: \(error)")
        } catch {
            throw .storage("PostgreSQL: \(error)")
        }
    }

    private static let columns = "body, export, timer_kind, timer_at, lease_owner, lease_until, unanswered"

    private func fetch(_ query: PostgresQuery, _ connection: PostgresConnection) async throws -> [CaseRecord] {
        var records: [CaseRecord] = []
        let rows = try await connection.query(query, logger: logger)
        for try await (body, export, kind, at, owner, until, unanswered) in rows.decode((ByteBuffer, ByteBuffer, Int32?, Int64?, String?, Int64, Int32).self) {
            do {
                let timer = kind.flatMap(TimerKind.init(rawValue:)).map { CaseTimer(kind: $0, at: at ?? 0) }
                records.append(CaseRecord(
                    exceptionCase: try ExceptionCase(serializedBytes: body.readableBytesView), export: try Export(serializedBytes: export.readableBytesView),
                    timer: timer, lease: owner.map { Lease(owner: $0, until: until) }, unanswered: unanswered))
            } catch {
                throw ExceptionError.storage("a stored case does not decode (\(error))")
            }
        }
        return records
    }

    private func write(_ change: CaseChange, insert: Bool, _ connection: PostgresConnection) async throws -> Bool {
        let record = change.record
        let c = record.exceptionCase
        let body = ByteBuffer(bytes: c.serializedBytes())
        let export = ByteBuffer(bytes: record.export.serializedBytes())
        let kind = record.timer.map { Int32($0.kind.rawValue) }
        let at = record.timer?.at
        let owner = record.lease?.owner
        let until = record.lease?.until ?? 0
        let state = Int32(c.state.rawValue)
        let dueKey = record.position.dueKey
        let shipBy = record.export.sla?.shipByUnixMs ?? 0
        if insert {
            let inserted = try await connection.query(
                """
                INSERT INTO cases (case_id, tenant_id, export_id, export_version, state, queue, due_key, opened_at, ship_by,
                    timer_kind, timer_at, lease_owner, lease_until, unanswered, body, export)
                VALUES (\(c.caseID), \(c.tenantID), \(c.exportID), \(c.exportVersion), \(state), \(c.queue), \(dueKey), \(c.createdAtUnixMs), \(shipBy),
                    \(kind), \(at), \(owner), \(until), \(record.unanswered), \(body), \(export))
                ON CONFLICT (tenant_id, export_id, export_version) DO NOTHING RETURNING case_id
                """, logger: logger
            ).collect()
            if inserted.isEmpty { return false }
        } else {
            try await connection.query(
                """
                UPDATE cases SET export_version = \(c.exportVersion), state = \(state), queue = \(c.queue), due_key = \(dueKey), ship_by = \(shipBy), timer_kind = \(kind), timer_at = \(at),
                    lease_owner = \(owner), lease_until = \(until), unanswered = \(record.unanswered), body = \(body), export = \(export)
                WHERE case_id = \(c.caseID)
                """, logger: logger)
        }
        if !change.notifications.isEmpty {
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.notificationLock))", logger: logger)
            for notification in change.notifications {
                try await connection.query(
                    """
                    INSERT INTO notifications (tenant_id, notification_id, body)
                    VALUES (\(notification.tenantID), \(notification.notificationID), \(ByteBuffer(bytes: notification.serializedBytes())))
                    ON CONFLICT (notification_id) DO NOTHING
                    """, logger: logger)
            }
        }
        return true
    }

    // MARK: CaseStore

    public func open(_ change: CaseChange) async throws(ExceptionError) -> (record: CaseRecord, duplicate: Bool) {
        let c = change.record.exceptionCase
        return try await perform { connection in
            if try await self.write(change, insert: true, connection) { return (change.record, false) }
            let existing = try await self.fetch(
                "SELECT \(unescaped: Self.columns) FROM cases WHERE tenant_id = \(c.tenantID) AND export_id = \(c.exportID) AND export_version = \(c.exportVersion)",
                connection)
            guard let record = existing.first else { throw ExceptionError.storage("the case of \(c.exportID)@\(c.exportVersion) vanished") }
            return (record, true)
        }
    }

    public func record(tenantID: String, caseID: String) async throws(ExceptionError) -> CaseRecord? {
        try await perform { connection in
            try await self.fetch("SELECT \(unescaped: Self.columns) FROM cases WHERE case_id = \(caseID) AND tenant_id = \(tenantID)", connection).first
        }
    }

    public func record(tenantID: String, exportID: String, version: Int64?) async throws(ExceptionError) -> CaseRecord? {
        try await perform { connection in
            try await self.fetch(
                """
                SELECT \(unescaped: Self.columns) FROM cases
                WHERE tenant_id = \(tenantID) AND export_id = \(exportID) AND (\(version)::BIGINT IS NULL OR export_version = \(version))
                ORDER BY export_version DESC LIMIT 1
                """, connection
            ).first
        }
    }

    public func update(
        tenantID: String, caseID: String, _ decide: @escaping @Sendable (CaseRecord) throws(ExceptionError) -> CaseChange?
    ) async throws(ExceptionError) -> CaseRecord {
        try await perform { connection in
            guard let current = try await self.fetch(
                "SELECT \(unescaped: Self.columns) FROM cases WHERE case_id = \(caseID) AND tenant_id = \(tenantID) FOR UPDATE",
                connection
            ).first else {
                throw ExceptionError.caseNotFound(caseID: caseID)
            }
            guard let change = try decide(current) else { return current }
            _ = try await self.write(change, insert: false, connection)
            return change.record
        }
    }

    public func list(_ filter: QueueFilter) async throws(ExceptionError) -> [CaseRecord] {
        let state = filter.state.map { Int32($0.rawValue) }
        // NULL parameters switch a condition off.
        let afterKey = filter.after?.dueKey
        let afterID = filter.after?.caseID
        return try await perform { connection in
            try await self.fetch(
                """
                SELECT \(unescaped: Self.columns) FROM cases
                WHERE tenant_id = \(filter.tenantID)
                  AND (\(filter.queue)::TEXT IS NULL OR queue = \(filter.queue))
                  AND (\(state)::INTEGER IS NULL OR state = \(state))
                  AND (\(afterKey)::BIGINT IS NULL OR (due_key, case_id COLLATE "C") > (\(afterKey), \(afterID) COLLATE "C"))
                ORDER BY due_key, case_id COLLATE "C" LIMIT \(filter.limit)
                """, connection)
        }
    }

    public func leaseDue(now: Int64, until: Int64, owner: String, limit: Int) async throws(ExceptionError) -> [CaseRecord] {
        try await perform { connection in
            try await self.fetch(
                """
                UPDATE cases SET lease_owner = \(owner), lease_until = \(until)
                WHERE case_id IN (
                    SELECT case_id FROM cases WHERE timer_at <= \(now) AND lease_until <= \(now)
                    ORDER BY timer_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                RETURNING \(unescaped: Self.columns)
                """, connection)
        }
    }

    public func nextTimerAt() async throws(ExceptionError) -> Int64? {
        try await perform { connection in
            for try await value in try await connection.query("SELECT MIN(GREATEST(timer_at, lease_until)) FROM cases WHERE timer_at IS NOT NULL", logger: self.logger).decode(Int64?.self) {
                return value
            }
            return nil
        }
    }

    public func notifications(tenantID: String, after sequence: Int64, limit: Int) async throws(ExceptionError) -> [NotificationEvent] {
        try await perform { connection in
            var events: [NotificationEvent] = []
            for try await (seq, body) in try await connection.query(
                "SELECT seq, body FROM notifications WHERE tenant_id = \(tenantID) AND seq > \(sequence) ORDER BY seq LIMIT \(limit)", logger: self.logger
            ).decode((Int64, ByteBuffer).self) {
                do {
                    var event = try NotificationEvent(serializedBytes: body.readableBytesView)
                    event.cursor = Cursor.notification(seq)
                    events.append(event)
                } catch {
                    throw ExceptionError.storage("a stored notification does not decode (\(error))")
                }
            }
            return events
        }
    }

    public func openCaseSummary(shipByBefore: Int64) async throws(ExceptionError) -> [OpenCases] {
        let resolved = Int32(CaseState.resolved.rawValue)
        return try await perform { connection in
            var summary: [OpenCases] = []
            for try await (tenant, queue, state, count, oldest, atRisk) in try await connection.query(
                """
                SELECT tenant_id, queue, state, COUNT(*), COALESCE(MIN(NULLIF(opened_at, 0)), 0), SUM(CASE WHEN ship_by > 0 AND ship_by < \(shipByBefore) THEN 1 ELSE 0 END)
                FROM cases WHERE state <> \(resolved) GROUP BY tenant_id, queue, state
                """, logger: self.logger
            ).decode((String, String, Int32, Int64, Int64, Int64).self) {
                summary.append(OpenCases(
                    tenantID: tenant, queue: queue, state: CaseState(rawValue: state) ?? .unspecified, count: Int(count),
                    oldestOpenedAt: oldest, shipByAtRisk: Int(atRisk)))
            }
            return summary
        }
    }

    public func close() async {}
}
