import Foundation
import GRDB
@testable import MeshlineExceptions
import Testing

@Suite struct SQLiteCaseStoreTests {
    /// GRDB's pool switches its writer to `synchronous = NORMAL` when it opens WAL mode,
    /// under which a commit reaches the disk only at the next checkpoint; a stored case
    /// change must be on disk when it is answered, so the writer must be back at FULL.
    @Test func theWriterSyncsEveryCommit() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshline-sync-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteCaseStore(path: directory.appendingPathComponent("router.sqlite").path)
        let synchronous = try await store.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(synchronous == 2)
        await store.close()
    }
}
