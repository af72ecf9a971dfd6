import Foundation
import GRDB
public import MeshlineModels
import MeshlineStorage
import Synchronization

/// The embedded default storage: one SQLite file in WAL mode with
/// `synchronous = FULL`, so that every commit is on disk before it is answered.
///
/// Appends queue up while a commit is running and then go into the next
/// transaction together (on one ``CommitThread``), each in its own savepoint: under
/// load one fsync covers many appends, and one refused append never undoes another.
public final class SQLiteRegistryStore: RegistryStore {
    let pool: DatabasePool
    private let writer: CommitThread<Job>
    private let clock: @Sendable () -> Int64
    /// The latest versions written recently, so that Gets under load skip the database.
    /// This process is the file's only writer (the store is not shared), so the cache is exact.
    private let recent = RecentExports(capacity: 10_000)

    private struct Job: Sendable {
        let request: AppendRequest
        let continuation: CheckedContinuation<(export: Export, replayed: Bool), any Error>
    }

    /// Opens (creating if needed) the database at `path`.
    public convenience init(path: String, clock: @escaping @Sendable () -> Int64 = { UnixTime.nowMilliseconds() }) throws(RegistryError) {
        try self.init(path: path, clock: clock, migratingUpTo: nil)
    }

    /// `lastMigration`: migrate no further than this one (tests make the databases older releases left).
    init(path: String, clock: @escaping @Sendable () -> Int64, migratingUpTo lastMigration: String?) throws(RegistryError) {
        self.clock = clock
        let pool: DatabasePool
        do {
            // Checkpoint the WAL less often (default 1,000 pages): each checkpoint runs
            // inside a commit and holds up the appends queued behind it.
            pool = try SQLiteSetup.openDurablePool(path: path, extra: ["PRAGMA wal_autocheckpoint = 8000"])
            if let lastMigration {
                try Self.migrator.migrate(pool, upTo: lastMigration)
            } else {
                try Self.migrator.migrate(pool)
            }
        } catch {
            throw .storage(SQLiteSetup.cannotOpen(path, error))
        }
        self.pool = pool
        writer = CommitThread(name: "registry-writer") { [recent] jobs in
            Self.commit(jobs, pool: pool, recent: recent, now: clock())
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE export_versions (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    tenant_id TEXT NOT NULL,
                    export_id TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    body BLOB NOT NULL,
                    UNIQUE (tenant_id, export_id, version)
                );
                CREATE TABLE exports_latest (
                    tenant_id TEXT NOT NULL,
                    export_id TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    seq INTEGER NOT NULL,
                    order_id TEXT NOT NULL,
                    kind INTEGER NOT NULL,
                    state INTEGER NOT NULL,
                    owner TEXT NOT NULL,
                    live INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL,
                    ship_by INTEGER NOT NULL,
                    PRIMARY KEY (tenant_id, export_id)
                );
                CREATE UNIQUE INDEX exports_live_order_kind ON exports_latest (tenant_id, order_id, kind) WHERE live = 1;
                CREATE INDEX exports_expiry ON exports_latest (state, expires_at);
                CREATE INDEX exports_ship_by ON exports_latest (tenant_id, kind, ship_by);
                CREATE INDEX versions_tenant_seq ON export_versions (tenant_id, seq);
                CREATE TABLE idempotency (
                    tenant_id TEXT NOT NULL,
                    key TEXT NOT NULL,
                    request_hash BLOB NOT NULL,
                    export_id TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    PRIMARY KEY (tenant_id, key)
                );
                CREATE TABLE override_nonces (
                    tenant_id TEXT NOT NULL,
                    key_id TEXT NOT NULL,
                    nonce TEXT NOT NULL,
                    used_at INTEGER NOT NULL,
                    PRIMARY KEY (tenant_id, key_id, nonce)
                );
                CREATE TABLE outbox (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    report BLOB NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v2: outbox keeps the trace") { db in
            try db.execute(sql: "ALTER TABLE outbox ADD COLUMN traceparent TEXT")
        }
        migrator.registerMigration("v3: one live export per shipment") { db in
            try db.execute(sql: """
                ALTER TABLE exports_latest ADD COLUMN shipment INTEGER NOT NULL DEFAULT 1;
                DROP INDEX exports_live_order_kind;
                CREATE UNIQUE INDEX exports_live_shipment ON exports_latest (tenant_id, order_id, kind, shipment) WHERE live = 1;
                """)
        }
        migrator.registerMigration("v4: latest versions and idempotency keys clustered by their key") { db in
            // WITHOUT ROWID stores each row in its primary key's b-tree, so a publish
            // writes one b-tree less per table (the separate rowid table is gone).
            try db.execute(sql: """
                CREATE TABLE exports_latest_v4 (
                    tenant_id TEXT NOT NULL,
                    export_id TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    seq INTEGER NOT NULL,
                    order_id TEXT NOT NULL,
                    kind INTEGER NOT NULL,
                    shipment INTEGER NOT NULL,
                    state INTEGER NOT NULL,
                    owner TEXT NOT NULL,
                    live INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL,
                    ship_by INTEGER NOT NULL,
                    PRIMARY KEY (tenant_id, export_id)
                ) WITHOUT ROWID;
                INSERT INTO exports_latest_v4 (tenant_id, export_id, version, seq, order_id, kind, shipment, state, owner, live, expires_at, ship_by)
                    SELECT tenant_id, export_id, version, seq, order_id, kind, shipment, state, owner, live, expires_at, ship_by FROM exports_latest;
                DROP TABLE exports_latest;
                ALTER TABLE exports_latest_v4 RENAME TO exports_latest;
                CREATE UNIQUE INDEX exports_live_shipment ON exports_latest (tenant_id, order_id, kind, shipment) WHERE live = 1;
                CREATE INDEX exports_expiry ON exports_latest (state, expires_at);
                CREATE INDEX exports_ship_by ON exports_latest (tenant_id, kind, ship_by);

                CREATE TABLE idempotency_v4 (
                    tenant_id TEXT NOT NULL,
                    key TEXT NOT NULL,
                    request_hash BLOB NOT NULL,
                    export_id TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    PRIMARY KEY (tenant_id, key)
                ) WITHOUT ROWID;
                INSERT INTO idempotency_v4 SELECT tenant_id, key, request_hash, export_id, version FROM idempotency;
                DROP TABLE idempotency;
                ALTER TABLE idempotency_v4 RENAME TO idempotency;
                """)
        }
        return migrator
    }

    // MARK: Appends (group commit)

    public func append(_ request: AppendRequest) async throws(RegistryError) -> (export: Export, replayed: Bool) {
        do {
            return try await withCheckedThrowingContinuation { continuation in
                let job = Job(request: request, continuation: continuation)
                if !writer.enqueue(job) {
                    continuation.resume(throwing: RegistryError.storage("the store is closed because the registry is shutting down; retry against another replica or after it restarts"))
                }
            }
        } catch let error as RegistryError {
            throw error
        } catch {
            throw .storage("\(error)")
        }
    }

    /// Commits one batch in one transaction (one fsync) and answers every append in it.
    private static func commit(_ jobs: [Job], pool: DatabasePool, recent: RecentExports, now: Int64) {
        let results: [Result<(export: Export, replayed: Bool), RegistryError>]
        do {
            results = try pool.write { db in
                let results = jobs.map { job in Self.apply(job.request, now: now, db: db) }
                // Before the commit makes the new versions visible, so that a Get never
                // finds a cached version older than what List, Watch or the database show;
                // until they are put back below, Gets of these exports read the database.
                for case .success(let stored) in results where !stored.replayed { recent.remove(stored.export) }
                return results
            }
        } catch {
            for job in jobs {
                job.continuation.resume(throwing: RegistryError.storage(SQLiteSetup.commitFailed(error)))
            }
            return
        }
        for (job, result) in zip(jobs, results) {
            if case .success(let stored) = result, !stored.replayed { recent.put(stored.export) }
            job.continuation.resume(with: result.mapError { $0 as any Error })
        }
    }

    /// One append in its own savepoint inside the batch's transaction.
    ///
    /// A publish of a new export usually meets no earlier row, so it is first written
    /// as if none existed: the unique keys on export id, live key and idempotency key
    /// refuse it if that was wrong, and only then is the stored state read and the
    /// append decided again. The happy path runs no reads.
    private static func apply(_ request: AppendRequest, now: Int64, db: Database) -> Result<(export: Export, replayed: Bool), RegistryError> {
        if let outcome = applyAssumingNewExport(request, now: now, db: db) {
            return outcome
        }
        do {
            return .success(try db.inCachedSavepoint { try applyInSavepoint(request, now: now, db: db) })
        } catch let error as RegistryError {
            return .failure(error)
        } catch {
            return .failure(.storage("\(error)"))
        }
    }

    /// A new export's publish decided against an empty state and written with plain
    /// inserts; nil when a unique key shows the state was not empty (nothing is left
    /// written), or when the append is not such a publish.
    private static func applyAssumingNewExport(_ request: AppendRequest, now: Int64, db: Database) -> Result<(export: Export, replayed: Bool), RegistryError>? {
        guard let (export, effects) = request.decidedAsNewExport(now: now) else { return nil }
        do {
            try db.inCachedSavepoint { try write(export, effects, now: now, db: db, isNew: true) }
            return .success((export, false))
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            return nil
        } catch let error as RegistryError {
            return .failure(error)
        } catch {
            return .failure(.storage("\(error)"))
        }
    }

    private static func applyInSavepoint(_ request: AppendRequest, now: Int64, db: Database) throws -> (export: Export, replayed: Bool) {
        if let nonce = request.nonce,
            try Bool.fetchOne(
                db, sql: "SELECT 1 FROM override_nonces WHERE tenant_id = ? AND key_id = ? AND nonce = ?",
                arguments: [request.tenantID, nonce.keyID, nonce.nonce]) ?? false
        {
            throw RegistryError.nonceReplayed(keyID: nonce.keyID, nonce: nonce.nonce)
        }
        let current = try latestBody(db, tenantID: request.tenantID, exportID: request.exportID)
        var liveExportID: String?
        if let live = request.liveKey {
            liveExportID = try String.fetchOne(
                db.cachedStatement(sql: "SELECT export_id FROM exports_latest WHERE tenant_id = ? AND order_id = ? AND kind = ? AND shipment = ? AND live = 1"),
                arguments: [request.tenantID, live.orderID, live.kind.rawValue, live.shipment])
        }
        let idempotent = try request.idempotencyKey.flatMap { try idempotencyRecord(db, tenantID: request.tenantID, key: $0) }
        let context = AppendContext(current: current, liveExportID: liveExportID, idempotent: idempotent, now: now)
        switch try request.decide(context) {
        case .replay(let exportID, let version):
            guard let stored = try versionBody(db, tenantID: request.tenantID, exportID: exportID, version: version) else {
                throw RegistryError.storage("the idempotent result \(exportID) v\(version) is missing")
            }
            return (stored, true)
        case .store(let export, let effects):
            if let nonce = request.nonce {
                try db.execute(
                    sql: "INSERT INTO override_nonces (tenant_id, key_id, nonce, used_at) VALUES (?, ?, ?, ?)",
                    arguments: [request.tenantID, nonce.keyID, nonce.nonce, now])
            }
            try write(export, effects, now: now, db: db, isNew: false)
            return (export, false)
        }
    }

    /// Writes a decided version and its side effects. `isNew`: the latest-version row is
    /// inserted rather than replaced, so an existing export fails the unique key.
    private static func write(_ export: Export, _ effects: AppendSideEffects, now: Int64, db: Database, isNew: Bool) throws {
        try db.cachedStatement(sql: "INSERT INTO export_versions (tenant_id, export_id, version, body) VALUES (?, ?, ?, ?)")
            .executeDirect([.text(export.tenantID), .text(export.exportID), .integer(export.version), .blob(StoredExportSize.check(export.serializedBytes(), of: export))])
        let sequence = db.lastInsertedRowID
        let insert = """
            INSERT INTO exports_latest (tenant_id, export_id, version, seq, order_id, kind, shipment, state, owner, live, expires_at, ship_by)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """
        let replace = """
             ON CONFLICT (tenant_id, export_id) DO UPDATE SET
                version = excluded.version, seq = excluded.seq, order_id = excluded.order_id, kind = excluded.kind,
                shipment = excluded.shipment, state = excluded.state, owner = excluded.owner, live = excluded.live,
                expires_at = excluded.expires_at, ship_by = excluded.ship_by
            """
        do {
            try db.cachedStatement(sql: isNew ? insert : insert + replace).executeDirect([
                .text(export.tenantID), .text(export.exportID), .integer(export.version), .integer(sequence), .text(export.orderID),
                .integer(Int64(export.kind.rawValue)), .integer(Int64(LiveKey(export).shipment)), .integer(Int64(export.state.rawValue)),
                .text(export.owningParty?.text ?? ""), .integer(export.state.endsExport ? 0 : 1), .integer(export.expiresAtUnixMs),
                .integer(export.sla?.shipByUnixMs ?? 0),
            ])
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT && !isNew {
            // Replacing the latest row cannot clash on its own key, so this is the unique
            // index on the live key: the version would make a second export live for it
            // (a decision that did not read the live export, or one made elsewhere).
            throw RegistryError.conflict(LiveKey(export).conflictMessage)
        }
        if let idempotency = effects.idempotency {
            try db.cachedStatement(sql: "INSERT INTO idempotency (tenant_id, key, request_hash, export_id, version) VALUES (?, ?, ?, ?, ?)")
                .executeDirect([.text(export.tenantID), .text(idempotency.key), .blob(idempotency.requestHash), .text(export.exportID), .integer(export.version)])
        }
        for report in effects.outbox {
            try db.cachedStatement(sql: "INSERT INTO outbox (report, next_attempt_at, traceparent) VALUES (?, ?, ?)")
                .executeDirect([.blob(report.serializedBytes()), .integer(now), effects.traceparent.map(BoundValue.text) ?? .null])
        }
    }

    private static func decode(_ data: Data) throws -> Export {
        do {
            return try Export(serializedBytes: [UInt8](data))
        } catch {
            throw RegistryError.storage("a stored export does not decode (\(error)); run meshline verify")
        }
    }

    private static func latestBody(_ db: Database, tenantID: String, exportID: String) throws -> Export? {
        let data = try Data.fetchOne(
            db.cachedStatement(sql: """
                SELECT v.body FROM exports_latest l JOIN export_versions v ON v.seq = l.seq
                WHERE l.tenant_id = ? AND l.export_id = ?
                """), arguments: [tenantID, exportID])
        return try data.map(decode)
    }

    private static func versionBody(_ db: Database, tenantID: String, exportID: String, version: Int64) throws -> Export? {
        let data = try Data.fetchOne(
            db, sql: "SELECT body FROM export_versions WHERE tenant_id = ? AND export_id = ? AND version = ?",
            arguments: [tenantID, exportID, version])
        return try data.map(decode)
    }

    // MARK: Reads

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(RegistryError) -> T {
        do {
            return try await pool.read(body)
        } catch let error as RegistryError {
            throw error
        } catch {
            throw .storage("\(error)")
        }
    }

    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(RegistryError) -> T {
        do {
            return try await pool.write(body)
        } catch {
            throw .storage("\(error)")
        }
    }

    public func cachedLatest(tenantID: String, exportID: String) -> Export? {
        recent.get(tenantID: tenantID, exportID: exportID)
    }

    public func export(tenantID: String, exportID: String, version: Int64?) async throws(RegistryError) -> Export? {
        try await read { db in
            if let version { return try Self.versionBody(db, tenantID: tenantID, exportID: exportID, version: version) }
            return try Self.latestBody(db, tenantID: tenantID, exportID: exportID)
        }
    }

    public func history(tenantID: String, exportID: String) async throws(RegistryError) -> [Export] {
        try await read { db in
            try Data.fetchAll(db, sql: "SELECT body FROM export_versions WHERE tenant_id = ? AND export_id = ? ORDER BY version", arguments: [tenantID, exportID])
                .map(Self.decode)
        }
    }

    public func list(tenantID: String, filter: ExportFilter, after cursor: String?, limit: Int) async throws(RegistryError) -> [Export] {
        try await read { db in
            var sql = "SELECT v.body FROM exports_latest l JOIN export_versions v ON v.seq = l.seq WHERE l.tenant_id = ?"
            var arguments: StatementArguments = [tenantID]
            if let owner = filter.owner { sql += " AND l.owner = ?"; arguments += [owner] }
            if let state = filter.state { sql += " AND l.state = ?"; arguments += [state.rawValue] }
            if let order = filter.orderID { sql += " AND l.order_id = ?"; arguments += [order] }
            if let kind = filter.kind { sql += " AND l.kind = ?"; arguments += [kind.rawValue] }
            if let cursor { sql += " AND l.export_id > ?"; arguments += [cursor] }
            sql += " ORDER BY l.export_id LIMIT ?"
            arguments += [limit]
            return try Data.fetchAll(db, sql: sql, arguments: arguments).map(Self.decode)
        }
    }

    public func commits(tenantID: String, after sequence: Int64, limit: Int) async throws(RegistryError) -> [Commit] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT seq, body FROM export_versions WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?", arguments: [tenantID, sequence, limit])
                .map { Commit(sequence: $0["seq"], export: try Self.decode($0["body"])) }
        }
    }

