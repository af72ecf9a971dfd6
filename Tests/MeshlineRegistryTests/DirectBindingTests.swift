import Foundation
import GRDB
import MeshlineStorage
import Testing

/// The stores' inserts bind their values through SQLite's C API (`executeDirect`):
/// every kind of value must reach the row as GRDB would have written it, failures
/// must be GRDB's errors with SQLite's codes, and the statement must stay usable.
@Suite struct DirectBindingTests {
    let queue: DatabaseQueue

    init() throws {
        queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER, b BLOB, x TEXT)")
        }
    }

    @Test func everyKindOfValueIsStoredAsBound() throws {
        let text = "Zoë's order – 東京"
        try queue.write { db in
            let insert = try db.cachedStatement(sql: "INSERT INTO t (id, n, b, x) VALUES (?, ?, ?, ?)")
            try insert.executeDirect([.text(text), .integer(.min), .blob([0, 1, 0, 255]), .null])
            try insert.executeDirect([.text("empty"), .integer(.max), .blob([]), .text("")])
        }
        try queue.read { db in
            let first = try #require(try Row.fetchOne(db, sql: "SELECT id, n, b, x, typeof(b) AS bt, typeof(x) AS xt FROM t WHERE n < 0"))
            #expect(first["id"] as String == text)
            #expect(first["n"] as Int64 == .min)
            #expect(first["b"] as Data == Data([0, 1, 0, 255]))
            #expect(first["xt"] as String == "null")
            let second = try #require(try Row.fetchOne(db, sql: "SELECT n, b, x, typeof(b) AS bt, typeof(x) AS xt FROM t WHERE id = 'empty'"))
            #expect(second["n"] as Int64 == .max)
            // An empty blob stays a blob (a buffer without an address must not become NULL).
            #expect(second["bt"] as String == "blob")
            #expect(second["xt"] as String == "text")
        }
    }

    @Test func aRefusedInsertThrowsSQLitesCodeAndTheStatementStaysUsable() throws {
        try queue.write { db in
            let insert = try db.cachedStatement(sql: "INSERT INTO t (id, n, b, x) VALUES (?, ?, ?, ?)")
            try insert.executeDirect([.text("a"), .integer(1), .null, .null])
            let error = #expect(throws: DatabaseError.self) {
                try insert.executeDirect([.text("a"), .integer(2), .null, .null])
            }
            #expect(error?.resultCode == .SQLITE_CONSTRAINT)
            #expect(error?.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY)
            try insert.executeDirect([.text("b"), .integer(3), .null, .null])
            // GRDB's own runs of the same cached statement see none of the earlier bindings.
            try db.cachedStatement(sql: "INSERT INTO t (id, n, b, x) VALUES (?, ?, ?, ?)").execute(arguments: ["c", 4, nil, nil])
        }
        let rows = try queue.read { db in try Row.fetchAll(db, sql: "SELECT id, n FROM t ORDER BY id") }
        #expect(rows.map { $0["id"] as String } == ["a", "b", "c"])
        #expect(rows.map { $0["n"] as Int64 } == [1, 3, 4])
    }

    @Test func theWrongNumberOfValuesIsRefusedBeforeAnythingRuns() throws {
        try queue.write { db in
            let insert = try db.cachedStatement(sql: "INSERT INTO t (id, n) VALUES (?, ?)")
            #expect(throws: DatabaseError.self) { try insert.executeDirect([.text("a")]) }
            #expect(throws: DatabaseError.self) { try insert.executeDirect([.text("a"), .integer(1), .integer(2)]) }
        }
        #expect(try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM t") } == 0)
    }
}
