import MeshlineModels
import Metrics
import Synchronization

/// What the router counts and measures for operators, through swift-metrics: no-ops
/// unless the process bootstrapped a backend (the services do with `--admin-listen`).
///
/// Counters (this replica's work):
/// - `meshline_cases_opened_total{kind}`
/// - `meshline_case_retries_total{result}`: `routed`, `backordered`, `queued` (a human
///   must decide), `failed` (tried again later), `unanswered` (the decision service did not answer)
/// - `meshline_case_escalations_total`
///
/// Gauges (the whole store, refreshed by ``OpenCaseGauges``), per tenant, queue and state:
/// - `meshline_cases_open`, `meshline_cases_oldest_age_seconds`,
///   `meshline_cases_sla_at_risk` (open cases whose export must ship within the policy's
///   `sla_risk_window_ms`, or should have shipped already)
final class RouterMetrics: Sendable {
    enum RetryResult: String, CaseIterable {
        case routed, backordered, queued, failed, unanswered
    }

    private let opened: [CaseKind: Counter]
    private let retries: [RetryResult: Counter]
    private let escalations = Counter(label: "meshline_case_escalations_total")

    init() {
        opened = Dictionary(uniqueKeysWithValues: CaseKind.allCases.filter { $0 != .unspecified }.map { kind in
            (kind, Counter(label: "meshline_cases_opened_total", dimensions: [("kind", ProtoEnumName.short(kind.protoName, prefix: "CASE_KIND_"))]))
        })
        retries = Dictionary(uniqueKeysWithValues: RetryResult.allCases.map {
            ($0, Counter(label: "meshline_case_retries_total", dimensions: [("result", $0.rawValue)]))
        })
    }

    func opened(_ kind: CaseKind) { opened[kind]?.increment() }

    func retried(_ result: RetryResult) { retries[result]?.increment() }

    func escalated() { escalations.increment() }
}

/// Refreshes the open-case gauges from storage every `interval`, so that they show
/// every replica's cases and survive restarts. Groups that emptied drop to zero.
public final class OpenCaseGauges: Sendable {
    private struct Group: Hashable {
        var tenantID: String
        var queue: String
        var state: String
    }

    let service: ExceptionRouterService
    let interval: Duration
    private let reported = Mutex<Set<Group>>([])

    public init(service: ExceptionRouterService, interval: Duration = .seconds(10)) {
        self.service = service
        self.interval = interval
    }

    /// Runs until the task is cancelled: after every stored change (at most once a
    /// second) and at least every `interval` (other replicas' changes, ageing).
    public func run() async {
        while !Task.isCancelled {
            let seen = service.changes.generation
            try? await refresh()
            try? await Task.sleep(for: .seconds(1))
            await service.changes.wait(since: seen, timeout: interval)
        }
    }

    /// Reads the summary once and sets the gauges.
    public func refresh() async throws(ExceptionError) {
        let now = service.clock()
        let summary = try await service.store.openCaseSummary(shipByBefore: now + service.rules.policy.slaRiskWindowMs)
        var seen: Set<Group> = []
        for open in summary {
            let group = Group(
                tenantID: open.tenantID, queue: open.queue, state: ProtoEnumName.short(open.state.protoName, prefix: "CASE_STATE_"))
            seen.insert(group)
            let age = open.oldestOpenedAt > 0 ? Double(max(0, now - open.oldestOpenedAt)) / 1000 : 0
            Self.set(group, count: open.count, oldestAgeSeconds: age, atRisk: open.shipByAtRisk)
        }
        let emptied = reported.withLock { reported in
            let emptied = reported.subtracting(seen)
            reported = seen
            return emptied
        }
        // Queue names come from the exports' exception paths: series of queues that emptied are
        // removed rather than kept at zero, so the set of series follows the queues in use.
        for group in emptied {
            let (open, age, risk) = Self.gauges(group)
            open.destroy()
            age.destroy()
            risk.destroy()
        }
    }

    private static func set(_ group: Group, count: Int, oldestAgeSeconds: Double, atRisk: Int) {
        let (open, age, risk) = gauges(group)
        open.record(count)
        age.record(oldestAgeSeconds)
        risk.record(atRisk)
    }

    private static func gauges(_ group: Group) -> (Gauge, Gauge, Gauge) {
        let dimensions = [("tenant", group.tenantID), ("queue", group.queue), ("state", group.state)]
        return (
            Gauge(label: "meshline_cases_open", dimensions: dimensions),
            Gauge(label: "meshline_cases_oldest_age_seconds", dimensions: dimensions),
            Gauge(label: "meshline_cases_sla_at_risk", dimensions: dimensions)
        )
    }
}