    public func idempotencyRecord(tenantID: String, key: String) async throws(RegistryError) -> IdempotencyRecord? {
        try await read { db in try Self.idempotencyRecord(db, tenantID: tenantID, key: key) }
    }

    /// What an earlier publish with this idempotency key stored, read on `db` (inside an
    /// append's savepoint, or on its own).
    private static func idempotencyRecord(_ db: Database, tenantID: String, key: String) throws -> IdempotencyRecord? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT request_hash, export_id, version FROM idempotency WHERE tenant_id = ? AND key = ?"), arguments: [tenantID, key]
        ).map { IdempotencyRecord(requestHash: [UInt8]($0["request_hash"] as Data), exportID: $0["export_id"], version: $0["version"]) }
    }

    public func lastSequence() async throws(RegistryError) -> Int64 {
        try await read { db in try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM export_versions") ?? 0 }
    }

    public func expired(now: Int64, limit: Int) async throws(RegistryError) -> [Export] {
        try await read { db in
            try Data.fetchAll(
                db, sql: """
                    SELECT v.body FROM exports_latest l JOIN export_versions v ON v.seq = l.seq
                    WHERE l.state = ? AND l.expires_at > 0 AND l.expires_at <= ? ORDER BY l.expires_at LIMIT ?
                    """, arguments: [ExportState.published.rawValue, now, limit]
            ).map(Self.decode)
        }
    }

    public func routingExports(tenantID: String, shipByFrom from: Int64, to: Int64, after cursor: ShipByCursor?, limit: Int) async throws(RegistryError) -> [Export] {
        // A page starts at the cursor's ship-by in the ship-by index (tenant, kind,
        // ship_by, then the key's export id), so paging reads the range once.
        let start = cursor.map { max(from, $0.shipBy) } ?? from
        return try await read { db in
            try Data.fetchAll(
                db, sql: """
                    SELECT v.body FROM exports_latest l JOIN export_versions v ON v.seq = l.seq
                    WHERE l.tenant_id = ? AND l.kind = ? AND l.ship_by >= ? AND l.ship_by < ?
                      AND (? IS NULL OR l.ship_by > ? OR l.export_id > ?)
                    ORDER BY l.ship_by, l.export_id LIMIT ?
                    """, arguments: [tenantID, ExportKind.routing.rawValue, start, to, cursor?.exportID, cursor?.shipBy, cursor?.exportID, limit]
            ).map(Self.decode)
        }
    }

    public func allVersions(after sequence: Int64, limit: Int) async throws(RegistryError) -> [Commit] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT seq, body FROM export_versions WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [sequence, limit])
                .map { Commit(sequence: $0["seq"], export: try Self.decode($0["body"])) }
        }
    }

    public func pendingReports(now: Int64, limit: Int) async throws(RegistryError) -> [OutboxItem] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT id, report, attempts, traceparent FROM outbox WHERE next_attempt_at <= ? ORDER BY id LIMIT ?", arguments: [now, limit])
                .map { row in
                    let report = Result { () throws(ProtoDecodingError) in try ReportRequest(serializedBytes: [UInt8](row["report"] as Data)) }
                    return OutboxItem(id: row["id"], report: report, attempts: row["attempts"], traceparent: row["traceparent"])
                }
        }
    }

    public func reportDelivered(_ id: Int64) async throws(RegistryError) {
        try await write { db in try db.execute(sql: "DELETE FROM outbox WHERE id = ?", arguments: [id]) }
    }

    public func reportFailed(_ id: Int64, retryAt: Int64) async throws(RegistryError) {
        try await write { db in
            try db.execute(sql: "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?", arguments: [retryAt, id])
        }
    }

    public func outboxCount() async throws(RegistryError) -> Int {
        try await read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox") ?? 0 }
    }

    public func close() async {
        // Commit what is queued, then checkpoint the WAL into the main file.
        await writer.stop()
        _ = try? await pool.writeWithoutTransaction { db in try SQLiteSetup.checkpointIfIdle(db) }
        try? pool.close()
    }
}


