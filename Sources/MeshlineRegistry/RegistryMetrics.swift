import MeshlineModels
import MeshlineRPC
import Metrics
import Synchronization

/// What the registry counts for operators, through swift-metrics: no-ops unless the
/// process bootstrapped a backend (the services do with `--admin-listen`).
///
/// - `meshline_exports_published_total{kind}`: versions published (not replays)
/// - `meshline_qa_violations_total{rule}`: broken QA rules of refused publishes and overrides
/// - `meshline_exports_acknowledged_total{outcome,reason}`: acknowledgements (reason for rejections)
/// - `meshline_exports_overridden_total`, `meshline_exports_expired_total`
/// - the outbox's (`meshline_outbox_*`), counted by ``OutboxMetrics``
///
/// Counters with a bounded set of labels are made once, so counting is one atomic add.
struct RegistryMetrics: Sendable {
    private let published: [ExportKind: Counter]
    private let accepted: Counter
    private let completed: Counter
    private let rejected: [RejectionReason: Counter]
    private let overridden = Counter(label: "meshline_exports_overridden_total")
    private let expired = Counter(label: "meshline_exports_expired_total")

    init() {
        published = Dictionary(uniqueKeysWithValues: ExportKind.allCases.filter { $0 != .unspecified }.map {
            ($0, Counter(label: "meshline_exports_published_total", dimensions: [("kind", ProtoEnumName.short($0.protoName, prefix: "EXPORT_KIND_"))]))
        })
        let acknowledged = "meshline_exports_acknowledged_total"
        accepted = Counter(label: acknowledged, dimensions: [("outcome", "accepted"), ("reason", "")])
        completed = Counter(label: acknowledged, dimensions: [("outcome", "completed"), ("reason", "")])
        rejected = Dictionary(uniqueKeysWithValues: RejectionReason.allCases.filter { $0 != .unspecified }.map {
            ($0, Counter(label: acknowledged, dimensions: [("outcome", "rejected"), ("reason", ProtoEnumName.short($0.protoName, prefix: "REJECTION_REASON_"))]))
        })
    }

    func published(_ kind: ExportKind) {
        published[kind]?.increment()
    }

    func overrode() { overridden.increment() }

    func expiredByTTL() { expired.increment() }

    func acknowledged(_ outcome: AckOutcome, reason: RejectionReason) {
        switch outcome {
        case .accepted: accepted.increment()
        case .rejected: rejected[reason]?.increment()
        default: completed.increment()
        }
    }

    /// Each rule a refused request broke, once (a rule broken by several fields counts once).
    func refusedByQA(_ violations: [Violation]) {
        var rules: [String] = []
        for violation in violations where !rules.contains(violation.rule) { rules.append(violation.rule) }
        // The rules are a fixed set (ExportQA), so the label values stay bounded.
        for rule in rules { Counter(label: "meshline_qa_violations_total", dimensions: [("rule", rule)]).increment() }
    }
}

/// What the outbox's delivery to the exception router counts, for alerts: a report
/// the router keeps refusing, or one that cannot be read, is retried (never dropped)
/// and would otherwise go unnoticed.
///
/// - `meshline_outbox_pending`: reports in the outbox (the whole store, every replica's),
///   due or backing off; alert when it stays above zero
/// - `meshline_outbox_delivery_failures_total{code}`: deliveries the router did not
///   accept, by gRPC status code (`UNAVAILABLE` while it is down; `INVALID_ARGUMENT`,
///   `PERMISSION_DENIED`, `UNAUTHENTICATED` will not pass by themselves)
/// - `meshline_outbox_undecodable_total`: times a queued report was found not to decode
///   (corrupt, or written by a newer release); each such row is set aside and counted
///   again each time it is read, so the count keeps rising until an operator deals with it
final class OutboxMetrics: Sendable {
    private let factory: any MetricsFactory
    private let undecodable: Counter
    private let pending: Gauge
    /// When the gauge is due for a refresh (it costs a count of the outbox).
    private let pendingDueAt = Atomic<Int64>(.min)
    /// How often an idle round refreshes the gauge (other replicas' work, new reports).
    static let pendingRefreshInterval: Int64 = 10_000

    /// `factory`: where the metrics go (tests pass their own).
    init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        undecodable = Counter(label: "meshline_outbox_undecodable_total", factory: factory)
        pending = Gauge(label: "meshline_outbox_pending", factory: factory)
    }

    func foundUndecodable() { undecodable.increment() }

    /// The status codes are gRPC's fixed set, so the label values stay bounded.
    func deliveryFailed(_ code: StatusCode) {
        Counter(label: "meshline_outbox_delivery_failures_total", dimensions: [("code", code.description)], factory: factory).increment()
    }

    /// Whether the gauge should be read again: after a round that changed the outbox,
    /// or when the refresh interval has passed.
    func pendingDue(now: Int64, changed: Bool) -> Bool {
        changed || now >= pendingDueAt.load(ordering: .relaxed)
    }

    func pending(_ count: Int, now: Int64) {
        pending.record(count)
        pendingDueAt.store(now + Self.pendingRefreshInterval, ordering: .relaxed)
    }
}
