import Foundation
public import GRDB
public import Logging
public import PostgresNIO

/// What the registry's and the router's stores share about reaching their database.
public enum PostgresURL {
    /// The client configuration for `postgres://USER:PASSWORD@HOST:PORT/DATABASE`
    /// (`postgresql://` too); `schema` puts the tables in that schema instead of the
    /// user's default one. Nil when `url` is not such a URL.
    public static func configuration(_ url: String, schema: String? = nil) -> PostgresClient.Configuration? {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, let user = components.user
        else { return nil }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user, password: components.password,
            database: database.isEmpty ? nil : database, tls: .disable)
        if let schema {
            configuration.options.additionalStartupParameters = [("search_path", schema)]
        }
        return configuration
    }

    /// `url` without its password, for messages and logs: what lies between the first
    /// `:` of the user information and its last `@` (a password may hold `@`, `#`, `%`
    /// or spaces, so URL parsing cannot be trusted to find it).
    public static func redacted(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://"), let at = url.range(of: "@", options: .backwards),
            schemeEnd.upperBound <= at.lowerBound,
            let colon = url[schemeEnd.upperBound..<at.lowerBound].firstIndex(of: ":")
        else { return url }
        return url[..<url.index(after: colon)] + "***" + url[at.lowerBound...]
    }

    /// What to say when `url` is not a PostgreSQL URL.
    public static func malformed(_ url: String) -> String {
        "'\(redacted(url))' is not postgres://USER:PASSWORD@HOST:PORT/DATABASE"
    }
}

public enum SQLiteSetup {
    /// Opens (creating if needed) a WAL database for durable group commits: every
    /// commit is on disk when it returns (`synchronous = FULL`: the WAL is synced at
    /// each commit), and the savepoint journal of each append in a group stays in
    /// memory instead of temporary files written page by page. `extra` pragmas follow
    /// on every connection, e.g. a store's checkpoint interval.
    public static func openDurablePool(path: String, extra: [String] = []) throws -> DatabasePool {
        var configuration = Configuration()
        // Wait for a lock another connection holds briefly instead of failing the whole
        // group commit with SQLITE_BUSY (GRDB's default): a batch's BEGIN IMMEDIATE was
        // refused once under load (cause not confirmed: readers do not block a writer in
        // WAL mode; a checkpoint or WAL recovery by another connection can).
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            for pragma in extra { try db.execute(sql: pragma) }
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        // Only now: opening the pool switches its writer to WAL mode and, with it, to
        // `synchronous = NORMAL`, which syncs at checkpoints only (a commit could be lost
        // to a power cut after it was answered). The setting belongs to the connection,
        // and the pool keeps its one writer connection open.
        let synchronous = try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            return try Int.fetchOne(db, sql: "PRAGMA synchronous")
        }
        guard synchronous == 2 else {
            throw DatabaseError(message: "SQLite did not accept synchronous = FULL (it reports \(synchronous.map(String.init) ?? "nothing"))")
        }
        return pool
    }

    /// Checkpoints the whole WAL into the database file and truncates it (at close),
    /// unless another connection is using the file: a TRUNCATE checkpoint waiting out
    /// the busy timeout would hold up that connection's writes meanwhile (a running
    /// registry, while `meshline verify --data-dir` opens and closes the same file).
    public static func checkpointIfIdle(_ db: Database) throws {
        try db.execute(sql: "PRAGMA busy_timeout = 0")
        try db.checkpoint(.truncate)
    }

    /// What to say when a group commit failed as a whole.
    public static func commitFailed(_ error: any Error) -> String {
        "the commit failed: \(error); check free disk space and permissions of the data directory"
    }

    /// What to say when the database at `path` cannot be opened.
    public static func cannotOpen(_ path: String, _ error: any Error) -> String {
        "cannot open \(path): \(error); check that the data directory exists and is writable"
    }
}

/// One step of a PostgreSQL schema, applied by every replica at start under an advisory lock.
public enum SchemaStep: Sendable {
    /// An idempotent statement (`CREATE … IF NOT EXISTS`).
    case statement(String)
    /// An upgrade of a database made by an earlier version, run only while `column` is missing
    /// from `table`: `ALTER TABLE` takes the table's strongest lock even when it has nothing to do.
    case whenColumnMissing(table: String, column: String, [String])
}

extension PostgresConnection {
    /// Applies `steps` in order; returns whether any upgrade ran.
    @discardableResult
    public func apply(_ steps: [SchemaStep], logger: Logger) async throws -> Bool {
        var upgraded = false
        for step in steps {
            switch step {
            case .statement(let sql):
                try await query(PostgresQuery(unsafeSQL: sql), logger: logger)
            case .whenColumnMissing(let table, let column, let statements):
                let rows = try await query(
                    """
                    SELECT 1 FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name = \(table) AND column_name = \(column)
                    """, logger: logger
                ).collect()
                guard rows.isEmpty else { continue }
                for sql in statements { try await query(PostgresQuery(unsafeSQL: sql), logger: logger) }
                upgraded = true
            }
        }
        return upgraded
    }
}

extension Database {
    /// Runs `body` in a savepoint of its own inside the current transaction, undone if
    /// it throws: one change of a group commit, which a refused change never undoes.
    /// The savepoint statements are prepared once per connection (GRDB's `inSavepoint`
    /// prepares them on every call, a cost paid per change under load).
    public func inCachedSavepoint<T>(_ body: () throws -> T) throws -> T {
        try cachedStatement(sql: "SAVEPOINT change").execute()
        do {
            let result = try body()
            try cachedStatement(sql: "RELEASE SAVEPOINT change").execute()
            return result
        } catch {
            try cachedStatement(sql: "ROLLBACK TO SAVEPOINT change").execute()
            try cachedStatement(sql: "RELEASE SAVEPOINT change").execute()
            throw error
        }
    }
}
