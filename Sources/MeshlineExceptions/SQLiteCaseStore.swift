import Foundation
import GRDB
public import MeshlineModels
import MeshlineStorage

/// The embedded default storage: one SQLite file in WAL mode with
/// `synchronous = FULL`, so every change is on disk before it is answered.
/// SQLite runs one write transaction at a time, which is what makes a lease of
/// due cases exclusive within this (single-machine) router.
///
/// Changes that arrive while a commit runs go into the next transaction together,
/// each in its own savepoint (group commit, as in the registry): when a scheduler
/// round fires dozens of timers, one fsync covers them, and a refused change
/// never undoes another.
public final class SQLiteCaseStore: CaseStore {
    let pool: DatabasePool
    private let writer: CommitThread<Job>

    private struct Job: Sendable {
        let apply: @Sendable (Database) throws -> any Sendable
        let continuation: CheckedContinuation<any Sendable, any Error>
    }

    /// Opens (creating if needed) the database at `path`.
    public init(path: String) throws(ExceptionError) {
        let pool: DatabasePool
        do {
            pool = try SQLiteSetup.openDurablePool(path: path)
            try Self.migrator.migrate(pool)
        } catch {
            throw .storage(SQLiteSetup.cannotOpen(path, error))
        }
        self.pool = pool
        writer = CommitThread(name: "router-writer") { jobs in Self.commit(jobs, pool: pool) }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE cases (
                    case_id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL,
                    export_id TEXT NOT NULL,
                    export_version INTEGER NOT NULL,
                    state INTEGER NOT NULL,
                    queue TEXT NOT NULL,
                    due_key INTEGER NOT NULL,
                    timer_kind INTEGER,
                    timer_at INTEGER,
                    lease_owner TEXT,
                    lease_until INTEGER NOT NULL DEFAULT 0,
                    unanswered INTEGER NOT NULL DEFAULT 0,
                    body BLOB NOT NULL,
                    export BLOB NOT NULL,
                    UNIQUE (tenant_id, export_id, export_version)
                );
                CREATE INDEX cases_timer ON cases (timer_at) WHERE timer_at IS NOT NULL;
                CREATE INDEX cases_queue ON cases (tenant_id, due_key, case_id);
                CREATE TABLE notifications (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    tenant_id TEXT NOT NULL,
                    notification_id TEXT NOT NULL UNIQUE,
                    body BLOB NOT NULL
                );
                CREATE INDEX notifications_tenant ON notifications (tenant_id, seq);
                """)
        }
        migrator.registerMigration("v2: open-case gauges") { db in
            try db.execute(sql: """
                ALTER TABLE cases ADD COLUMN opened_at INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE cases ADD COLUMN ship_by INTEGER NOT NULL DEFAULT 0;
                CREATE INDEX cases_open ON cases (tenant_id, queue, state) WHERE state <> \(CaseState.resolved.rawValue);
                """)
            // Open cases stored before: their times are in the stored protobufs.
            for row in try Row.fetchAll(db, sql: "SELECT case_id, \(columns) FROM cases WHERE state <> ?", arguments: [CaseState.resolved.rawValue]) {
                let record = try decode(row)
                try db.execute(
                    sql: "UPDATE cases SET opened_at = ?, ship_by = ? WHERE case_id = ?",
                    arguments: [record.exceptionCase.createdAtUnixMs, record.export.sla?.shipByUnixMs ?? 0, row["case_id"] as String])
            }
        }
        return migrator
    }

    // MARK: Rows

    private static let columns = "body, export, timer_kind, timer_at, lease_owner, lease_until, unanswered"

    private static func decode(_ row: Row) throws -> CaseRecord {
        do {
            let exceptionCase = try ExceptionCase(serializedBytes: [UInt8](row["body"] as Data))
            let export = try Export(serializedBytes: [UInt8](row["export"] as Data))
            let timer: CaseTimer? = (row["timer_kind"] as Int32?).flatMap(TimerKind.init(rawValue:)).map { CaseTimer(kind: $0, at: row["timer_at"]) }
            let lease: Lease? = (row["lease_owner"] as String?).map { Lease(owner: $0, until: row["lease_until"]) }
            return CaseRecord(exceptionCase: exceptionCase, export: export, timer: timer, lease: lease, unanswered: row["unanswered"])
        } catch {
            throw ExceptionError.storage("a stored case does not decode (\(error))")
        }
    }

    private static func fetch(_ db: Database, _ sql: String, _ arguments: StatementArguments) throws -> [CaseRecord] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT \(columns) FROM cases WHERE " + sql), arguments: arguments).map(decode)
    }

    private static func write(_ change: CaseChange, insert: Bool, db: Database) throws {
        let record = change.record
        let exceptionCase = record.exceptionCase
        let values: [any DatabaseValueConvertible & Sendable] = [
            exceptionCase.tenantID, exceptionCase.exportID, exceptionCase.exportVersion, exceptionCase.state.rawValue, exceptionCase.queue,
            record.position.dueKey, exceptionCase.createdAtUnixMs, record.export.sla?.shipByUnixMs ?? 0,
        ]
        let timerAndLease: StatementArguments = [
            record.timer?.kind.rawValue, record.timer?.at, record.lease?.owner, record.lease?.until ?? 0, record.unanswered,
            Data(exceptionCase.serializedBytes()), Data(record.export.serializedBytes()), exceptionCase.caseID,
        ]
        if insert {
            try db.cachedStatement(sql: """
                INSERT INTO cases (tenant_id, export_id, export_version, state, queue, due_key, opened_at, ship_by,
                    timer_kind, timer_at, lease_owner, lease_until, unanswered, body, export, case_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: StatementArguments(values) + timerAndLease)
        } else {
            try db.cachedStatement(sql: """
                UPDATE cases SET tenant_id = ?, export_id = ?, export_version = ?, state = ?, queue = ?, due_key = ?, opened_at = ?, ship_by = ?,
                    timer_kind = ?, timer_at = ?, lease_owner = ?, lease_until = ?, unanswered = ?, body = ?, export = ?
                WHERE case_id = ?
                """).execute(arguments: StatementArguments(values) + timerAndLease)
        }
        for notification in change.notifications {
            try db.cachedStatement(sql: "INSERT OR IGNORE INTO notifications (tenant_id, notification_id, body) VALUES (?, ?, ?)")
                .execute(arguments: [notification.tenantID, notification.notificationID, Data(notification.serializedBytes())])
        }
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(ExceptionError) -> T {
        do {
            return try await pool.read(body)
        } catch let error as ExceptionError {
            throw error
        } catch {
            throw .storage("\(error)")
        }
    }

