public import Foundation
public import MeshlineModels
import MeshlineRPC
import Synchronization

/// Every tenant's rule-set versions, and which version serves an order.
///
/// Rule sets live in memory and, when the store has a directory, as one YAML file
/// per version (`TENANT@VERSION.yaml`) in that directory: a put writes the file
/// (to a temporary name, then renamed, so a crash never leaves half a file) before
/// it answers, so put rule sets survive a restart, and replicas that share the
/// directory see each other's puts on their next ``reload()``. Versions are
/// immutable: putting an existing version again with other rules is refused.
public final class RuleStore: Sendable {
    public let directory: URL?
    private let state = Mutex<[String: TenantRules]>([:])

    struct TenantRules {
        var versions: [String: CompiledRuleSet] = [:]
        /// The highest version: the one a new order is decided with (subject to its rollout).
        var active: String?

        mutating func insert(_ rules: CompiledRuleSet) {
            versions[rules.version] = rules
            if active.map({ RuleSetVersion.precedes($0, rules.version) }) ?? true { active = rules.version }
        }
    }

    /// A store in memory only (tests, benchmarks).
    public init() {
        directory = nil
    }

    /// A store backed by `directory`; reads every `*.yaml` / `*.yml` file in it.
    public init(directory: URL) throws(DecisionError) {
        self.directory = directory
        try reload()
    }

    /// Reads the directory again and adds the versions it does not hold yet (versions
    /// never change, so a held version stays as it is). Throws, and adds nothing, when
    /// any file is invalid.
    public func reload() throws(DecisionError) {
        guard let directory else { return }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        } catch {
            throw .ruleFile("\(directory.path): cannot list the rules directory (\(error.localizedDescription)); create it or fix --rules")
        }
        var tenants: [String: TenantRules] = [:]
        var files: [String: String] = [:]
        var problems: [String] = []
        for name in names where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
            let path = directory.appendingPathComponent(name).path
            do throws(DecisionError) {
                guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                    throw .ruleFile("\(path): cannot be read as UTF-8 text")
                }
                let rules = try CompiledRuleSet(RuleSetYAML.decode(text, file: path))
                let key = "\(rules.tenantID) \(rules.version)"
                if let other = files[key] {
                    throw .ruleFile("\(path): tenant \(rules.tenantID) version \(rules.version) is also defined in \(other); keep one file per version")
                }
                files[key] = path
                tenants[rules.tenantID, default: TenantRules()].insert(rules)
            } catch {
                problems.append(error.rpcError.message)
            }
        }
        for (tenantID, rules) in tenants {
            for version in rules.versions.values.sorted(by: { $0.version < $1.version }) {
                if let problem = Self.missingFallback(version.ruleSet, in: rules) {
                    problems.append("\(files["\(tenantID) \(version.version)"] ?? tenantID): rollout.fallback_version \(problem)")
                }
            }
        }
        guard problems.isEmpty else { throw .ruleFile(problems.joined(separator: "\n")) }
        state.withLock { held in
            for (tenantID, rules) in tenants {
                for version in rules.versions.values where held[tenantID]?.versions[version.version] == nil {
                    held[tenantID, default: TenantRules()].insert(version)
                }
            }
        }
    }

    /// Validates and stores a rule set; returns it as stored (canonical, with its creation time).
    public func put(_ ruleSet: RuleSet, now: Int64) throws(DecisionError) -> RuleSet {
        var submitted = ruleSet
        submitted.createdAtUnixMs = 0
        let compiled = try CompiledRuleSet(submitted)
        let existing = state.withLock { $0[ruleSet.tenantID] ?? TenantRules() }
        if let stored = existing.versions[compiled.version] {
            var comparable = stored.ruleSet
            comparable.createdAtUnixMs = 0
            guard comparable == compiled.ruleSet else {
                throw .versionExists(tenantID: compiled.tenantID, version: compiled.version)
            }
            return stored.ruleSet
        }
        if let problem = Self.missingFallback(compiled.ruleSet, in: existing) {
            throw .invalid("rule_set.rollout.fallback_version", problem, rule: "rules.rollout-fallback")
        }
        var stamped = compiled.ruleSet
        stamped.createdAtUnixMs = now
        let final = try CompiledRuleSet(stamped)
        if let directory {
            let file = directory.appendingPathComponent("\(final.tenantID)@\(final.version).yaml")
            let temporary = directory.appendingPathComponent(".\(final.tenantID)@\(final.version).yaml.\(UUID().uuidString)")
            do {
                try Data(RuleSetYAML.encode(final.ruleSet).utf8).write(to: temporary)
                guard rename(temporary.path, file.path) == 0 else {
                    throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: String(cString: strerror(errno))])
                }
            } catch {
                try? FileManager.default.removeItem(at: temporary)
                throw .storage("\(file.path): \(error.localizedDescription)")
            }
        }
        return state.withLock { tenants in
            // Another put of the same version may have won meanwhile; the first one stays.
            if let winner = tenants[final.tenantID]?.versions[final.version] { return winner.ruleSet }
            tenants[final.tenantID, default: TenantRules()].insert(final)
            return final.ruleSet
        }
    }

    /// A tenant's rule set at `version`, or its active version when `version` is empty.
    public func get(tenantID: String, version: String = "") throws(DecisionError) -> CompiledRuleSet {
        let tenant = state.withLock { $0[tenantID] }
        guard let tenant, let active = tenant.active else { throw .ruleSetNotFound(tenantID: tenantID, version: nil) }
        let wanted = version.isEmpty ? active : version
        guard let rules = tenant.versions[wanted] else { throw .ruleSetNotFound(tenantID: tenantID, version: wanted) }
        return rules
    }

    /// The version that decides `orderID`: the active one, or its rollout's fallback
    /// for the orders outside its percentage (chosen by ``Rollout/bucket(tenantID:orderID:)``).
    public func rules(tenantID: String, orderID: String) throws(DecisionError) -> CompiledRuleSet {
        let active = try get(tenantID: tenantID)
        guard let rollout = active.ruleSet.rollout, rollout.percent < 100 else { return active }
        if Rollout.bucket(tenantID: tenantID, orderID: orderID) < Int(rollout.percent) * 100 { return active }
        return try get(tenantID: tenantID, version: rollout.fallbackVersion)
    }

    /// The versions that decide the tenant's orders: the active one and, while its
    /// rollout serves less than 100 %, the fallback version.
    public func deciding(tenantID: String) throws(DecisionError) -> [CompiledRuleSet] {
        let active = try get(tenantID: tenantID)
        guard let rollout = active.ruleSet.rollout, rollout.percent < 100 else { return [active] }
        return [active, try get(tenantID: tenantID, version: rollout.fallbackVersion)]
    }

    static func missingFallback(_ ruleSet: RuleSet, in tenant: TenantRules) -> String? {
        guard let rollout = ruleSet.rollout, rollout.percent < 100, tenant.versions[rollout.fallbackVersion] == nil else { return nil }
        return "names \(rollout.fallbackVersion), which tenant \(ruleSet.tenantID) does not have; put that version first"
    }
}

extension Rollout {
    /// The order's bucket, 0..<10000: FNV-1a (64-bit) of `TENANT\0ORDER`, modulo 10,000.
    /// Fixed, unseeded and the same on every replica and every run, so an order always
    /// gets the same version while a rollout lasts. A version with `percent` p serves
    /// the buckets below p × 100.
    public static func bucket(tenantID: String, orderID: String) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in tenantID.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        hash = (hash ^ 0) &* 0x0000_0100_0000_01b3
        for byte in orderID.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return Int(hash % 10_000)
    }
}
