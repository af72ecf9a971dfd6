import Foundation
public import Logging
public import MeshlineHTTP2
import MeshlineModels
public import MeshlineRPC

/// `meshline.v1.ExceptionRouter`: opens a case for every failed export version and
/// works it until resolved — automatic retries through the decision service, human
/// queues with escalation levels, backorders waiting for stock — and streams
/// notifications for CRM connectors. Timed work is done by ``CaseScheduler``.
public final class ExceptionRouterService: RPCService {
    public struct Configuration: Sendable {
        /// Longest free text accepted (detail, reason).
        public var maximumTextLength = 2048
        /// How long a Notifications stream waits for a wake-up before it looks at
        /// storage again (events stored by another replica).
        public var notificationPollInterval: Duration = .seconds(1)
        /// Deadline of calls to the registry and the decision service.
        public var dependencyTimeout: Duration = .seconds(10)

        public init() {}
    }

    let store: any CaseStore
    let rules: CaseRules
    let registry: RPCClient
    let decision: RPCClient?
    let configuration: Configuration
    let clock: @Sendable () -> Int64
    /// Fired after every stored change: wakes Notifications streams and the scheduler.
    let changes = ChangeSignal()
    let metrics = RouterMetrics()
    let logger: Logger

    /// `registry` answers Get; `decision` answers Reevaluate (nil: retries wait until one is configured).
    public init(
        store: any CaseStore, policy: RouterPolicy, registry: RPCClient, decision: RPCClient?, configuration: Configuration = Configuration(),
        clock: @escaping @Sendable () -> Int64 = { UnixClock.nowMilliseconds() },
        logger: Logger = Logger(label: "meshline.exceptions", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.logger = logger
        self.store = store
        self.rules = CaseRules(policy: policy)
        self.registry = registry
        self.decision = decision
        self.configuration = configuration
        self.clock = clock
    }

    public var serviceName: String { ExceptionRouterDescriptor.fullName }

    public var handlers: [RPCHandler] {
        [
            .unary(ExceptionRouterDescriptor.report) { [self] (request: ReportRequest, _) in try await report(request) },
            .unary(ExceptionRouterDescriptor.listQueue) { [self] (request: ListQueueRequest, _) in try await listQueue(request) },
            .unary(ExceptionRouterDescriptor.claim) { [self] (request: ClaimRequest, _) in try await claim(request) },
            .unary(ExceptionRouterDescriptor.resolve) { [self] (request: ResolveRequest, _) in try await resolve(request) },
            .serverStreaming(ExceptionRouterDescriptor.notifications) { [self] (request: NotificationsRequest, writer: ResponseWriter<NotificationEvent>, _) in
                try await notifications(request, writer)
            },
        ]
    }

    // MARK: Report

    func report(_ request: ReportRequest) async throws(ExceptionError) -> ReportResponse {
        try Self.requireIdentifier(request.tenantID, field: "tenant_id")
        try Self.requireIdentifier(request.exportID, field: "export_id")
        guard request.exportVersion > 0 else { throw .invalidRequest(field: "export_version", reason: "is not set; report the version that failed") }
        switch request.kind {
        case .unspecified:
            throw .invalidRequest(field: "kind", reason: "is unspecified; use REJECTION, EXPIRY or BACKORDER")
        case .rejection where request.reason == .unspecified:
            throw .invalidRequest(field: "reason", reason: "is unspecified; a rejection says why (OUT_OF_STOCK, INCORRECT_ADDRESS, CAPACITY or OTHER)")
        default:
            break
        }
        try requireText(request.detail, field: "detail")
        if !request.warehouseID.isEmpty { try Self.requireIdentifier(request.warehouseID, field: "warehouse_id") }
        guard request.expectedRestockAtUnixMs >= 0 else { throw .invalidRequest(field: "expected_restock_at_unix_ms", reason: "is negative; use 0 when unknown") }

        // The export's latest case answers both questions in the common case: is this a
        // repeat, and what carries over from earlier versions.
        var earlier = try await store.record(tenantID: request.tenantID, exportID: request.exportID, version: nil)
        if let latest = earlier, latest.exceptionCase.exportVersion >= request.exportVersion {
            if let existing = latest.exceptionCase.exportVersion == request.exportVersion
                ? latest : try await store.record(tenantID: request.tenantID, exportID: request.exportID, version: request.exportVersion)
            {
                return ReportResponse(exceptionCase: existing.exceptionCase, duplicate: true)
            }
            // A late report of an older version: nothing newer carries over into it.
            earlier = nil
        }
        if let open = earlier, request.kind == .backorder, let attached = try await attach(request, to: open) {
            return ReportResponse(exceptionCase: attached.exceptionCase, duplicate: false)
        }
        let export = try await registryExport(tenantID: request.tenantID, exportID: request.exportID, version: request.exportVersion)
        let now = clock()
        var record = Self.newRecord(request, export: export, earlier: earlier, now: now)
        record.exceptionCase.traceparent = TraceContext.current?.traceparent ?? ""
        let notifications = route(&record, request: request, at: now)
        let (stored, duplicate) = try await store.open(CaseChange(record: record, notifications: notifications))
        if !duplicate {
            changes.fire()
            metrics.opened(request.kind)
            logCase("case opened", stored.exceptionCase, ["kind": "\(request.kind.protoName)", "reason": "\(stored.exceptionCase.reason.protoName)"])
        }
        return ReportResponse(exceptionCase: stored.exceptionCase, duplicate: duplicate)
    }

    /// Adds a backorder of a newer version to the export's case while that case is open
    /// (nil when it is resolved): the backorder the case's own retry published is part of
    /// the case, not a second case waiting for the same stock with a second customer
    /// notice. Rejections and expiries still open a case of their own: they need a retry
    /// or a person (an expired backorder is no longer re-decided when stock arrives), and
    /// the open case may be the retry whose new version just failed.
    private func attach(_ request: ReportRequest, to open: CaseRecord) async throws(ExceptionError) -> CaseRecord? {
        guard open.exceptionCase.state != .resolved else { return nil }
        let attached = Committed(false)
        let now = clock()
        let stored = try await store.update(tenantID: open.exceptionCase.tenantID, caseID: open.exceptionCase.caseID) {
            (current: CaseRecord) throws(ExceptionError) -> CaseChange? in
            guard current.exceptionCase.state != .resolved else { return nil }
            var record = current
            record.exceptionCase.exportVersion = max(record.exceptionCase.exportVersion, request.exportVersion)
            CaseRules.note(&record, at: now, "\(request.exportID)@\(request.exportVersion) backordered: v\(request.exportVersion) reported into this open case")
            attached.set(true)
            return CaseChange(record: record, notifications: [])
        }
        return attached.value ? stored : nil
    }

    /// A new case for `request`. Warehouses that rejected earlier versions of the
    /// export, and the retries spent on them, carry over: a retry never goes back to
    /// a warehouse that refused, and the budget is per export, not per version.
    static func newRecord(_ request: ReportRequest, export: Export, earlier: CaseRecord?, now: Int64) -> CaseRecord {
        var rejectedBy = earlier?.exceptionCase.rejectedBy ?? []
        let warehouse = request.warehouseID.isEmpty ? export.warehouseID : request.warehouseID
        if request.kind == .rejection, !warehouse.isEmpty, !rejectedBy.contains(warehouse) { rejectedBy.append(warehouse) }
        let exceptionCase = ExceptionCase(
            caseID: "case-" + UUID().uuidString.lowercased(), tenantID: request.tenantID, exportID: request.exportID,
            exportVersion: request.exportVersion, orderID: export.orderID, kind: request.kind,
            reason: request.kind == .expiry && request.reason == .unspecified ? .expired : request.reason,
            detail: request.detail, state: .queued, attempts: earlier?.exceptionCase.attempts ?? 0,
            createdAtUnixMs: now, updatedAtUnixMs: now, rejectedBy: rejectedBy)
        // What the router needs of the export; not the order (personal data) nor the audit trail.
        let context = Export(
            exportID: export.exportID, tenantID: export.tenantID, orderID: export.orderID, kind: export.kind, version: export.version,
            sla: export.sla, exceptionPath: export.exceptionPath, escalationContacts: export.escalationContacts, state: export.state,
            warehouseID: export.warehouseID)
        var record = CaseRecord(exceptionCase: exceptionCase, export: context)
        let what = request.kind == .rejection ? "rejected (\(request.reason.protoName))" : request.kind == .expiry ? "expired" : "backordered"
        CaseRules.note(&record, at: now, "opened: \(request.exportID)@\(request.exportVersion) \(what)\(warehouse.isEmpty ? "" : " at \(warehouse)")")
        return record
    }

    /// The first step of a new case: backorder queue, retry, or a human queue.
    private func route(_ record: inout CaseRecord, request: ReportRequest, at now: Int64) -> [NotificationEvent] {
        if request.kind == .backorder {
            return rules.awaitStock(&record, version: request.exportVersion, expectedRestock: request.expectedRestockAtUnixMs, at: now, why: "no warehouse can fill the order")
        }
        let path = record.export.exceptionPath?.type ?? .unspecified
        guard path == .autoRetry else {
            return rules.enqueue(&record, at: now, why: "the exception path is \(path.protoName)")
        }
        if rules.policy.section(tenantID: request.tenantID).neverRetry.contains(record.exceptionCase.reason) {
            return rules.enqueue(&record, at: now, why: "\(record.exceptionCase.reason.protoName) is never retried")
        }
        return rules.scheduleRetry(&record, at: now, why: "automatic retry per policy")
    }

    /// One version of an export from the registry.
    func registryExport(tenantID: String, exportID: String, version: Int64) async throws(ExceptionError) -> Export {
        do {
            let response: GetExportResponse = try await registry.unary(
                ExportRegistryDescriptor.get, GetExportRequest(tenantID: tenantID, exportID: exportID, version: version), timeout: configuration.dependencyTimeout)
            guard let export = response.export else { throw ExceptionError.exportNotFound("\(exportID)@\(version)") }
            return export
        } catch let error as ExceptionError {
            throw error
        } catch let error as RPCError where error.code == .notFound {
            throw .exportNotFound(version > 0 ? "\(exportID)@\(version)" : exportID)
        } catch {
            throw .dependencyUnavailable("the registry did not answer Get for \(exportID): \(RPCError.from(error)); the call is safe to repeat")
        }
    }

    // MARK: ListQueue

    func listQueue(_ request: ListQueueRequest) async throws(ExceptionError) -> ListQueueResponse {
        try Self.requireIdentifier(request.tenantID, field: "tenant_id")
        guard request.queue.utf8.count <= ExportLimits.maximumLabelLength else {
            throw .invalidRequest(field: "queue", reason: "is longer than \(ExportLimits.maximumLabelLength) bytes")
        }
        guard (0...1000).contains(request.pageSize) else {
            throw .invalidRequest(field: "page_size", reason: "is \(request.pageSize); use 1 to 1000, or 0 for 100")
        }
        var after: QueuePosition?
        if !request.pageToken.isEmpty {
            guard let position = Cursor.pagePosition(request.pageToken) else {
                throw .invalidRequest(field: "page_token", reason: "is not a token this router issued; pass next_page_token unchanged")
            }
            after = position
        }
        let limit = request.pageSize == 0 ? 100 : Int(request.pageSize)
        let page = try await store.list(QueueFilter(
            tenantID: request.tenantID, queue: request.queue.isEmpty ? nil : request.queue,
            state: request.state == .unspecified ? nil : request.state, after: after, limit: limit + 1))
        let cases = page.prefix(limit)
        return ListQueueResponse(
            cases: cases.map(\.exceptionCase), nextPageToken: page.count > limit ? Cursor.page(cases.last!.position) : "")
    }

    // MARK: Claim

    func claim(_ request: ClaimRequest) async throws(ExceptionError) -> ClaimResponse {
        try Self.requireIdentifier(request.tenantID, field: "tenant_id")
        try Self.requireIdentifier(request.caseID, field: "case_id")
        let claimant = try Self.party(request.claimant, field: "claimant")
        let rules = self.rules
        let now = clock()
        let release = request.release
        let stored = try await store.update(tenantID: request.tenantID, caseID: request.caseID) { (current: CaseRecord) throws(ExceptionError) -> CaseChange? in
            var record = current
            let c = current.exceptionCase
            if release {
                guard c.state == .claimed else { throw .conflict("case '\(c.caseID)' is \(c.state.protoName), not claimed; nothing to release") }
                guard c.claimedBy == claimant else { throw .conflict("case '\(c.caseID)' is claimed by \(c.claimedBy); only they can release it") }
                record.exceptionCase.state = .queued
                record.exceptionCase.claimedBy = ""
                CaseRules.note(&record, at: now, actor: claimant, "released by \(claimant)")
                // Back in the queue with a fresh delay at its level; a backorder keeps waiting for stock.
                if record.timer?.kind != .backorderPoll { rules.armEscalation(&record, at: now) }
                return CaseChange(record: record)
            }
            switch c.state {
            case .claimed where c.claimedBy == claimant:
                return nil
            case .claimed:
                throw .conflict("case '\(c.caseID)' is already claimed by \(c.claimedBy); they must release it first")
            case .queued:
                record.exceptionCase.state = .claimed
                record.exceptionCase.claimedBy = claimant
                if record.timer?.kind == .escalate { record.timer = nil }
                CaseRules.note(&record, at: now, actor: claimant, "claimed by \(claimant) at level \(c.escalationLevel)")
                return CaseChange(record: record)
            default:
                throw .conflict("case '\(c.caseID)' is \(c.state.protoName); only a queued case can be claimed")
            }
        }
        changes.fire()
        logCase(stored.exceptionCase.state == .claimed ? "case claimed" : "case released", stored.exceptionCase, ["by": "\(stored.exceptionCase.claimedBy)"])
        return ClaimResponse(exceptionCase: stored.exceptionCase)
    }

    // MARK: Resolve

    func resolve(_ request: ResolveRequest) async throws(ExceptionError) -> ResolveResponse {
        try Self.requireIdentifier(request.tenantID, field: "tenant_id")
        try Self.requireIdentifier(request.caseID, field: "case_id")
        let actor = try Self.party(request.actor, field: "actor")
        let resolution = request.resolution
        try requireText(resolution.reason, field: "resolution.reason")
        switch resolution.kind {
        case .unspecified:
            throw .invalidRequest(field: "resolution.kind", reason: "is unspecified; use RETRIED, OVERRIDDEN or CANCELLED")
        case .cancelled where resolution.reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty:
            throw .invalidRequest(field: "resolution.reason", reason: "is empty; a cancellation says why")
        case .overridden:
            guard let current = try await store.record(tenantID: request.tenantID, caseID: request.caseID) else { throw .caseNotFound(caseID: request.caseID) }
            try await verifyOverride(resolution.overrideRef, of: current.exceptionCase)
        default:
            break
        }
        if resolution.kind != .overridden, !resolution.overrideRef.isEmpty {
            throw .invalidRequest(field: "resolution.override_ref", reason: "is set but the resolution is \(resolution.kind.protoName); only overrides carry one")
        }
        let rules = self.rules
        let now = clock()
        let stored = try await store.update(tenantID: request.tenantID, caseID: request.caseID) { (current: CaseRecord) throws(ExceptionError) -> CaseChange? in
            let c = current.exceptionCase
            guard c.state != .resolved else {
                throw .conflict("case '\(c.caseID)' is already resolved (\(c.resolution?.kind.protoName ?? "")); nothing to do")
            }
            if c.state == .claimed, c.claimedBy != actor {
                throw .conflict("case '\(c.caseID)' is claimed by \(c.claimedBy); only they can resolve it")
            }
            var record = current
            let notifications = rules.resolve(&record, resolution, actor: actor, at: now)
            return CaseChange(record: record, notifications: notifications)
        }
        changes.fire()
        logCase("case resolved", stored.exceptionCase, ["resolution": "\(stored.exceptionCase.resolution?.kind.protoName ?? "")"])
        return ResolveResponse(exceptionCase: stored.exceptionCase)
    }

    /// One structured line per event of a case: trace id, tenant, export id and case id,
    /// state and queue; never the order or free text from a report.
    func logCase(_ message: Logger.Message, _ exceptionCase: ExceptionCase, _ extra: Logger.Metadata = [:]) {
        logger.info(message, metadata: {
            var metadata: Logger.Metadata = [
                "trace_id": "\(TraceContext.current?.traceID ?? "")", "tenant": "\(exceptionCase.tenantID)",
                "export_id": "\(exceptionCase.exportID)", "version": "\(exceptionCase.exportVersion)", "case_id": "\(exceptionCase.caseID)",
                "state": "\(exceptionCase.state.protoName)", "queue": "\(exceptionCase.queue)",
            ]
            metadata.merge(extra) { $1 }
            return metadata
        }())
    }

    /// An override resolution points at the version a signed override produced:
    /// `EXPORT_ID@VERSION` of the case's export, present in the registry, whose last
    /// audit entry carries the signature.
    private func verifyOverride(_ reference: String, of exceptionCase: ExceptionCase) async throws(ExceptionError) {
        let field = "resolution.override_ref"
        let parts = reference.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, let version = Int64(parts[1]), version > 0 else {
            throw .invalidRequest(field: field, reason: "'\(reference)' is not EXPORT_ID@VERSION, e.g. \(exceptionCase.exportID)@\(exceptionCase.exportVersion + 1)")
        }
        guard parts[0] == exceptionCase.exportID else {
            throw .invalidRequest(field: field, reason: "names export '\(parts[0])' but the case is about '\(exceptionCase.exportID)'")
        }
        // An override made before the case (an earlier decision's) does not resolve it.
        guard version > exceptionCase.exportVersion else {
            throw .invalidRequest(field: field, reason: "'\(reference)' is not newer than the case's version \(exceptionCase.exportVersion); pass the version the override of this case produced")
        }
        let export: Export
        do {
            export = try await registryExport(tenantID: exceptionCase.tenantID, exportID: exceptionCase.exportID, version: version)
        } catch .exportNotFound {
            throw .conflict("\(reference) does not exist in the registry; apply the signed override first and pass the version it produced")
        }
        guard export.auditTrail.last?.override != nil else {
            throw .conflict("\(reference) was not produced by a signed override; pass the version the Override call returned")
        }
    }

    // MARK: Notifications

    func notifications(_ request: NotificationsRequest, _ writer: ResponseWriter<NotificationEvent>) async throws {
        try Self.requireIdentifier(request.tenantID, field: "tenant_id")
        var sequence: Int64 = 0
        if !request.cursor.isEmpty {
            guard let decoded = Cursor.notificationSequence(request.cursor) else {
                throw ExceptionError.invalidRequest(field: "cursor", reason: "is not a cursor this router issued; pass an event's cursor unchanged")
            }
            sequence = decoded
        }
        let page = 256
        while !Task.isCancelled {
            let seen = changes.generation
            let events = try await store.notifications(tenantID: request.tenantID, after: sequence, limit: page)
            for event in events {
                // Suspends while the reader is backed up: a slow connector holds one page at most.
                try await writer.write(event)
                sequence = Cursor.notificationSequence(event.cursor) ?? sequence
            }
            if events.count < page {
                await changes.wait(since: seen, timeout: configuration.notificationPollInterval)
            }
        }
    }

    // MARK: Checks

    static func requireIdentifier(_ value: String, field: String) throws(ExceptionError) {
        if let problem = Identifier.problem(with: value) { throw .invalidRequest(field: field, reason: problem) }
    }

    private func requireText(_ value: String, field: String) throws(ExceptionError) {
        guard value.utf8.count <= configuration.maximumTextLength else {
            throw .invalidRequest(field: field, reason: "is longer than \(configuration.maximumTextLength) bytes")
        }
    }

    private static func party(_ text: String, field: String) throws(ExceptionError) -> String {
        do {
            return try Party(parsing: text).text
        } catch {
            throw .invalidRequest(field: field, reason: "'\(text)' is not a party: \(error.description); e.g. agency:fulfillment-team")
        }
    }
}
