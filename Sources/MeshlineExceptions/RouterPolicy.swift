public import Foundation
public import MeshlineModels

/// How automatic retries back off, as in Temporal's and Step Functions' retry policies.
public struct RetryRule: Sendable, Equatable {
    /// Delay ceiling of the first retry.
    public var initialIntervalMs: Int64 = 1_000
    /// Each further retry multiplies the ceiling by this (at least 1).
    public var backoffCoefficient = 2.0
    /// The ceiling never grows past this.
    public var maximumIntervalMs: Int64 = 60_000
    /// Retries before the case goes to a human queue; 0 never retries.
    public var maximumAttempts = 5
    /// Full jitter: the delay is uniform in [0, ceiling] (AWS's "full jitter"); false waits the ceiling.
    public var jitter = true
    /// A retry must happen at least this long before the export's ship-by, or the case escalates.
    public var shipByMarginMs: Int64 = 0

    public init() {}

    /// The delay ceiling of retry number `attempt` (1 for the first retry).
    public func ceiling(attempt: Int) -> Int64 {
        let grown = Double(initialIntervalMs) * pow(backoffCoefficient, Double(max(0, attempt - 1)))
        return grown >= Double(maximumIntervalMs) ? maximumIntervalMs : Int64(grown)
    }
}

/// Where the jitter of retry delays comes from: random in production, a seed in tests.
public struct JitterSource: Sendable {
    /// nil draws from the system's random generator.
    public var seed: UInt64?

    public init(seed: UInt64? = nil) {
        self.seed = seed
    }

    /// A fraction in [0, 1) for retry `attempt` of `caseID`; the same inputs and seed give the same fraction.
    public func fraction(caseID: String, attempt: Int) -> Double {
        guard let seed else { return Double.random(in: 0..<1) }
        // FNV-1a of the case id, mixed with the seed and attempt by SplitMix64.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in caseID.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        var z = seed &+ hash &+ UInt64(attempt) &* 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53)
    }
}

/// The retry and escalation rules of one tenant (or the defaults).
public struct PolicySection: Sendable, Equatable {
    /// The rule for reasons without one of their own.
    public var retry = RetryRule()
    /// Rules per rejection reason (`EXPIRED` for TTL expiries).
    public var reasons: [RejectionReason: RetryRule] = [:]
    /// Reasons that go to a human queue at once, never retried.
    public var neverRetry: Set<RejectionReason> = [.incorrectAddress]
    /// How long a case waits unclaimed at level 1, 2, …; the last delay repeats for higher levels.
    public var escalationDelaysMs: [Int64] = [15 * 60_000, 30 * 60_000]

    public init() {}

    public func rule(for reason: RejectionReason) -> RetryRule {
        reasons[reason] ?? retry
    }

    /// The unclaimed delay of `level` (1-based).
    public func escalationDelay(level: Int32) -> Int64 {
        escalationDelaysMs[min(max(Int(level), 1), escalationDelaysMs.count) - 1]
    }
}

/// The router's policy: defaults, per-tenant sections, and where backorders wait.
/// Loaded from a JSON file (see `services/exceptions/policy.example.json`).
public struct RouterPolicy: Sendable {
    public var defaults = PolicySection()
    public var tenants: [String: PolicySection] = [:]
    /// Queue of cases waiting for stock.
    public var backorderQueue = "backorder"
    /// How often a backorder case asks the registry whether a routable version exists.
    public var backorderPollIntervalMs: Int64 = 60_000
    /// Queue of cases whose export names none.
    public var defaultQueue = "exceptions"
    /// An open case whose export must ship within this time (or should have shipped)
    /// counts as SLA at risk in the router's metrics.
    public var slaRiskWindowMs: Int64 = 4 * 3_600_000
    /// Jitter of retry delays.
    public var jitter = JitterSource()

    public init() {}

    public func section(tenantID: String) -> PolicySection {
        tenants[tenantID] ?? defaults
    }

    /// Delay before retry number `attempt` of a case.
    public func retryDelay(rule: RetryRule, caseID: String, attempt: Int) -> Int64 {
        let ceiling = rule.ceiling(attempt: attempt)
        guard rule.jitter else { return ceiling }
        return max(1, Int64(jitter.fraction(caseID: caseID, attempt: attempt) * Double(ceiling + 1)))
    }
}

// MARK: The policy file