    /// Runs `apply` in the next group commit; returns once it is on disk.
    private func grouped<T: Sendable>(_ apply: @escaping @Sendable (Database) throws -> T) async throws(ExceptionError) -> T {
        let value: any Sendable
        do {
            value = try await withCheckedThrowingContinuation { continuation in
                if !writer.enqueue(Job(apply: { try apply($0) }, continuation: continuation)) {
                    continuation.resume(throwing: ExceptionError.storage("the store is closed because the router is shutting down; retry after it restarts"))
                }
            }
        } catch let error as ExceptionError {
            throw error
        } catch {
            throw .storage("\(error)")
        }
        guard let typed = value as? T else { throw .storage("a change returned \(type(of: value)), not \(T.self)") }
        return typed
    }

    /// Commits one batch in one transaction (one fsync), each change in its own savepoint.
    private static func commit(_ jobs: [Job], pool: DatabasePool) {
        let results: [Result<any Sendable, any Error>]
        do {
            results = try pool.write { db in
                jobs.map { job in Result { try db.inCachedSavepoint { try job.apply(db) } } }
            }
        } catch {
            let failure = ExceptionError.storage(SQLiteSetup.commitFailed(error))
            for job in jobs { job.continuation.resume(throwing: failure) }
            return
        }
        for (job, result) in zip(jobs, results) { job.continuation.resume(with: result) }
    }

    // MARK: CaseStore

    public func open(_ change: CaseChange) async throws(ExceptionError) -> (record: CaseRecord, duplicate: Bool) {
        try await grouped { db in
            let exceptionCase = change.record.exceptionCase
            if let existing = try Self.fetch(
                db, "tenant_id = ? AND export_id = ? AND export_version = ?", [exceptionCase.tenantID, exceptionCase.exportID, exceptionCase.exportVersion]
            ).first {
                return (existing, true)
            }
            try Self.write(change, insert: true, db: db)
            return (change.record, false)
        }
    }

