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
///
/// A report the router refuses is retried with backoff (up to a minute) for as long as
/// it is refused, never dropped; each refusal is a warning line (outbox id, attempts,
/// status code) and counts in `meshline_outbox_delivery_failures_total{code}`, and
/// `meshline_outbox_pending` shows how many reports wait, so an operator can alert on
/// a router that keeps refusing (a wrong API key, a report it finds invalid).
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
        var changed = false
        if let expired = try? await store.expired(now: clock(), limit: 200) {
            for export in expired { _ = try? await service.expire(export) }
            changed = !expired.isEmpty
        }
        var delivered = 0
        if let deliver, let pending = try? await store.pendingReports(now: clock(), limit: 100) {
            changed = changed || !pending.isEmpty
            delivered = await deliverReports(pending, deliver)
        }
        // Also without a router: reports piling up in the outbox are what an operator must see.
        if metrics.pendingDue(now: clock(), changed: changed), let count = try? await store.outboxCount() {
            metrics.pending(count, now: clock())
        }
        return delivered
    }

    /// Sends each report, returns how many the router accepted.
    private func deliverReports(_ pending: [OutboxItem], _ deliver: @Sendable (ReportRequest) async throws -> Void) async -> Int {
        let store = service.store
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
            // Exponential backoff, from half a second up to a minute.
            let delay = min(Int64(500) << Int64(min(item.attempts, 7)), 60_000)
            do {
                // Delivered in the trace of the call that queued it: the router's case continues it.
                try await TraceContext.$current.withValue(item.traceparent.flatMap(TraceContext.init(traceparent:))) {
                    try await TraceRecording.withSpan("registry.outbox.deliver", attributes: [("meshline.export_id", report.exportID)]) {
                        try await deliver(report)
                    }
                }
            } catch {
                notDelivered(item, report, error, retryIn: delay)
                try? await store.reportFailed(item.id, retryAt: clock() + delay)
                continue
            }
            do {
                try await store.reportDelivered(item.id)
                delivered += 1
            } catch {
                // Delivered but still queued: sent again after the backoff (at least once).
                try? await store.reportFailed(item.id, retryAt: clock() + delay)
            }
        }
        return delivered
    }

    /// Tells the operator about a delivery the router did not accept: one warning per
    /// attempt with the outbox id, attempts so far and the status code. Not the
    /// router's message, which may quote the report's free text (details, addresses).
    private func notDelivered(_ item: OutboxItem, _ report: ReportRequest, _ error: any Error, retryIn delay: Int64) {
        let code = (error as? RPCError)?.code ?? .unknown
        metrics.deliveryFailed(code)
        service.logger.warning("outbox report not delivered; retried later", metadata: [
            "outbox_id": "\(item.id)", "attempts": "\(item.attempts + 1)", "code": "\(code)", "retry_in_ms": "\(delay)",
            "tenant": "\(report.tenantID)", "export_id": "\(report.exportID)",
        ])
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
