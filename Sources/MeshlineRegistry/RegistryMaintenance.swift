public import MeshlineModels
import MeshlineRPC

/// The registry's background work: waking Watch streams for commits of other
/// replicas, expiring exports whose TTL passed, and delivering queued reports to
/// the exception router until it accepts them.
///
/// Both read their work from storage, so a restart loses nothing: a report stays
/// queued until delivered, an expired export is found again on the next sweep.
public struct RegistryMaintenance: Sendable {
    let service: ExportRegistryService
    let deliver: (@Sendable (ReportRequest) async throws -> Void)?
    let interval: Duration
    let clock: @Sendable () -> Int64

    /// `deliver` sends one report to the exception router (nil: no router configured;
    /// reports stay queued).
    public init(
        service: ExportRegistryService, deliver: (@Sendable (ReportRequest) async throws -> Void)?, interval: Duration = .milliseconds(500),
        clock: @escaping @Sendable () -> Int64 = { UnixTime.nowMilliseconds() }
    ) {
        self.service = service
        self.deliver = deliver
        self.interval = interval
        self.clock = clock
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
            do {
                // Delivered in the trace of the call that queued it: the router's case continues it.
                try await TraceContext.$current.withValue(item.traceparent.flatMap(TraceContext.init(traceparent:))) {
                    try await TraceRecording.withSpan("registry.outbox.deliver", attributes: [("meshline.export_id", item.report.exportID)]) {
                        try await deliver(item.report)
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
}
