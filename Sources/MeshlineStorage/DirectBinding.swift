public import GRDB
import GRDBSQLite

/// A value bound by position in ``GRDB/Statement/executeDirect(_:)``.
public enum BoundValue: Sendable {
    case text(String)
    case integer(Int64)
    case blob([UInt8])
    case null
}

extension Statement {
    /// Executes this statement (one that returns no rows, e.g. an INSERT from
    /// `cachedStatement`) with `values` bound by position, straight through SQLite's C API.
    ///
    /// `execute(arguments:)` builds a `StatementArguments` of boxed database values,
    /// validates it against the statement and tells GRDB's transaction observers about
    /// each run; on a store's single writer thread, where every insert of every append
    /// runs, that took about a tenth of the thread's time. So GRDB does not see these
    /// runs: use it only on connections without GRDB observers (the stores have none),
    /// and not for transaction or savepoint statements, whose state GRDB keeps. Errors
    /// are GRDB's `DatabaseError`s with SQLite's extended result code, as
    /// `execute(arguments:)` throws them.
    public func executeDirect(_ values: [BoundValue]) throws {
        let statement = sqliteStatement
        let parameters = Int(sqlite3_bind_parameter_count(statement))
        guard values.count == parameters else {
            throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "\(values.count) values for \(parameters) parameters", sql: sql)
        }
        sqlite3_reset(statement)
        // The bound text and blobs point into `values` (no copies), so they are cleared
        // before this returns, and GRDB's own runs of this cached statement start clean.
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        let code = try bind(values[...], from: 1) { sqlite3_step(statement) }
        guard code == SQLITE_DONE else { throw failure(code) }
    }

    /// Binds `values` from parameter `index` on, each text and blob only for as long
    /// as its storage is pinned (one nested closure per value), then runs `body`.
    private func bind(_ values: ArraySlice<BoundValue>, from index: CInt, then body: () -> CInt) throws -> CInt {
        guard let value = values.first else { return body() }
        let statement = sqliteStatement
        let rest = values.dropFirst()
        func checked(_ code: CInt) throws -> CInt {
            guard code == SQLITE_OK else { throw failure(code) }
            return try bind(rest, from: index + 1, then: body)
        }
        switch value {
        case .text(var text):
            return try text.withUTF8 { try checked(sqlite3_bind_text(statement, index, $0.baseAddress, CInt($0.count), nil)) }
        case .integer(let integer):
            return try checked(sqlite3_bind_int64(statement, index, integer))
        case .blob(let bytes) where bytes.isEmpty:
            // An empty buffer may have no address, which SQLite would bind as NULL.
            return try checked(sqlite3_bind_zeroblob(statement, index, 0))
        case .blob(let bytes):
            return try bytes.withUnsafeBytes { try checked(sqlite3_bind_blob(statement, index, $0.baseAddress, CInt($0.count), nil)) }
        case .null:
            return try checked(sqlite3_bind_null(statement, index))
        }
    }

    private func failure(_ code: CInt) -> DatabaseError {
        let connection = sqlite3_db_handle(sqliteStatement)
        let extended = connection.map { sqlite3_extended_errcode($0) } ?? code
        let message = connection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        return DatabaseError(resultCode: ResultCode(rawValue: extended), message: message, sql: sql)
    }
}
