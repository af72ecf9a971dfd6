import Foundation
public import Logging
public import MeshlineModels
import MeshlineStorage
import NIOCore
import PostgresNIO
import Synchronization

/// Storage on PostgreSQL (postgres-nio), for several registry replicas on one database.
///
/// Appends are committed in batches (group commit): the appends that queue up
/// while a batch commits go into the next transaction together, each in its own
/// savepoint, so a refused append undoes only itself. Every transaction first
/// takes a transaction-scoped advisory lock: batches are serialized across
/// replicas, so sequence numbers are assigned in commit order and a Watch that
/// reads `seq > cursor` can never skip a commit that becomes visible late. The
/// lock also means PostgreSQL cannot group the WAL flushes of separate appends
/// itself, which is why they are batched here. An OK answer means the commit is
/// durable (`synchronous_commit` on, the default).
///
/// Call ``run()`` (e.g. in a ServiceGroup) for the connection pool to work.
public final class PostgresRegistryStore: RegistryStore {
    /// Several registry replicas may share the database.
    public var hasOtherWriters: Bool { true }

    private let client: PostgresClient
    private let logger: Logger
    private let clock: @Sendable () -> Int64
    private let queue = Mutex(Queue())
    /// Most appends in one transaction, so that one batch holds the lock briefly.
    private static let batchLimit = 256

    private struct Job: Sendable {
        let request: AppendRequest
        let continuation: CheckedContinuation<(export: Export, replayed: Bool), any Error>
    }

    private struct Queue {
        var jobs: [Job] = []
        var running = false
        /// Set by ``close()``: appends are refused from then on.
        var closing = false
        /// ``close()`` waiting for the commit loop to finish.
        var drained: [CheckedContinuation<Void, Never>] = []
    }
    /// The advisory lock key that serializes appends ("meshline" in ASCII, folded).
    private static let appendLock: Int64 = 0x6D65_7368_6C69_6E65

    /// A store for `url` (`postgres://user:password@host:port/database`); `schema`
    /// puts the tables in that schema instead of the user's default one.
    public init(url: String, schema: String? = nil, logger: Logger, clock: @escaping @Sendable () -> Int64 = { UnixTime.nowMilliseconds() }) throws(RegistryError) {
        guard let configuration = PostgresURL.configuration(url, schema: schema) else {
            throw .invalidRequest(field: "--database", reason: PostgresURL.malformed(url))
        }
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
        self.clock = clock
    }

    /// Runs the connection pool until the task is cancelled.
    public func run() async {
        await client.run()
    }