    public func record(tenantID: String, caseID: String) async throws(ExceptionError) -> CaseRecord? {
        try await read { db in try Self.fetch(db, "case_id = ? AND tenant_id = ?", [caseID, tenantID]).first }
    }

    public func record(tenantID: String, exportID: String, version: Int64?) async throws(ExceptionError) -> CaseRecord? {
        try await read { db in
            if let version {
                return try Self.fetch(db, "tenant_id = ? AND export_id = ? AND export_version = ?", [tenantID, exportID, version]).first
            }
            return try Self.fetch(db, "tenant_id = ? AND export_id = ? ORDER BY export_version DESC LIMIT 1", [tenantID, exportID]).first
        }
    }

    public func update(
        tenantID: String, caseID: String, _ decide: @escaping @Sendable (CaseRecord) throws(ExceptionError) -> CaseChange?
    ) async throws(ExceptionError) -> CaseRecord {
        try await grouped { db in
            guard let current = try Self.fetch(db, "case_id = ? AND tenant_id = ?", [caseID, tenantID]).first else {
                throw ExceptionError.caseNotFound(caseID: caseID)
            }
            guard let change = try decide(current) else { return current }
            try Self.write(change, insert: false, db: db)
            return change.record
        }
    }

    public func list(_ filter: QueueFilter) async throws(ExceptionError) -> [CaseRecord] {
        try await read { db in
            var sql = "tenant_id = ?"
            var arguments: StatementArguments = [filter.tenantID]
            if let queue = filter.queue { sql += " AND queue = ?"; arguments += [queue] }
            if let state = filter.state { sql += " AND state = ?"; arguments += [state.rawValue] }
            if let after = filter.after { sql += " AND (due_key, case_id) > (?, ?)"; arguments += [after.dueKey, after.caseID] }
            sql += " ORDER BY due_key, case_id LIMIT ?"
            arguments += [filter.limit]
            return try Self.fetch(db, sql, arguments)
        }
    }

    public func leaseDue(now: Int64, until: Int64, owner: String, limit: Int) async throws(ExceptionError) -> [CaseRecord] {
        try await grouped { db in
            let due = try Self.fetch(db, "timer_at <= ? AND lease_until <= ? ORDER BY timer_at LIMIT ?", [now, now, limit])
            let statement = try db.cachedStatement(sql: "UPDATE cases SET lease_owner = ?, lease_until = ? WHERE case_id = ?")
            return try due.map { record in
                try statement.execute(arguments: [owner, until, record.exceptionCase.caseID])
                var leased = record
                leased.lease = Lease(owner: owner, until: until)
                return leased
            }
        }
    }

    public func nextTimerAt() async throws(ExceptionError) -> Int64? {
        try await read { db in try Int64.fetchOne(db, sql: "SELECT MIN(MAX(timer_at, lease_until)) FROM cases WHERE timer_at IS NOT NULL") }
    }

    public func notifications(tenantID: String, after sequence: Int64, limit: Int) async throws(ExceptionError) -> [NotificationEvent] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT seq, body FROM notifications WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?", arguments: [tenantID, sequence, limit])
                .map { row in
                    var event = try NotificationEvent(serializedBytes: [UInt8](row["body"] as Data))
                    event.cursor = Cursor.notification(row["seq"])
                    return event
                }
        }
    }

    public func openCaseSummary(shipByBefore: Int64) async throws(ExceptionError) -> [OpenCases] {
        try await read { db in
            try Row.fetchAll(db, sql: Self.summarySQL, arguments: [shipByBefore, CaseState.resolved.rawValue]).map { row in
                OpenCases(
                    tenantID: row[0], queue: row[1], state: CaseState(rawValue: row[2]) ?? .unspecified, count: row[3],
                    oldestOpenedAt: row[4], shipByAtRisk: row[5])
            }
        }
    }

    private static let summarySQL = """
        SELECT tenant_id, queue, state, COUNT(*), COALESCE(MIN(NULLIF(opened_at, 0)), 0), SUM(CASE WHEN ship_by > 0 AND ship_by < ? THEN 1 ELSE 0 END)
        FROM cases WHERE state <> ? GROUP BY tenant_id, queue, state
        """

    public func close() async {
        // Commit what is queued, then checkpoint the WAL into the main file.
        await writer.stop()
        _ = try? await pool.writeWithoutTransaction { db in try SQLiteSetup.checkpointIfIdle(db) }
        try? pool.close()
    }
}