/// A bounded map of the latest export versions, oldest entry out first.
///
/// The exports live in a ring of slots and the map holds slot numbers: a map of
/// whole exports moved them (several hundred bytes each) on every insert and
/// eviction, on the writer's thread.
final class RecentExports: Sendable {
    private struct Key: Hashable {
        let tenantID: String
        let exportID: String
    }

    private struct State {
        var slotOf: [Key: Int] = [:]
        /// Nil where an entry was removed; its turn to be reused still comes in ring order.
        var slots: [(key: Key, export: Export)?] = []
        var oldest = 0
    }

    private let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = capacity
    }

    func put(_ export: Export) {
        let key = Key(tenantID: export.tenantID, exportID: export.exportID)
        state.withLock { state in
            if let slot = state.slotOf[key] {
                state.slots[slot] = (key, export)
            } else if state.slots.count < capacity {
                state.slotOf[key] = state.slots.count
                state.slots.append((key, export))
            } else {
                let slot = state.oldest
                if let evicted = state.slots[slot] { state.slotOf[evicted.key] = nil }
                state.slotOf[key] = slot
                state.slots[slot] = (key, export)
                state.oldest = (slot + 1) % capacity
            }
        }
    }

    /// Forgets the export's cached version (its slot stays in the ring, empty).
    func remove(_ export: Export) {
        let key = Key(tenantID: export.tenantID, exportID: export.exportID)
        state.withLock { state in
            if let slot = state.slotOf.removeValue(forKey: key) { state.slots[slot] = nil }
        }
    }

    func get(tenantID: String, exportID: String) -> Export? {
        state.withLock { state in
            state.slotOf[Key(tenantID: tenantID, exportID: exportID)].flatMap { state.slots[$0]?.export }
        }
    }
}