    /// Creates the tables when they do not exist (safe with several replicas starting at once).
    public func migrate() async throws(RegistryError) {
        try await perform { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.appendLock))", logger: self.logger)
            try await connection.apply(Self.schema, logger: self.logger)
        }
    }

    private static let schema: [SchemaStep] = [
        .statement(
            """
            CREATE TABLE IF NOT EXISTS export_versions (
                seq BIGSERIAL PRIMARY KEY, tenant_id TEXT NOT NULL, export_id TEXT NOT NULL,
                version BIGINT NOT NULL, body BYTEA NOT NULL, UNIQUE (tenant_id, export_id, version))
            """),
        .statement(
            """
            CREATE TABLE IF NOT EXISTS exports_latest (
                tenant_id TEXT NOT NULL, export_id TEXT NOT NULL, version BIGINT NOT NULL, seq BIGINT NOT NULL,
                order_id TEXT NOT NULL, kind INTEGER NOT NULL, state INTEGER NOT NULL, owner TEXT NOT NULL,
                live BOOLEAN NOT NULL, expires_at BIGINT NOT NULL, ship_by BIGINT NOT NULL, shipment INTEGER NOT NULL DEFAULT 1,
                PRIMARY KEY (tenant_id, export_id))
            """),
        // One live export per shipment; databases made before shipments existed get the column and lose the older index.
        .whenColumnMissing(table: "exports_latest", column: "shipment", [
            "ALTER TABLE exports_latest ADD COLUMN shipment INTEGER NOT NULL DEFAULT 1", "DROP INDEX IF EXISTS exports_live_order_kind",
        ]),
        .statement("CREATE UNIQUE INDEX IF NOT EXISTS exports_live_shipment ON exports_latest (tenant_id, order_id, kind, shipment) WHERE live"),
        .statement("CREATE INDEX IF NOT EXISTS exports_expiry ON exports_latest (state, expires_at)"),
        .statement("CREATE INDEX IF NOT EXISTS exports_ship_by ON exports_latest (tenant_id, kind, ship_by)"),
        .statement("CREATE INDEX IF NOT EXISTS versions_tenant_seq ON export_versions (tenant_id, seq)"),
        .statement(
            """
            CREATE TABLE IF NOT EXISTS idempotency (
                tenant_id TEXT NOT NULL, key TEXT NOT NULL, request_hash BYTEA NOT NULL,
                export_id TEXT NOT NULL, version BIGINT NOT NULL, PRIMARY KEY (tenant_id, key))
            """),
        .statement(
            """
            CREATE TABLE IF NOT EXISTS override_nonces (
                tenant_id TEXT NOT NULL, key_id TEXT NOT NULL, nonce TEXT NOT NULL, used_at BIGINT NOT NULL,
                PRIMARY KEY (tenant_id, key_id, nonce))
            """),
        .statement(
            """
            CREATE TABLE IF NOT EXISTS outbox (
                id BIGSERIAL PRIMARY KEY, report BYTEA NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at BIGINT NOT NULL)
            """),
        .whenColumnMissing(table: "outbox", column: "traceparent", ["ALTER TABLE outbox ADD COLUMN traceparent TEXT"]),
    ]

    /// Runs `body` in a transaction, mapping database failures to ``RegistryError``.
    private func perform<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws(RegistryError) -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch {
            throw Self.registryError(error)
        }
    }

    /// Runs a read of one statement on a pooled connection outside a transaction: the
    /// statement sees one snapshot by itself, and BEGIN and COMMIT would be two more
    /// round trips.
    private func read<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws(RegistryError) -> T {
        do {
            return try await client.withConnection { connection in try await body(connection) }
        } catch {
            throw Self.registryError(error)
        }
    }

    /// A database failure (or a refusal) as the ``RegistryError`` callers get.
    private static func registryError(_ error: any Error) -> RegistryError {
        switch error {
        case let error as RegistryError:
            return error
        case let error as PSQLError:
            return .storage("PostgreSQL: \(error.serverInfo?[.message] ?? String(reflecting: error.code))")
        case let error as PostgresTransactionError:
            if let inner = error.closureError { return registryError(inner) }
            return .storage("PostgreSQL transaction: \(error)")
        default:
            return .storage("PostgreSQL: \(error)")
        }
    }

    private func decode(_ buffer: ByteBuffer) throws -> Export {
        do {
            return try Export(serializedBytes: buffer.readableBytesView)
        } catch {
            throw RegistryError.storage("a stored export does not decode (\(error)); run meshline verify")
        }
    }

    // MARK: Appends

    public func append(_ request: AppendRequest) async throws(RegistryError) -> (export: Export, replayed: Bool) {
        do {
            return try await withCheckedThrowingContinuation { continuation in
                let start = queue.withLock { state -> Bool? in
                    if state.closing { return nil }
                    state.jobs.append(Job(request: request, continuation: continuation))
                    if state.running { return false }
                    state.running = true
                    return true
                }
                switch start {
                case nil:
                    continuation.resume(throwing: RegistryError.storage("the store is closed because the registry is shutting down; retry against another replica or after it restarts"))
                case true?:
                    Task { await self.commitLoop() }
                case false?:
                    break
                }
            }
        } catch {
            throw Self.registryError(error)
        }
    }

    /// Commits queued appends batch by batch until the queue is empty.
    private func commitLoop() async {
        while true {
            let (jobs, drained) = queue.withLock { state -> ([Job], [CheckedContinuation<Void, Never>]) in
                let batch = Array(state.jobs.prefix(Self.batchLimit))
                state.jobs.removeFirst(batch.count)
                guard batch.isEmpty else { return (batch, []) }
                state.running = false
                defer { state.drained = [] }
                return ([], state.drained)
            }
            if jobs.isEmpty {
                for waiter in drained { waiter.resume() }
                return
            }
            await commit(jobs)
        }
    }

    /// One transaction for the batch, one savepoint per append; answers come after the commit.
    private func commit(_ jobs: [Job]) async {
        let now = clock()
        let results: [Result<(export: Export, replayed: Bool), RegistryError>]
        do {
            results = try await perform { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.appendLock))", logger: self.logger)
                var results: [Result<(export: Export, replayed: Bool), RegistryError>] = []
                for job in jobs {
                    try await connection.query("SAVEPOINT append", logger: self.logger)
                    do {
                        if let stored = try await self.insertAssumingNewExport(job.request, now: now, connection: connection) {
                            results.append(.success((stored, false)))
                        } else {
                            results.append(.success(try await self.apply(job.request, now: now, connection: connection)))
                        }
                        try await connection.query("RELEASE SAVEPOINT append", logger: self.logger)
                    } catch {
                        try await connection.query("ROLLBACK TO SAVEPOINT append", logger: self.logger)
                        try await connection.query("RELEASE SAVEPOINT append", logger: self.logger)
                        results.append(.failure(Self.registryError(error)))
                    }
                }
                return results
            }
        } catch {
            for job in jobs { job.continuation.resume(throwing: error) }
            return
        }
        for (job, result) in zip(jobs, results) {
            job.continuation.resume(with: result.mapError { $0 as any Error })
        }
    }

    /// A new export's publish decided against an empty state and written without
    /// reading first; nil, with nothing written (back at the append's savepoint), when a
    /// unique key shows the state was not empty, or when the append is not such a
    /// publish. Each statement is a round trip, so this takes one where reading first
    /// and then writing takes four.
    private func insertAssumingNewExport(_ request: AppendRequest, now: Int64, connection: PostgresConnection) async throws -> Export? {
        guard let (export, effects) = request.decidedAsNewExport(now: now) else { return nil }
        do {
            try await write(export, effects, now: now, isNew: true, connection: connection)
            return export
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            try await connection.query("ROLLBACK TO SAVEPOINT append", logger: logger)
            return nil
        }
    }

    /// One append inside the batch's transaction: reads what it asks for, decides, writes.
    private func apply(_ request: AppendRequest, now: Int64, connection: PostgresConnection) async throws -> (export: Export, replayed: Bool) {
        if let nonce = request.nonce {
            let used = try await connection.query(
                "SELECT 1 FROM override_nonces WHERE tenant_id = \(request.tenantID) AND key_id = \(nonce.keyID) AND nonce = \(nonce.nonce)",
                logger: logger
            ).collect()
            if !used.isEmpty { throw RegistryError.nonceReplayed(keyID: nonce.keyID, nonce: nonce.nonce) }
        }
        var current: Export?
        for try await body in try await connection.query(
            """
            SELECT v.body FROM exports_latest l JOIN export_versions v ON v.seq = l.seq
            WHERE l.tenant_id = \(request.tenantID) AND l.export_id = \(request.exportID)
            """, logger: self.logger
        ).decode(ByteBuffer.self) {
            current = try self.decode(body)
        }
        var liveExportID: String?
        if let live = request.liveKey {
            for try await id in try await connection.query(
                """
                SELECT export_id FROM exports_latest
                WHERE tenant_id = \(request.tenantID) AND order_id = \(live.orderID) AND kind = \(Int32(live.kind.rawValue))
                  AND shipment = \(live.shipment) AND live
                """, logger: self.logger
            ).decode(String.self) {
                liveExportID = id
            }
        }
        var idempotent: IdempotencyRecord?
        if let key = request.idempotencyKey {
            idempotent = try await idempotencyRecord(connection, tenantID: request.tenantID, key: key)
        }
        switch try request.decide(AppendContext(current: current, liveExportID: liveExportID, idempotent: idempotent, now: now)) {
        case .replay(let exportID, let version):
            for try await body in try await connection.query(
                "SELECT body FROM export_versions WHERE tenant_id = \(request.tenantID) AND export_id = \(exportID) AND version = \(version)",
                logger: self.logger
            ).decode(ByteBuffer.self) {
                return (try self.decode(body), true)
            }
            throw RegistryError.storage("the idempotent result \(exportID) v\(version) is missing")
        case .store(let export, let effects):
            if let nonce = request.nonce {
                try await connection.query(
                    "INSERT INTO override_nonces (tenant_id, key_id, nonce, used_at) VALUES (\(request.tenantID), \(nonce.keyID), \(nonce.nonce), \(now))",
                    logger: logger)
            }
            do {
                try await write(export, effects, now: now, isNew: false, connection: connection)
            } catch let error as PSQLError where error.serverInfo?[.constraintName] == "exports_live_shipment" {
                // The version would make a second export live for its order, kind and shipment.
                throw RegistryError.conflict(LiveKey(export).conflictMessage)
            }
            return (export, false)
        }
    }

    /// Writes a decided version and its side effects (the latest-version row, the
    /// idempotency record, outbox reports) in one statement of data-modifying CTEs: each
    /// statement is a round trip. `isNew`: the latest-version row is inserted rather than
    /// replaced, so an existing export fails its unique key.
    private func write(_ export: Export, _ effects: AppendSideEffects, now: Int64, isNew: Bool, connection: PostgresConnection) async throws {
        var binds = PostgresBindings()
        func bind<Value: PostgresDynamicTypeEncodable>(_ value: Value) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        let (tenant, id, version) = (bind(export.tenantID), bind(export.exportID), bind(export.version))
        let body = try StoredExportSize.check(export.serializedBytes(), of: export)
        var sql = """
            WITH version AS (
                INSERT INTO export_versions (tenant_id, export_id, version, body)
                VALUES (\(tenant), \(id), \(version), \(bind(ByteBuffer(bytes: body)))) RETURNING seq
            ), latest AS (
                INSERT INTO exports_latest (tenant_id, export_id, version, seq, order_id, kind, shipment, state, owner, live, expires_at, ship_by)
                SELECT \(tenant), \(id), \(version), seq, \(bind(export.orderID)), \(bind(Int32(export.kind.rawValue))),
                    \(bind(LiveKey(export).shipment)), \(bind(Int32(export.state.rawValue))), \(bind(export.owningParty?.text ?? "")),
                    \(bind(!export.state.endsExport)), \(bind(export.expiresAtUnixMs)),
                    \(bind(export.sla?.shipByUnixMs ?? 0))
                FROM version
            """
        if !isNew {
            sql += """

                ON CONFLICT (tenant_id, export_id) DO UPDATE SET
                    version = excluded.version, seq = excluded.seq, order_id = excluded.order_id, kind = excluded.kind,
                    shipment = excluded.shipment, state = excluded.state, owner = excluded.owner, live = excluded.live,
                    expires_at = excluded.expires_at, ship_by = excluded.ship_by
                """
        }
        sql += "\n)"
        if let idempotency = effects.idempotency {
            sql += """
                , idempotency AS (
                    INSERT INTO idempotency (tenant_id, key, request_hash, export_id, version)
                    VALUES (\(tenant), \(bind(idempotency.key)), \(bind(ByteBuffer(bytes: idempotency.requestHash))), \(id), \(version))
                )
                """
        }
        if !effects.outbox.isEmpty {
            let due = bind(now)
            let traceparent: String
            if let value = effects.traceparent {
                traceparent = bind(value)
            } else {
                binds.appendNull()
                traceparent = "$\(binds.count)"
            }
            let rows = effects.outbox.map { "(\(bind(ByteBuffer(bytes: $0.serializedBytes()))), \(due), \(traceparent)::text)" }
            sql += """
                , outbox AS (
                    INSERT INTO outbox (report, next_attempt_at, traceparent) VALUES \(rows.joined(separator: ", "))
                )
                """
        }
        sql += "\nSELECT seq FROM version"
        // Read to the end: a failure after the first row arrives with the rows.
        _ = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).collect()
    }

    // MARK: Reads

    private func bodies(_ query: PostgresQuery) async throws(RegistryError) -> [Export] {
        try await read { connection in
            var exports: [Export] = []
            for try await body in try await connection.query(query, logger: self.logger).decode(ByteBuffer.self) {
                exports.append(try self.decode(body))
            }
            return exports
        }
    }

    private func commitRows(_ query: PostgresQuery) async throws(RegistryError) -> [Commit] {
        try await read { connection in
            var commits: [Commit] = []
            for try await (seq, body) in try await connection.query(query, logger: self.logger).decode((Int64, ByteBuffer).self) {
                commits.append(Commit(sequence: seq, export: try self.decode(body)))
            }
            return commits
        }
    }

    public func export(tenantID: String, exportID: String, version: Int64?) async throws(RegistryError) -> Export? {
        if let version {
            return try await bodies("SELECT body FROM export_versions WHERE tenant_id = \(tenantID) AND export_id = \(exportID) AND version = \(version)").first
        }
        return try await bodies(
            """
            SELECT v.body FROM exports_latest l JOIN export_versions v ON v.seq = l.seq
            WHERE l.tenant_id = \(tenantID) AND l.export_id = \(exportID)
            """
        ).first
    }

    public func history(tenantID: String, exportID: String) async throws(RegistryError) -> [Export] {
        try await bodies("SELECT body FROM export_versions WHERE tenant_id = \(tenantID) AND export_id = \(exportID) ORDER BY version")
    }

    public func list(tenantID: String, filter: ExportFilter, after cursor: String?, limit: Int) async throws(RegistryError) -> [Export] {
        // NULL parameters switch a condition off.
        let kind = filter.kind.map { Int32($0.rawValue) }
        let state = filter.state.map { Int32($0.rawValue) }
        return try await bodies(
            """
            SELECT v.body FROM exports_latest l JOIN export_versions v ON v.seq = l.seq
            WHERE l.tenant_id = \(tenantID)
              AND (\(filter.owner)::TEXT IS NULL OR l.owner = \(filter.owner))
              AND (\(state)::INTEGER IS NULL OR l.state = \(state))
              AND (\(filter.orderID)::TEXT IS NULL OR l.order_id = \(filter.orderID))
              AND (\(kind)::INTEGER IS NULL OR l.kind = \(kind))
              AND (\(cursor)::TEXT IS NULL OR l.export_id COLLATE "C" > \(cursor))
            ORDER BY l.export_id COLLATE "C" LIMIT \(limit)
            """)
    }

    public func commits(tenantID: String, after sequence: Int64, limit: Int) async throws(RegistryError) -> [Commit] {
        try await commitRows("SELECT seq, body FROM export_versions WHERE tenant_id = \(tenantID) AND seq > \(sequence) ORDER BY seq LIMIT \(limit)")
    }

    public func idempotencyRecord(tenantID: String, key: String) async throws(RegistryError) -> IdempotencyRecord? {
        try await read { connection in try await self.idempotencyRecord(connection, tenantID: tenantID, key: key) }
    }

    /// What an earlier publish with this idempotency key stored, read on `connection`
    /// (inside an append's transaction, or on its own).
    private func idempotencyRecord(_ connection: PostgresConnection, tenantID: String, key: String) async throws -> IdempotencyRecord? {
        for try await (hash, exportID, version) in try await connection.query(
            "SELECT request_hash, export_id, version FROM idempotency WHERE tenant_id = \(tenantID) AND key = \(key)", logger: logger
        ).decode((ByteBuffer, String, Int64).self) {
            return IdempotencyRecord(requestHash: Array(hash.readableBytesView), exportID: exportID, version: version)
        }
        return nil
    }

    public func lastSequence() async throws(RegistryError) -> Int64 {
        try await read { connection in
            for try await value in try await connection.query("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM export_versions", logger: self.logger).decode(Int64.self) {
                return value
            }
            return 0
        }
    }

    public func expired(now: Int64, limit: Int) async throws(RegistryError) -> [Export] {
        try await bodies(
            """
            SELECT v.body FROM exports_latest l JOIN export_versions v ON v.seq = l.seq
            WHERE l.state = \(Int32(ExportState.published.rawValue)) AND l.expires_at > 0 AND l.expires_at <= \(now)
            ORDER BY l.expires_at LIMIT \(limit)
            """)
    }

    public func routingExports(tenantID: String, shipByFrom from: Int64, to: Int64, after cursor: ShipByCursor?, limit: Int) async throws(RegistryError) -> [Export] {
        // A page starts at the cursor's ship-by (the ship-by index's range), so paging reads the range once.
        let start = cursor.map { max(from, $0.shipBy) } ?? from
        let cursorShipBy = cursor?.shipBy, cursorID = cursor?.exportID
        return try await bodies(
            """
            SELECT v.body FROM exports_latest l JOIN export_versions v ON v.seq = l.seq
            WHERE l.tenant_id = \(tenantID) AND l.kind = \(Int32(ExportKind.routing.rawValue)) AND l.ship_by >= \(start) AND l.ship_by < \(to)
              AND (\(cursorID)::TEXT IS NULL OR l.ship_by > \(cursorShipBy) OR l.export_id COLLATE "C" > \(cursorID))
            ORDER BY l.ship_by, l.export_id COLLATE "C" LIMIT \(limit)
            """)
    }

    public func allVersions(after sequence: Int64, limit: Int) async throws(RegistryError) -> [Commit] {
        try await commitRows("SELECT seq, body FROM export_versions WHERE seq > \(sequence) ORDER BY seq LIMIT \(limit)")
    }

    public func pendingReports(now: Int64, limit: Int) async throws(RegistryError) -> [OutboxItem] {
        try await perform { connection in
            var items: [OutboxItem] = []
            // Claimed for a 30-second lease: with several replicas, each report is sent by
            // one of them at a time; a replica that dies mid-delivery frees it when the lease ends.
            let lease = now + 30_000
            for try await (id, report, attempts, traceparent) in try await connection.query(
                """
                UPDATE outbox SET next_attempt_at = \(lease)
                WHERE id IN (SELECT id FROM outbox WHERE next_attempt_at <= \(now) ORDER BY id LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                RETURNING id, report, attempts, traceparent
                """, logger: self.logger
            ).decode((Int64, ByteBuffer, Int32, String?).self) {
                let request = Result { () throws(ProtoDecodingError) in try ReportRequest(serializedBytes: report.readableBytesView) }
                items.append(OutboxItem(id: id, report: request, attempts: Int(attempts), traceparent: traceparent))
            }
            // RETURNING gives the rows in no particular order: oldest first, as on SQLite.
            return items.sorted { $0.id < $1.id }
        }
    }

    public func reportDelivered(_ id: Int64) async throws(RegistryError) {
        _ = try await perform { connection in
            try await connection.query("DELETE FROM outbox WHERE id = \(id)", logger: self.logger)
        }
    }

    public func reportFailed(_ id: Int64, retryAt: Int64) async throws(RegistryError) {
        _ = try await perform { connection in
            try await connection.query("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = \(retryAt) WHERE id = \(id)", logger: self.logger)
        }
    }

    public func outboxCount() async throws(RegistryError) -> Int {
        try await read { connection in
            for try await count in try await connection.query("SELECT COUNT(*)::BIGINT FROM outbox", logger: self.logger).decode(Int64.self) {
                return Int(count)
            }
            return 0
        }
    }

    public func close() async {
        // Refuse new appends and commit what is queued; the connection pool stops with ``run()``.
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let idle = queue.withLock { state in
                state.closing = true
                if state.running { state.drained.append(waiter) }
                return !state.running
            }
            if idle { waiter.resume() }
        }
    }
}
