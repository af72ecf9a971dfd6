import Foundation
public import Logging
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC
import Synchronization

/// Fires due timers: retries, escalations and backorder checks. Timers live in
/// storage with their cases; each round leases the due ones (so that with several
/// routers on one PostgreSQL database each due case is worked by one of them),
/// works them, and stores the outcome, which clears the lease. A router that dies
/// mid-work leaves a lease that ends after ``Configuration/leaseDuration``; the
/// case is then worked again, and the decision service refuses a second
/// re-evaluation of the same base version, so nothing is published twice.
public struct CaseScheduler: Sendable {
    public struct Configuration: Sendable {
        /// How long a leased case is reserved for this router.
        public var leaseDuration: Int64 = 30_000
        /// Cases leased per round.
        public var batchSize = 64
        /// Longest sleep between rounds (another replica may have added an earlier timer).
        public var idleInterval: Duration = .seconds(1)

        public init() {}
    }

    let service: ExceptionRouterService
    let configuration: Configuration
    let logger: Logger
    /// Identifies this scheduler's leases.
    let owner = "scheduler-" + UUID().uuidString.lowercased()

    public init(service: ExceptionRouterService, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "meshline.exceptions.scheduler")) {
        self.service = service
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs rounds until the task is cancelled, sleeping until the next timer is due.
    public func run() async {
        while !Task.isCancelled {
            let seen = service.changes.generation
            let worked = await runOnce()
            if worked >= configuration.batchSize { continue }
            var sleep = configuration.idleInterval
            if let next = try? await service.store.nextTimerAt() {
                let wait = next - service.clock()
                if wait <= 0 { continue }
                sleep = min(sleep, .milliseconds(wait))
            }
            await service.changes.wait(since: seen, timeout: sleep)
        }
    }

    /// One round: leases the cases due now and works them; returns how many.
    @discardableResult
    public func runOnce() async -> Int {
        let now = service.clock()
        let due: [CaseRecord]
        do {
            due = try await service.store.leaseDue(now: now, until: now + configuration.leaseDuration, owner: owner, limit: configuration.batchSize)
        } catch {
            logger.error("cannot lease due cases", metadata: ["error": "\(error.rpcError.message)"])
            return 0
        }
        await withTaskGroup(of: Void.self) { group in
            for record in due {
                group.addTask { await self.work(record) }
            }
        }
        if !due.isEmpty { service.changes.fire() }
        return due.count
    }

    private func work(_ leased: CaseRecord) async {
        let c = leased.exceptionCase
        guard let kind = leased.timer?.kind else { return }
        // The case's work continues the trace of the report that opened it, so the
        // re-evaluation it asks for and the version that publishes stay in the order's trace.
        let trace = TraceContext(traceparent: c.traceparent)
        let outcome: Result<Void, ExceptionError> = await TraceContext.$current.withValue(trace) {
            do throws(ExceptionError) {
                try await TraceRecording.withSpan(kind.spanName, attributes: [("meshline.case_id", c.caseID)]) {
                    () async throws(ExceptionError) in
                    switch kind {
                    case .retry: try await retry(leased)
                    case .escalate:
                        if try await store(leased, { rules, record, now in rules.escalate(&record, at: now) }) { service.metrics.escalated() }
                    case .backorderPoll: try await checkStock(leased)
                    }
                }
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        if case .failure(let error) = outcome {
            // The lease ends on its own; the case is worked again then.
            logger.error("working case failed", metadata: ["case": "\(c.caseID)", "error": "\(error.rpcError.message)"])
        }
    }

    /// Stores the outcome of working `leased`, unless the case changed meanwhile: its
    /// timer was cleared or moved (resolved, claimed, released) or another scheduler
    /// holds it now. Either way this lease ends. Returns whether the outcome was stored
    /// (then, and only then, it is logged and counted).
    @discardableResult
    private func store(
        _ leased: CaseRecord, _ outcome: @escaping @Sendable (CaseRules, inout CaseRecord, Int64) -> [NotificationEvent]
    ) async throws(ExceptionError) -> Bool {
        let rules = service.rules
        let owner = self.owner
        let now = service.clock()
        let applied = Committed(false)
        let stored = try await service.store.update(tenantID: leased.exceptionCase.tenantID, caseID: leased.exceptionCase.caseID) {
            (current: CaseRecord) throws(ExceptionError) -> CaseChange? in
            guard current.lease?.owner == owner else { return nil }
            var record = current
            record.lease = nil
            var notifications: [NotificationEvent] = []
            let worked = current.timer == leased.timer
            if worked { notifications = outcome(rules, &record, now) }
            applied.set(worked)
            return CaseChange(record: record, notifications: notifications)
        }
        guard applied.value else { return false }
        // A backorder check that found no stock only moves its timer: not an event.
        let moved = stored.exceptionCase.state != leased.exceptionCase.state || (stored.timer != leased.timer && leased.timer?.kind != .backorderPoll)
        if moved, let kind = leased.timer?.kind {
            let c = stored.exceptionCase
            service.logCase(kind.event, c, ["attempts": "\(c.attempts)", "escalation_level": "\(c.escalationLevel)"])
        }
        return true
    }

    // MARK: Retry

    private func retry(_ leased: CaseRecord) async throws(ExceptionError) {
        let c = leased.exceptionCase
        let request = ReevaluateRequest(
            tenantID: c.tenantID, exportID: c.exportID, baseVersion: leased.export.version, excludeWarehouses: c.rejectedBy,
            cause: c.kind == .expiry ? .expiry : .rejection, detail: "exception router, case \(c.caseID), retry \(c.attempts + 1)")
        let outcome: Result<ReevaluateResponse, RPCError>
        if let decision = service.decision {
            do {
                outcome = .success(try await decision.unary(DecisionServiceDescriptor.reevaluate, request, timeout: service.configuration.dependencyTimeout))
            } catch {
                outcome = .failure(error)
            }
        } else {
            outcome = .failure(RPCError(code: .unavailable, message: "no decision service is configured"))
        }
        let result = Committed<RouterMetrics.RetryResult?>(nil)
        let applied = try await store(leased) { rules, record, now in
            if case .failure(let error) = outcome, Self.transient.contains(error.code) {
                // Not an attempt: the decision service never saw it. Never lost: tried again later.
                record.unanswered += 1
                result.set(.unanswered)
                return rules.scheduleRetry(&record, at: now, why: "the decision service did not answer (\(error.code)); retrying later")
            }
            record.unanswered = 0
            switch outcome {
            case .success(let response):
                record.exceptionCase.attempts += 1
                let exports = response.decision?.exports ?? []
                guard let published = exports.first(where: { $0.exportID == c.exportID }) ?? exports.first else {
                    result.set(.failed)
                    return rules.scheduleRetry(&record, at: now, why: "retry \(record.exceptionCase.attempts) published nothing")
                }
                if published.kind == .backorder {
                    // Out of stock everywhere: wait for stock. Refused for any other reason by
                    // every warehouse that could take it: a backorder would wait for stock that
                    // exists, so a human decides.
                    guard c.kind == .expiry || c.reason == .outOfStock else {
                        record.export.version = published.version
                        result.set(.queued)
                        return rules.enqueue(
                            &record, at: now,
                            why: "every warehouse that could take it refused it (\(c.rejectedBy.joined(separator: ", "))); re-evaluation could only backorder it as v\(published.version)")
                    }
                    result.set(.backordered)
                    return rules.awaitStock(&record, version: published.version, expectedRestock: 0, at: now, why: "retry \(record.exceptionCase.attempts) found no warehouse with stock: backorder v\(published.version)")
                }
                result.set(.routed)
                let target = published.warehouseID.isEmpty ? published.intendedAction : published.warehouseID
                return rules.resolve(
                    &record, Resolution(kind: .retried, reason: "\(published.exportID)@\(published.version) routes to \(target)"),
                    actor: CaseRules.serviceActor, at: now)
            case .failure(let error) where Self.final.contains(error.code):
                record.exceptionCase.attempts += 1
                result.set(.queued)
                return rules.enqueue(&record, at: now, why: "the decision service cannot re-decide it: \(error.code): \(error.message)")
            case .failure(let error):
                record.exceptionCase.attempts += 1
                result.set(.failed)
                return rules.scheduleRetry(&record, at: now, why: "retry \(record.exceptionCase.attempts) failed: \(error.code): \(error.message)")
            }
        }
        if applied, let result = result.value { service.metrics.retried(result) }
    }

    /// Errors where the decision service did not decide anything.
    static let transient: Set<StatusCode> = [.unavailable, .deadlineExceeded, .resourceExhausted, .cancelled]
    /// Errors that the same request would get again: retrying cannot help, a human must.
    static let final: Set<StatusCode> = [.failedPrecondition, .invalidArgument, .notFound, .aborted, .permissionDenied, .unauthenticated, .unimplemented]

    // MARK: Backorders

    /// Asks the registry for the export's latest version: a newer routing version
    /// means stock arrived and the decision service routed it.
    private func checkStock(_ leased: CaseRecord) async throws(ExceptionError) {
        let c = leased.exceptionCase
        let latest: Export?
        do {
            latest = try await service.registryExport(tenantID: c.tenantID, exportID: c.exportID, version: 0)
        } catch .dependencyUnavailable {
            latest = nil
        }
        let pollInterval = service.rules.policy.backorderPollIntervalMs
        try await store(leased) { rules, record, now in
            guard let latest, latest.version > leased.export.version else {
                record.timer = CaseTimer(kind: .backorderPoll, at: now + pollInterval)
                return []
            }
            if latest.state == .cancelled {
                return rules.resolve(&record, Resolution(kind: .cancelled, reason: "\(latest.exportID)@\(latest.version) was cancelled"), actor: CaseRules.serviceActor, at: now)
            }
            guard latest.kind == .routing else {
                record.export.version = latest.version
                record.timer = CaseTimer(kind: .backorderPoll, at: now + pollInterval)
                CaseRules.note(&record, at: now, "still backordered at v\(latest.version)")
                return []
            }
            return rules.resolve(
                &record, Resolution(kind: .retried, reason: "stock arrived: \(latest.exportID)@\(latest.version) routes to \(latest.warehouseID)"),
                actor: CaseRules.serviceActor, at: now)
        }
    }
}

/// A value set inside a storage transaction and read once the transaction committed.
final class Committed<Value: Sendable>: Sendable {
    private let box: Mutex<Value>

    init(_ value: Value) { box = Mutex(value) }

    func set(_ value: Value) { box.withLock { $0 = value } }

    var value: Value { box.withLock { $0 } }
}

extension TimerKind {
    /// The span a timer's work is recorded in.
    var spanName: String {
        switch self {
        case .retry: "exceptions.retry"
        case .escalate: "exceptions.escalate"
        case .backorderPoll: "exceptions.backorder_check"
        }
    }

    /// The event-log line of a timer's stored outcome.
    var event: Logger.Message {
        switch self {
        case .retry: "case retried"
        case .escalate: "case escalated"
        case .backorderPoll: "backorder checked"
        }
    }
}
