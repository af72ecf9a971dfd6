import Foundation
import GRDB
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import MeshlineRegistry
import Synchronization
import MeshlineTestSupport
import Testing

/// The real `meshline-registry` process: killed with SIGKILL under load, restarted,
/// and checked with `meshline verify`.
@Suite(.serialized) struct DurabilityTests {
    static func registry(_ dataDirectory: URL) throws -> ServiceProcess {
        try ServiceProcess("meshline-registry", ["--listen", "127.0.0.1:0", "--data-dir", dataDirectory.path, "--threads", "1", "--log-level", "info"])
    }

    static func runVerify(_ dataDirectory: URL) async throws -> (status: Int32, output: String) {
        let outcome = try await Binaries.run("meshline", ["verify", "--data-dir", dataDirectory.path])
        return (outcome.status, outcome.stdout + outcome.stderr)
    }

    @Test func nothingAcknowledgedIsLostToAKill9() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("meshline-durability-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: data) }
        let first = try Self.registry(data)
        let client = try RPCClient(endpoints: ["127.0.0.1:\(first.port)"])
        let acknowledged = Acknowledged()
        let now = UnixTime.nowMilliseconds()
        // Publishers run until the process dies under them.
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        var index = 0
                        while !Task.isCancelled {
                            let id = "exp-\(worker)-\(index)"
                            index += 1
                            let request = PublishRequest(tenantID: "acme", export: TestRegistry.export(id, now: now), idempotencyKey: id)
                            do {
                                let _: PublishResponse = try await client.unary(ExportRegistryDescriptor.publish, request, timeout: .seconds(5))
                                acknowledged.add(id)
                            } catch {
                                if acknowledged.count > 0 { return }  // the registry is gone
                            }
                        }
                    }
                }
            }
        }
        while acknowledged.count < 300 { try await Task.sleep(for: .milliseconds(10)) }
        first.kill9()
        load.cancel()
        await load.value
        await client.close()
        let published = acknowledged.all

        let second = try Self.registry(data)
        let reader = try RPCClient(endpoints: ["127.0.0.1:\(second.port)"])
        var missing: [String] = []
        for id in published {
            do {
                let response: GetExportResponse = try await reader.unary(ExportRegistryDescriptor.get, GetExportRequest(tenantID: "acme", exportID: id))
                #expect(response.export?.version == 1 && AuditChain.verify(response.export!).isEmpty)
            } catch {
                missing.append(id)
            }
        }
        #expect(missing.isEmpty, "\(missing.count) of \(published.count) acknowledged exports were lost: \(missing.prefix(5))")
        await reader.close()
        let remote = try await Binaries.run("meshline", ["verify", "--registry", second.endpoint, "--tenant", "acme"])
        // At least every acknowledged export is there (a publish cut by the kill may be too).
        #expect(remote.status == 0 && remote.stdout.contains("every audit chain intact"), "\(remote.stdout)\(remote.stderr)")
        #expect(second.stop() == 0, "SIGTERM must drain and exit 0")

        let verify = try await Self.runVerify(data)
        #expect(verify.status == 0, "\(verify.output)")
        #expect(verify.output.contains("every audit chain intact"))
    }

    @Test func verifyNamesATamperedEntry() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("meshline-tamper-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: data) }
        let path = data.appendingPathComponent("registry.sqlite").path
        let store = try SQLiteRegistryStore(path: path)
        let service = ExportRegistryService(store: store, tenants: TenantDirectory())
        let now = UnixTime.nowMilliseconds()
        _ = try await store.append(AppendRequest(tenantID: "acme", exportID: "exp-t") { (state: AppendContext) throws(RegistryError) -> AppendPlan in
            var export = TestRegistry.export("exp-t", now: now)
            export.version = 1
            export.state = .published
            export.auditTrail = [AuditChain.seal(AuditEntry(atUnixMs: state.now, actor: "test", change: "published v1", version: 1), after: nil, tenantID: "acme", exportID: "exp-t")]
            return .store(export, sideEffects: AppendSideEffects())
        })
        _ = service
        await store.close()
        #expect(try await Self.runVerify(data).status == 0)

        // Rewrite history behind the registry's back.
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            let body = try Data.fetchOne(db, sql: "SELECT body FROM export_versions WHERE export_id = 'exp-t'")!
            var export = try Export(serializedBytes: [UInt8](body))
            export.auditTrail[0].change = "published v1 (edited)"
            try db.execute(sql: "UPDATE export_versions SET body = ? WHERE export_id = 'exp-t'", arguments: [Data(export.serializedBytes())])
        }
        try queue.close()
        let verify = try await Self.runVerify(data)
        #expect(verify.status == 1)
        #expect(verify.output.contains("BROKEN acme/exp-t v1: audit entry 1 does not match its hash"), "\(verify.output)")
    }

    /// A small tmpfs mounted on a fresh directory (root only), so that the disk can really fill up.
    static func mountSmallDisk(megabytes: Int) -> URL? {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meshline-full-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", directory.path]
        mount.standardError = FileHandle.nullDevice
        guard (try? mount.run()) != nil else { return nil }
        mount.waitUntilExit()
        return mount.terminationStatus == 0 ? directory : nil
    }

    static let canMountTmpfs: Bool = {
        guard let probe = mountSmallDisk(megabytes: 1) else { return false }
        unmount(probe)
        return true
    }()

    static func unmount(_ directory: URL) {
        let umount = Process()
        umount.executableURL = URL(fileURLWithPath: "/bin/umount")
        umount.arguments = [directory.path]
        try? umount.run()
        umount.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }

    @Test(.enabled(if: canMountTmpfs, "needs root to mount a small tmpfs"))
    func aFullDiskGivesAClearErrorAndCorruptsNothing() async throws {
        let disk = try #require(Self.mountSmallDisk(megabytes: 3))
        defer { Self.unmount(disk) }
        let data = disk.appendingPathComponent("data")
        let registry = try Self.registry(data)
        // Leave a few hundred kilobytes free.
        let filler = disk.appendingPathComponent("filler")
        try Data(count: 2_600_000).write(to: filler)
        let client = try RPCClient(endpoints: [registry.endpoint])
        let now = UnixTime.nowMilliseconds()
        var acknowledged: [String] = []
        var refusal: RPCError?
        for index in 0..<500 {
            do {
                let _: PublishResponse = try await client.unary(
                    ExportRegistryDescriptor.publish, PublishRequest(tenantID: "acme", export: TestRegistry.export("exp-\(index)", now: now)))
                acknowledged.append("exp-\(index)")
            } catch {
                refusal = error
                break
            }
        }
        let error = try #require(refusal, "the disk never filled up")
        #expect(error.code == .unavailable && error.message.contains("disk is full") && error.message.contains("check free disk space"), "\(error)")
        #expect(!acknowledged.isEmpty)

        // Room again: the same process takes publishes again, without a restart.
        try FileManager.default.removeItem(at: filler)
        let _: PublishResponse = try await client.unary(
            ExportRegistryDescriptor.publish, PublishRequest(tenantID: "acme", export: TestRegistry.export("exp-after", now: now)))
        await client.close()
        #expect(registry.stop() == 0)

        let verify = try await Self.runVerify(data)
        #expect(verify.status == 0 && verify.output.contains("\(acknowledged.count + 1) versions of \(acknowledged.count + 1) exports, every audit chain intact"), "\(verify.output)")
    }

}

/// The export ids the registry answered OK, shared with the publishing tasks.
final class Acknowledged: Sendable {
    private let ids = Mutex<[String]>([])
    func add(_ id: String) { ids.withLock { $0.append(id) } }
    var count: Int { ids.withLock { $0.count } }
    var all: [String] { ids.withLock { $0 } }
}
