import Crypto
public import MeshlineModels

/// The hash chain over an export's audit trail.
///
/// Each entry's `entry_hash` is SHA-256 over a domain prefix, the tenant and export
/// id (so an entry cannot be moved to another export), and the entry's own
/// deterministic encoding with `previous_hash` set and `entry_hash` empty.
public enum AuditChain {
    static let prefix = Array("meshline-audit-v1\n".utf8)

    /// The entry with `previous_hash` and `entry_hash` filled in, chained after `previous`.
    public static func seal(_ entry: AuditEntry, after previous: AuditEntry?, tenantID: String, exportID: String) -> AuditEntry {
        var sealed = entry
        sealed.previousHash = previous?.entryHash ?? []
        sealed.sequence = (previous?.sequence ?? 0) + 1
        sealed.entryHash = hash(sealed, tenantID: tenantID, exportID: exportID)
        return sealed
    }

    static func hash(_ entry: AuditEntry, tenantID: String, exportID: String) -> [UInt8] {
        var unsealed = entry
        unsealed.entryHash = []
        var bytes = prefix
        bytes += Array(tenantID.utf8) + [0x0A] + Array(exportID.utf8) + [0x0A]
        bytes += unsealed.serializedBytes()
        return Array(SHA256.hash(data: bytes))
    }

    /// A place where a trail does not verify.
    public struct Break: Sendable, Hashable, CustomStringConvertible {
        public var tenantID: String
        public var exportID: String
        public var version: Int64
        public var sequence: Int64
        public var problem: String

        public var description: String {
            "\(tenantID)/\(exportID) v\(version): audit entry \(sequence) \(problem)"
        }
    }

    /// Every break in one export version's trail: wrong sequence, a previous hash
    /// that does not match, or an entry hash that does not match its content.
    public static func verify(_ export: Export) -> [Break] {
        var breaks: [Break] = []
        var previous: AuditEntry?
        for (index, entry) in export.auditTrail.enumerated() {
            func broken(_ problem: String) {
                breaks.append(Break(tenantID: export.tenantID, exportID: export.exportID, version: export.version, sequence: entry.sequence, problem: problem))
            }
            if entry.sequence != Int64(index + 1) { broken("has sequence \(entry.sequence), expected \(index + 1)") }
            if entry.previousHash != (previous?.entryHash ?? []) { broken("does not point at the previous entry's hash") }
            if entry.entryHash != hash(entry, tenantID: export.tenantID, exportID: export.exportID) { broken("does not match its hash (content changed)") }
            previous = entry
        }
        return breaks
    }
}

extension Export {
    /// A copy numbered as the next version, superseding this one.
    func successor() -> Export {
        var next = self
        next.version = version + 1
        next.supersedesVersion = version
        return next
    }

    /// Stamps this (already numbered) version with its commit time and appends its
    /// audit entry, sealed into the export's chain. `traceID` is the W3C trace of the
    /// call that caused the change (read before the storage transaction, whose thread
    /// does not see the caller's task-locals).
    mutating func record(at now: Int64, actor: String, change: String, traceID: String, override: SignedOverride? = nil) {
        committedAtUnixMs = now
        auditTrail.append(AuditChain.seal(
            AuditEntry(atUnixMs: now, actor: actor, change: change, version: version, override: override, traceID: traceID),
            after: auditTrail.last, tenantID: tenantID, exportID: exportID))
    }
}
