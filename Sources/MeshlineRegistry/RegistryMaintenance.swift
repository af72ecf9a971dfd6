import Logging
public import MeshlineModels
import MeshlineRPC
import Metrics

/// The registry's background work: waking Watch streams for commits of other
/// replicas, expiring exports whose TTL passed, and delivering queued reports to
/// the exception router until it accepts them.
///
/// Both read their work from storage, so a restart loses nothing: a report stays
/// queued until delivered, an expired export is found again on the next sweep.
///
/// A queued report that does not decode (a corrupt row, or one written by a newer
/// release) cannot be sent, must not be lost and must not hold up the others: it
/// stays in the outbox, set aside for ``undecodableRetryDelay``, and each time it is
/// read it is logged (error, with its outbox id, never its bytes) and counted
/// (`meshline_outbox_undecodable_total`). Once a release that reads it runs, or an
/// operator repaired the row, it is delivered like any other.
public struct RegistryMaintenance: Sendable {
    let service: ExportRegistryService
    let deliver: (@Sendable (ReportRequest) async throws -> Void)?
    let interval: Duration
    let clock: @Sendable () -> Int64
    let metrics: OutboxMetrics

    /// How long a report that does not decode is set aside before it is read again:
    /// one error line and one count an hour per such row keeps an alert firing without
    /// flooding the log. `UPDATE outbox SET next_attempt_at = 0 WHERE id = …` makes it
    /// due at once.
    public static let undecodableRetryDelay: Int64 = 3_600_000

    /// `deliver` sends one report to the exception router (nil: no router configured;
    /// reports stay queued).
    public init(
        service: ExportRegistryService, deliver: (@Sendable (ReportRequest) async throws -> Void)?, interval: Duration = .milliseconds(500),
        clock: @escaping @Sendable () -> Int64 = { UnixTime.nowMilliseconds() }
    ) {
        self.init(service: service, deliver: deliver, interval: interval, clock: clock, metricsFactory: MetricsSystem.factory)
    }

    /// `metricsFactory`: where the outbox's metrics go (tests pass their own).
    init(
        service: ExportRegistryService, deliver: (@Sendable (ReportRequest) async throws -> Void)?, interval: Duration = .milliseconds(500),
        clock: @escaping @Sendable () -> Int64 = { UnixTime.nowMilliseconds() }, metricsFactory: any MetricsFactory
    ) {
        self.service = service
        self.deliver = deliver
        self.interval = interval
        self.clock = clock
        metrics = OutboxMetrics(factory: metricsFactory)
    }

    /// Runs until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            await runOnce()
            try? await Task.sleep(for: interval)
        }
    }

    /// One sweep and one delivery round; returns how many reports were delivered.
    @discardableResult
    public func runOnce() async -> Int {
        let store = service.store
        await service.noticeCommitsOfOtherReplicas()
        if let expired = try? await store.expired(now: clock(), limit: 200) {
            for export in expired { _ = try? await service.expire(export) }
        }
        guard let deliver, let pending = try? await store.pendingReports(now: clock(), limit: 100) else { return 0 }
        var delivered = 0
        for item in pending {
            let report: ReportRequest
            switch item.report {
            case .success(let decoded):
                report = decoded
            case .failure(let error):
                setAside(item, error)
                try? await store.reportFailed(item.id, retryAt: clock() + Self.undecodableRetryDelay)
                continue
            }
            do {
                // Delivered in the trace of the call that queued it: the router's case continues it.
                try await TraceContext.$current.withValue(item.traceparent.flatMap(TraceContext.init(traceparent:))) {
                    try await TraceRecording.withSpan("registry.outbox.deliver", attributes: [("meshline.export_id", report.exportID)]) {
                        try await deliver(report)
                    }
                }
                try await store.reportDelivered(item.id)
                delivered += 1
            } catch {
                // Exponential backoff, from half a second up to a minute.
                let delay = min(Int64(500) << Int64(min(item.attempts, 7)), 60_000)
                try? await store.reportFailed(item.id, retryAt: clock() + delay)
            }
        }
        return delivered
    }

    /// Tells the operator about a report that does not decode: its outbox id and why
    /// (a field path, never the bytes, which hold the customer's order details).
    private func setAside(_ item: OutboxItem, _ error: ProtoDecodingError) {
        metrics.foundUndecodable()
        service.logger.error("outbox report does not decode; set aside, kept in the outbox", metadata: [
            "outbox_id": "\(item.id)", "attempts": "\(item.attempts + 1)", "retry_in_ms": "\(Self.undecodableRetryDelay)",
            "reason": "\(error)",
        ])
    }
}