extension RouterPolicy {
    /// Reads a policy file. Fields left out keep their defaults; a tenant's section
    /// starts from the file's defaults and changes only what it names.
    public init(contentsOf path: String) throws(ExceptionError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .invalidRequest(field: "--policy", reason: "cannot read '\(path)': \(error.localizedDescription)")
        }
        try self.init(json: data)
    }

    public init(json data: Data) throws(ExceptionError) {
        let file: PolicyFile
        do {
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            file = try decoder.decode(PolicyFile.self, from: data)
        } catch {
            throw .invalidRequest(field: "policy", reason: "is not a valid policy file: \(error)")
        }
        self.init()
        defaults = try file.defaults.section(over: PolicySection(), path: "policy")
        for (tenant, section) in file.tenants ?? [:] {
            tenants[tenant] = try section.section(over: defaults, path: "policy.tenants.\(tenant)")
        }
        if let queue = file.backorderQueue { backorderQueue = try Self.label(queue, path: "policy.backorder_queue") }
        if let queue = file.defaultQueue { defaultQueue = try Self.label(queue, path: "policy.default_queue") }
        if let interval = file.backorderPollIntervalMs {
            guard interval > 0 else { throw .invalidRequest(field: "policy.backorder_poll_interval_ms", reason: "must be positive") }
            backorderPollIntervalMs = interval
        }
        if let window = file.slaRiskWindowMs {
            guard window >= 0 else { throw .invalidRequest(field: "policy.sla_risk_window_ms", reason: "must not be negative") }
            slaRiskWindowMs = window
        }
    }

    static func label(_ value: String, path: String) throws(ExceptionError) -> String {
        guard !value.isEmpty, value.utf8.count <= ExportLimits.maximumLabelLength else {
            throw .invalidRequest(field: path, reason: "must be 1 to \(ExportLimits.maximumLabelLength) bytes")
        }
        return value
    }

    /// `INCORRECT_ADDRESS`, `REJECTION_REASON_INCORRECT_ADDRESS` or `incorrect-address`.
    static func reason(_ text: String, path: String) throws(ExceptionError) -> RejectionReason {
        let upper = text.uppercased().replacingOccurrences(of: "-", with: "_")
        guard let reason = RejectionReason(protoName: upper) ?? RejectionReason(protoName: "REJECTION_REASON_" + upper), reason != .unspecified else {
            throw .invalidRequest(field: path, reason: "'\(text)' is not a rejection reason; use OUT_OF_STOCK, INCORRECT_ADDRESS, CAPACITY, OTHER or EXPIRED")
        }
        return reason
    }
}

private struct RuleFile: Decodable {
    var initialIntervalMs: Int64?
    var backoffCoefficient: Double?
    var maximumIntervalMs: Int64?
    var maximumAttempts: Int?
    var jitter: Bool?
    var shipByMarginMs: Int64?

    func rule(over base: RetryRule, path: String) throws(ExceptionError) -> RetryRule {
        var rule = base
        if let value = initialIntervalMs { rule.initialIntervalMs = value }
        if let value = backoffCoefficient { rule.backoffCoefficient = value }
        if let value = maximumIntervalMs { rule.maximumIntervalMs = value }
        if let value = maximumAttempts { rule.maximumAttempts = value }
        if let value = jitter { rule.jitter = value }
        if let value = shipByMarginMs { rule.shipByMarginMs = value }
        guard rule.initialIntervalMs > 0 else { throw .invalidRequest(field: "\(path).initial_interval_ms", reason: "must be positive") }
        guard rule.backoffCoefficient >= 1, rule.backoffCoefficient <= 100 else {
            throw .invalidRequest(field: "\(path).backoff_coefficient", reason: "must be between 1 and 100")
        }
        guard rule.maximumIntervalMs >= rule.initialIntervalMs else {
            throw .invalidRequest(field: "\(path).maximum_interval_ms", reason: "must be at least initial_interval_ms (\(rule.initialIntervalMs))")
        }
        guard (0...1000).contains(rule.maximumAttempts) else { throw .invalidRequest(field: "\(path).maximum_attempts", reason: "must be 0 to 1000") }
        guard rule.shipByMarginMs >= 0 else { throw .invalidRequest(field: "\(path).ship_by_margin_ms", reason: "must not be negative") }
        return rule
    }
}

private struct SectionFile: Decodable {
    var retry: RuleFile?
    var reasons: [String: RuleFile]?
    var neverRetry: [String]?
    var escalationDelaysMs: [Int64]?

    func section(over base: PolicySection, path: String) throws(ExceptionError) -> PolicySection {
        var section = base
        if let retry { section.retry = try retry.rule(over: base.retry, path: "\(path).retry") }
        for (name, rule) in reasons ?? [:] {
            let reason = try RouterPolicy.reason(name, path: "\(path).reasons")
            section.reasons[reason] = try rule.rule(over: section.retry, path: "\(path).reasons.\(name)")
        }
        if let neverRetry {
            var reasons: Set<RejectionReason> = []
            for name in neverRetry { reasons.insert(try RouterPolicy.reason(name, path: "\(path).never_retry")) }
            section.neverRetry = reasons
        }
        if let delays = escalationDelaysMs {
            guard !delays.isEmpty, delays.count <= 16, delays.allSatisfy({ $0 > 0 }) else {
                throw .invalidRequest(field: "\(path).escalation_delays_ms", reason: "must list 1 to 16 positive delays, one per level")
            }
            section.escalationDelaysMs = delays
        }
        return section
    }
}

/// The file: a section of defaults at the top level, beside the tenants and queues.
private struct PolicyFile: Decodable {
    var defaults: SectionFile
    var tenants: [String: SectionFile]?
    var backorderQueue: String?
    var backorderPollIntervalMs: Int64?
    var defaultQueue: String?
    var slaRiskWindowMs: Int64?

    private enum CodingKeys: String, CodingKey {
        case tenants, backorderQueue, backorderPollIntervalMs, defaultQueue, slaRiskWindowMs
    }

    init(from decoder: any Decoder) throws {
        defaults = try SectionFile(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        tenants = try container.decodeIfPresent([String: SectionFile].self, forKey: .tenants)
        backorderQueue = try container.decodeIfPresent(String.self, forKey: .backorderQueue)
        backorderPollIntervalMs = try container.decodeIfPresent(Int64.self, forKey: .backorderPollIntervalMs)
        defaultQueue = try container.decodeIfPresent(String.self, forKey: .defaultQueue)
        slaRiskWindowMs = try container.decodeIfPresent(Int64.self, forKey: .slaRiskWindowMs)
    }
}
