public import MeshlineModels

/// Recomputes every audit chain in a store.
public enum Verification {
    public struct Summary: Sendable {
        public var versions = 0
        public var exports = Set<String>()
        public var breaks: [AuditChain.Break] = []

        public init() {}

        /// Checks one version, given the trail of the export's previous version.
        mutating func check(_ export: Export, previousTrail: [AuditEntry]?) {
            versions += 1
            exports.insert("\(export.tenantID)/\(export.exportID)")
            breaks += AuditChain.verify(export)
            if let previousTrail, !export.auditTrail.starts(with: previousTrail) {
                breaks.append(AuditChain.Break(
                    tenantID: export.tenantID, exportID: export.exportID, version: export.version, sequence: Int64(previousTrail.count),
                    problem: "rewrites entries of the previous version's trail"))
            }
        }

        /// Checks every version of one export, oldest first (a History answer).
        public mutating func check(history: [Export]) {
            var previous: [AuditEntry]?
            for version in history {
                check(version, previousTrail: previous)
                previous = version.auditTrail
            }
        }
    }

    /// Checks every stored version's trail, and that each version's trail extends
    /// the previous version's; `progress` hears the count now and then.
    public static func verifyAll(_ store: any RegistryStore, progress: (Int) -> Void = { _ in }) async throws(RegistryError) -> Summary {
        var summary = Summary()
        var sequence: Int64 = 0
        var lastTrail: [String: [AuditEntry]] = [:]
        while true {
            let page = try await store.allVersions(after: sequence, limit: 500)
            if page.isEmpty { break }
            for commit in page {
                let export = commit.export
                let key = "\(export.tenantID)/\(export.exportID)"
                summary.check(export, previousTrail: lastTrail[key])
                lastTrail[key] = export.auditTrail
                sequence = commit.sequence
            }
            progress(summary.versions)
        }
        return summary
    }
}
