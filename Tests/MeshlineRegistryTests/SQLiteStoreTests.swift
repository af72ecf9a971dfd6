import Foundation
import GRDB
import MeshlineModels
@testable import MeshlineRegistry
import Synchronization
import Testing

@Suite struct SQLiteStoreTests {
    /// GRDB's pool switches its writer to `synchronous = NORMAL` when it opens WAL mode,
    /// under which a commit reaches the disk only at the next checkpoint; an answered
    /// publish must be on disk, so the store's writer must be back at FULL.
    @Test func theWriterSyncsEveryCommit() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshline-sync-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteRegistryStore(path: directory.appendingPathComponent("registry.sqlite").path)
        let synchronous = try await store.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(synchronous == 2)
        await store.close()
    }

    /// SQLite undoes a whole transaction on some errors (disk full, I/O, out of memory).
    /// A batch must then fail as a whole: its earlier appends are gone, and a later
    /// append's savepoint must not start and commit a transaction of its own (plain
    /// SQLite does exactly that; GRDB refuses statements once its transaction is gone,
    /// which is why the savepoints must stay GRDB's). So an append answered OK is on
    /// disk, and one answered with an error is not.
    @Test func aBatchThatLosesItsTransactionFailsAsAWhole() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshline-full-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let clock = TestClock()
        let store = try SQLiteRegistryStore(path: directory.appendingPathComponent("registry.sqlite").path, clock: { clock.now })
        // Room for a few exports more than the empty database: the batch fills the disk halfway.
        try await store.pool.writeWithoutTransaction { db in
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            try db.execute(sql: "PRAGMA max_page_count = \(pages + 4)")
        }
        let outcomes = try await StorageContractTests.whileCommitsAreHeld(store, now: clock.now) {
            await withTaskGroup(of: (String, Bool).self) { group in
                for index in 0..<40 {
                    group.addTask {
                        var export = StorageContractTests.export("full-\(index)", now: clock.now)
                        // Large and small ones, so that small ones could still fit after a large one filled the disk.
                        export.lines = (0..<(index % 2 == 0 ? 100 : 1)).map { ExportLine(sku: "SKU-\(index)-\($0)", quantity: 1) }
                        let stored = (try? await store.append(StorageContractTests.create(export))) != nil
                        return (export.exportID, stored)
                    }
                }
                return await group.reduce(into: [(String, Bool)]()) { $0.append($1) }
            }
        }
        #expect(outcomes.contains { !$0.1 }, "the disk never filled; the test needs a smaller max_page_count")
        for (exportID, answeredOK) in outcomes {
            let onDisk = try await store.export(tenantID: "acme", exportID: exportID, version: nil) != nil
            #expect(onDisk == answeredOK, "\(exportID): answered \(answeredOK ? "OK" : "with an error") but \(onDisk ? "stored" : "not stored")")
        }
        await store.close()
    }

    /// The cache Gets are answered from: the newest version of each of the last
    /// `capacity` exports written, the export first written longest ago out first.
    @Test func recentExportsKeepTheLatestVersionsOfTheLastExportsWritten() {
        let cache = RecentExports(capacity: 3)
        func export(_ id: String, _ version: Int64, tenant: String = "acme") -> Export {
            Export(exportID: id, tenantID: tenant, version: version)
        }
        for id in ["a", "b", "c"] { cache.put(export(id, 1)) }
        cache.put(export("a", 2))
        cache.put(export("a", 1, tenant: "other"))
        #expect(cache.get(tenantID: "acme", exportID: "a")?.version == nil)
        #expect(cache.get(tenantID: "other", exportID: "a")?.version == 1)
        #expect(cache.get(tenantID: "acme", exportID: "b")?.version == 1)
        cache.put(export("b", 2))
        cache.put(export("d", 1))
        #expect(cache.get(tenantID: "acme", exportID: "b") == nil)
        #expect(cache.get(tenantID: "acme", exportID: "c")?.version == 1)
        #expect(cache.get(tenantID: "acme", exportID: "d")?.version == 1)
        #expect(cache.get(tenantID: "other", exportID: "a")?.version == 1)
        #expect(cache.get(tenantID: "acme", exportID: "x") == nil)
        // A removed entry is gone at once; its empty slot is the next to be reused.
        cache.remove(export("c", 1))
        #expect(cache.get(tenantID: "acme", exportID: "c") == nil)
        cache.put(export("e", 1))
        cache.put(export("f", 1))
        #expect(cache.get(tenantID: "acme", exportID: "d")?.version == 1)
        #expect(cache.get(tenantID: "acme", exportID: "e")?.version == 1)
        #expect(cache.get(tenantID: "acme", exportID: "f")?.version == 1)
        #expect(cache.get(tenantID: "other", exportID: "a") == nil)
    }

    /// Databases written by earlier releases open with everything they held, and keep
    /// enforcing the registry's unique keys after the schema has changed under them.
    @Test func aDatabaseFromBeforeTheClusteredTablesKeepsItsExportsAndKeys() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshline-migration-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("registry.sqlite").path
        let clock = TestClock()
        let seen = StorageContractTests.Seen()
        let first = StorageContractTests.export("exp-1", order: "o", now: clock.now)
        let second = StorageContractTests.export("exp-2", order: "p", now: clock.now)

        let old = try SQLiteRegistryStore(path: path, clock: { clock.now }, migratingUpTo: "v3: one live export per shipment")
        _ = try await old.append(StorageContractTests.publishNew(first, key: "k-1", seen: seen))
        _ = try await old.append(StorageContractTests.publishNew(second, key: "k-2", seen: seen))
        await old.close()

        let store = try SQLiteRegistryStore(path: path, clock: { clock.now })
        #expect(try await store.list(tenantID: "acme", filter: ExportFilter(), after: nil, limit: 10) == [first, second])
        #expect(try await store.list(tenantID: "acme", filter: ExportFilter(orderID: "p"), after: nil, limit: 10) == [second])
        #expect(try await store.routingExports(tenantID: "acme", shipByFrom: 0, to: .max, after: nil, limit: 10).count == 2)
        let replay = try await store.append(StorageContractTests.publishNew(StorageContractTests.export("exp-9", order: "q", now: clock.now), key: "k-2", seen: seen))
        #expect(replay.replayed && replay.export == second)
        await #expect(throws: RegistryError.self) {
            _ = try await store.append(StorageContractTests.publishNew(StorageContractTests.export("exp-3", order: "o", now: clock.now), key: "k-3", seen: seen))
        }
        #expect(seen.entries.withLock { $0 } == ["idempotent exp-2", "live exp-1"])
        // The tables were rebuilt with every index and without their rowid.
        let schema = try await store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT name, sql FROM sqlite_master WHERE tbl_name IN ('exports_latest', 'idempotency')")
                .map { (name: $0["name"] as String, sql: ($0["sql"] as String?) ?? "") }
        }
        let names = Set(schema.map(\.name))
        #expect(names.isSuperset(of: ["exports_latest", "idempotency", "exports_live_shipment", "exports_expiry", "exports_ship_by"]))
        #expect(schema.filter { ["exports_latest", "idempotency"].contains($0.name) }.allSatisfy { $0.sql.contains("WITHOUT ROWID") })
        await store.close()
    }
}
