import Crypto
import Foundation
public import Logging
import MeshlineModels
public import MeshlineRPC
import Synchronization

/// `meshline.v1.ExportRegistry`: the single, append-only source of truth for exports.
public final class ExportRegistryService: RPCService {
    public struct Configuration: Sendable {
        /// How far `issued_at` of an override may be from now, either way.
        public var overrideFreshness: Int64 = 5 * 60 * 1000
        /// Longest idempotency key, identifier and free text accepted in requests.
        public var maximumKeyLength = 128
        /// Exports Reconcile reads at a time (its memory is one page plus the tallies).
        public var reconcilePageSize = 1000

        public init() {}
    }

    let store: any RegistryStore
    let tenants: TenantDirectory
    let configuration: Configuration
    let notifier = CommitNotifier()
    let metrics = RegistryMetrics()
    let logger: Logger
    private let clock: @Sendable () -> Int64
    private let watchEvents = Atomic<Int>(0)
    /// The newest commit sequence seen, to notice other replicas' commits (shared databases).
    private let seenSequence = Atomic<Int64>(0)

    /// Watch events handed to the transport so far, across all watchers.
    public var watchEventsSent: Int { watchEvents.load(ordering: .relaxed) }

    /// `logger` gets one info line per change of an export (published, acknowledged,
    /// overridden, expired, refused by the QA gate) with its trace id, tenant and export
    /// id; without one, events are not logged (the executable passes its logger).
    public init(
        store: any RegistryStore, tenants: TenantDirectory, configuration: Configuration = Configuration(),
        clock: @escaping @Sendable () -> Int64 = { UnixTime.nowMilliseconds() },
        logger: Logger = Logger(label: "meshline.registry", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.logger = logger
        self.store = store
        self.tenants = tenants
        self.configuration = configuration
        self.clock = clock
    }

    public var serviceName: String { ExportRegistryDescriptor.fullName }

    public var handlers: [RPCHandler] {
        [
            .unary(ExportRegistryDescriptor.publish) { [self] (request: PublishRequest, context) in try await publish(request, context) },
            .unary(ExportRegistryDescriptor.get, fast: { [self] (request: GetExportRequest, _) throws(RPCError) in try cachedGet(request) }) { [self] (request: GetExportRequest, _) in
                try await get(request)
            },
            .unary(ExportRegistryDescriptor.history) { [self] (request: HistoryRequest, _) in try await history(request) },
            .unary(ExportRegistryDescriptor.list) { [self] (request: ListExportsRequest, _) in try await list(request) },
            .serverStreaming(ExportRegistryDescriptor.watch) { [self] (request: WatchRequest, writer: ResponseWriter<WatchEvent>, _) in
                try await watch(request, writer)
            },
            .unary(ExportRegistryDescriptor.acknowledge) { [self] (request: AcknowledgeRequest, context) in try await acknowledge(request, context) },
            .unary(ExportRegistryDescriptor.override) { [self] (request: OverrideRequest, _) in try await override(request) },
            .unary(ExportRegistryDescriptor.reconcile) { [self] (request: ReconcileRequest, _) in try await reconcile(request) },
        ]
    }

    // MARK: Publish

    func publish(_ request: PublishRequest, _ context: ServerCallContext) async throws(RegistryError) -> PublishResponse {
        let trace = TraceContext.current
        let traceID = trace?.traceID ?? ""
        try requireTenant(request.tenantID)
        var export = request.export
        guard export.tenantID == request.tenantID else {
            throw .invalidRequest(field: "export.tenant_id", reason: "is '\(export.tenantID)' but the request is for tenant '\(request.tenantID)'; they must be equal")
        }
        guard request.expectedVersion >= 0 else {
            throw .invalidRequest(field: "expected_version", reason: "is negative; use 0 for a new export or the current version to supersede")
        }
        guard request.idempotencyKey.utf8.count <= configuration.maximumKeyLength else {
            throw .invalidRequest(field: "idempotency_key", reason: "is longer than \(configuration.maximumKeyLength) bytes")
        }
        let now = clock()
        let violations = export.qaViolations(context: ExportQAContext(nowUnixMs: now, serviceLevels: tenants.tenants[request.tenantID]?.serviceLevels))

        // What the publish asks for, independent of the key and of registry-owned fields.
        export.auditTrail = []
        export.version = 0
        export.state = .unspecified
        export.committedAtUnixMs = 0
        export.supersedesVersion = 0
        export.shippedAtUnixMs = 0
        let requestHash = Array(SHA256.hash(data: export.serializedBytes() + Array(String(request.expectedVersion).utf8)))
        let expected = request.expectedVersion
        let key = request.idempotencyKey.isEmpty ? nil : request.idempotencyKey
        guard violations.isEmpty else {
            // A retry of a publish that was stored gets the stored export even when the gate
            // would now refuse it (its TTL passed since, the tenant's SLA list changed).
            if let key, let stored = try await storedPublish(tenantID: request.tenantID, exportID: export.exportID, key: key, requestHash: requestHash) {
                return PublishResponse(export: stored, replayed: true)
            }
            metrics.refusedByQA(violations)
            logEvent("publish refused by the QA gate", tenant: request.tenantID, exportID: export.exportID, [
                "rules": "\(Set(violations.map(\.rule)).sorted().joined(separator: ","))"
            ])
            throw .qaFailed(violations)
        }
        let actor = Self.actor(context, fallback: "tenant:\(request.tenantID)")
        let submitted = export

        let (stored, replayed) = try await append(AppendRequest(
            tenantID: request.tenantID, exportID: export.exportID,
            liveKey: expected == 0 ? LiveKey(export) : nil,
            idempotencyKey: key
        ) { (state: AppendContext) throws(RegistryError) -> AppendPlan in
            if let earlier = state.idempotent {
                guard earlier.requestHash == requestHash else { throw .idempotencyKeyReused(key: key ?? "") }
                return .replay(exportID: earlier.exportID, version: earlier.version)
            }
            var next = submitted
            if expected == 0 {
                if let current = state.current {
                    throw .conflict("export '\(current.exportID)' already exists at version \(current.version); pass expected_version=\(current.version) to supersede it")
                }
                if let live = state.liveExportID {
                    throw .conflict("live export '\(live)' already covers \(LiveKey(submitted).described); supersede it with expected_version, or wait until it completes")
                }
                next.version = 1
            } else {
                guard let current = state.current else { throw .notFound(exportID: submitted.exportID) }
                guard current.version == expected else { throw .staleVersion(expected: expected, current: current.version) }
                // A shipped or cancelled export stays finished: superseding it would make the
                // order live again (and shippable twice). An expired one may be re-decided.
                guard ![.completed, .cancelled].contains(current.state) else {
                    throw .conflict("export '\(current.exportID)' v\(current.version) is \(current.state.protoName) and is not superseded; publish a new export for the order")
                }
                guard current.orderID == submitted.orderID else {
                    throw .invalidRequest(field: "export.order_id", reason: "must stay '\(current.orderID)' when superseding")
                }
                // A backorder becomes a routing when stock arrives (and back when it runs out);
                // any other change of kind is a different export.
                let interchangeable: Set<ExportKind> = [.routing, .backorder]
                guard current.kind == submitted.kind || (interchangeable.contains(current.kind) && interchangeable.contains(submitted.kind)) else {
                    throw .invalidRequest(field: "export.kind", reason: "must stay \(current.kind.protoName) when superseding; only routing and backorder may replace each other")
                }
                next.version = expected + 1
                next.supersedesVersion = expected
                next.auditTrail = current.auditTrail
            }
            next.state = .published
            next.record(
                at: state.now, actor: actor, change: "\(Self.publishedChange)\(next.version)\(expected == 0 ? "" : ", superseding v\(expected)")", traceID: traceID)
            var effects = AppendSideEffects(idempotency: key.map { ($0, requestHash) })
            // A backorder is an exception from the start: the router opens its case (and tells
            // the customer) through the same outbox as rejections, so it is never lost.
            if next.kind == .backorder && state.current?.kind != .backorder {
                effects.outbox = [ReportRequest(
                    tenantID: next.tenantID, exportID: next.exportID, exportVersion: next.version, kind: .backorder,
                    detail: "no warehouse can fill \(next.lines.map { "\($0.quantity)× \($0.sku)" }.joined(separator: ", "))")]
                effects.traceparent = trace?.traceparent
            }
            return .store(next, sideEffects: effects)
        })
        if !replayed {
            notifier.committed()
            metrics.published(stored.kind)
            logEvent("export published", stored, ["kind": "\(stored.kind.protoName)", "owner": "\(stored.owningParty?.text ?? "")"])
        }
        return PublishResponse(export: stored, replayed: replayed)
    }

    /// Whether the change that made this version could have changed its owner or
    /// watchers: an override, or a superseding publish (a re-decision). Acknowledgements
    /// and expiries keep the parties, so a Watch need not look at their previous version.
    static func mayChangeParties(_ export: Export) -> Bool {
        guard let entry = export.auditTrail.last else { return true }
        return entry.override != nil || entry.change.hasPrefix(Self.publishedChange)
    }

    /// How a publish's audit entry begins (`published v2, superseding v1`).
    static let publishedChange = "published v"

    /// The export an earlier publish with this idempotency key and request stored, if
    /// any: plain reads, so that refused publishes never take a turn of the writer.
    private func storedPublish(tenantID: String, exportID: String, key: String, requestHash: [UInt8]) async throws(RegistryError) -> Export? {
        guard let earlier = try await store.idempotencyRecord(tenantID: tenantID, key: key), earlier.requestHash == requestHash else { return nil }
        return try await store.export(tenantID: tenantID, exportID: earlier.exportID, version: earlier.version)
    }

    // MARK: Reads

    /// The latest version from the store's cache, answered on the event loop; nil sends the call to ``get(_:)``.
    func cachedGet(_ request: GetExportRequest) throws(RPCError) -> GetExportResponse? {
        // A hit means the tenant and id were valid when the export was stored.
        guard request.version == 0, let export = store.cachedLatest(tenantID: request.tenantID, exportID: request.exportID) else { return nil }
        return GetExportResponse(export: export)
    }

    func get(_ request: GetExportRequest) async throws(RegistryError) -> GetExportResponse {
        try requireTenant(request.tenantID)
        try requireIdentifier(request.exportID, field: "export_id")
        guard let export = try await store.export(tenantID: request.tenantID, exportID: request.exportID, version: request.version > 0 ? request.version : nil) else {
            throw .notFound(exportID: request.version > 0 ? "\(request.exportID)@\(request.version)" : request.exportID)
        }
        return GetExportResponse(export: export)
    }

    func history(_ request: HistoryRequest) async throws(RegistryError) -> HistoryResponse {
        try requireTenant(request.tenantID)
        try requireIdentifier(request.exportID, field: "export_id")
        let versions = try await store.history(tenantID: request.tenantID, exportID: request.exportID)
        guard !versions.isEmpty else { throw .notFound(exportID: request.exportID) }
        return HistoryResponse(versions: versions)
    }

    func list(_ request: ListExportsRequest) async throws(RegistryError) -> ListExportsResponse {
        try requireTenant(request.tenantID)
        guard (0...1000).contains(request.pageSize) else {
            throw .invalidRequest(field: "page_size", reason: "is \(request.pageSize); use 1 to 1000, or 0 for 100")
        }
        let limit = request.pageSize == 0 ? 100 : Int(request.pageSize)
        var cursor: String?
        if !request.pageToken.isEmpty {
            guard let decoded = PageToken.decode(request.pageToken) else {
                throw .invalidRequest(field: "page_token", reason: "is not a token this registry issued; pass next_page_token unchanged")
            }
            cursor = decoded
        }
        let filter = ExportFilter(
            owner: request.owner?.text, state: request.state == .unspecified ? nil : request.state,
            orderID: request.orderID.isEmpty ? nil : request.orderID, kind: request.kind == .unspecified ? nil : request.kind)
        let page = try await store.list(tenantID: request.tenantID, filter: filter, after: cursor, limit: limit + 1)
        let exports = Array(page.prefix(limit))
        let next = page.count > limit ? PageToken.encode(exports.last!.exportID) : ""
        return ListExportsResponse(exports: exports, nextPageToken: next)
    }

    // MARK: Watch

    func watch(_ request: WatchRequest, _ writer: ResponseWriter<WatchEvent>) async throws {
        try requireTenant(request.tenantID)
        var sequence: Int64
        if !request.cursor.isEmpty {
            guard let decoded = PageToken.decodeSequence(request.cursor) else {
                throw RegistryError.invalidRequest(field: "cursor", reason: "is not a cursor this registry issued; pass an event's cursor unchanged")
            }
            sequence = decoded
        } else if request.fromBeginning {
            sequence = 0
        } else {
            sequence = try await store.lastSequence()
        }
        let parties = Set(request.parties.map(\.text))
        func involves(_ export: Export) -> Bool {
            ([export.owningParty].compactMap { $0 } + export.watchers).contains { parties.contains($0.text) }
        }
        // Whether the latest version this stream saw of an export involved the parties
        // (bounded; what it forgets is read again from the store).
        var involvedBefore: [String: Bool] = [:]
        let wakeups = notifier.subscribe()
        defer { notifier.unsubscribe(wakeups.id) }
        while !Task.isCancelled {
            let commits = try await store.commits(tenantID: request.tenantID, after: sequence, limit: 256)
            for commit in commits {
                sequence = commit.sequence
                if !parties.isEmpty {
                    let export = commit.export
                    let involvedNow = involves(export)
                    // A version that takes the export away from the parties (a new owner, a
                    // watcher removed) is theirs to see too: it tells them to stop working on it.
                    var wasInvolved = false
                    if !involvedNow, export.version > 1, Self.mayChangeParties(export) {
                        if let known = involvedBefore[export.exportID] {
                            wasInvolved = known
                        } else if let previous = try await store.export(tenantID: export.tenantID, exportID: export.exportID, version: export.version - 1) {
                            wasInvolved = involves(previous)
                        }
                    }
                    if involvedBefore.count >= 10_000 { involvedBefore.removeAll(keepingCapacity: true) }
                    involvedBefore[export.exportID] = involvedNow
                    guard involvedNow || wasInvolved else { continue }
                }
                // Suspends while the watcher's connection is backed up: a slow watcher
                // holds at most one page of commits, never the whole log.
                try await writer.write(WatchEvent(export: commit.export, cursor: PageToken.encodeSequence(commit.sequence)))
                watchEvents.add(1, ordering: .relaxed)
            }
            if commits.count < 256 {
                await wakeups.next()
            }
        }
    }

    // MARK: Acknowledge

    func acknowledge(_ request: AcknowledgeRequest, _ context: ServerCallContext) async throws(RegistryError) -> AcknowledgeResponse {
        let trace = TraceContext.current
        let traceID = trace?.traceID ?? ""
        try requireTenant(request.tenantID)
        try requireIdentifier(request.exportID, field: "export_id")
        guard request.version > 0 else { throw .invalidRequest(field: "version", reason: "is not set; acknowledge the version you received") }
        guard request.detail.utf8.count <= ExportLimits.maximumTextLength else {
            throw .invalidRequest(field: "detail", reason: "is longer than \(ExportLimits.maximumTextLength) bytes")
        }
        let outcome = request.outcome
        switch outcome {
        case .unspecified:
            throw .invalidRequest(field: "outcome", reason: "is unspecified; use ACCEPTED, REJECTED or COMPLETED")
        case .rejected where request.reason == .unspecified:
            throw .invalidRequest(field: "reason", reason: "is unspecified; a rejection says why (out-of-stock, incorrect-address, capacity or other)")
        case .completed where request.shippedAtUnixMs <= 0:
            throw .invalidRequest(field: "shipped_at_unix_ms", reason: "is not set; a completion says when the order shipped")
        default:
            break
        }
        if let actor = request.actor {
            // The audit trail keeps it in every later version: a valid party, bounded like every name.
            guard actor.role != .unspecified else {
                throw .invalidRequest(field: "actor.role", reason: "is unspecified; name who acknowledges, e.g. 3pl:wh-a-ops")
            }
            do {
                try Party.checkName(actor.name)
            } catch {
                throw .invalidRequest(field: "actor.name", reason: "\(error)")
            }
        }
        let actor = request.actor.map(\.text) ?? Self.actor(context, fallback: "consumer")
        let stored = try await append(AppendRequest(tenantID: request.tenantID, exportID: request.exportID) {
            (state: AppendContext) throws(RegistryError) -> AppendPlan in
            guard let current = state.current else { throw .notFound(exportID: request.exportID) }
            guard current.version == request.version else { throw .staleVersion(expected: request.version, current: current.version) }
            let allowed: Set<ExportState> =
                switch outcome {
                case .accepted: [.published]
                case .rejected: [.published, .accepted]
                default: [.published, .accepted]
                }
            guard allowed.contains(current.state) else {
                throw .conflict("export '\(current.exportID)' v\(current.version) is \(current.state.protoName) and cannot be \(outcome.protoName)")
            }
            var next = current.successor()
            var effects = AppendSideEffects()
            let change: String
            switch outcome {
            case .accepted:
                next.state = .accepted
                change = "accepted"
            case .rejected:
                next.state = .rejected
                change = "rejected: \(request.reason.protoName)\(request.detail.isEmpty ? "" : " (\(request.detail))")"
                effects.outbox = [ReportRequest(
                    tenantID: current.tenantID, exportID: current.exportID, exportVersion: next.version, kind: .rejection,
                    reason: request.reason, detail: request.detail, warehouseID: current.warehouseID)]
                effects.traceparent = trace?.traceparent
            default:
                next.state = .completed
                next.shippedAtUnixMs = request.shippedAtUnixMs
                change = "completed: shipped at \(request.shippedAtUnixMs)"
            }
            next.record(at: state.now, actor: actor, change: change, traceID: traceID)
            return .store(next, sideEffects: effects)
        })
        notifier.committed()
        metrics.acknowledged(request.outcome, reason: request.reason)
        logEvent("export acknowledged", stored.export, [
            "outcome": "\(request.outcome.protoName)", "reason": "\(request.reason == .unspecified ? "" : request.reason.protoName)",
        ])
        return AcknowledgeResponse(export: stored.export)
    }

    // MARK: Override

    func override(_ request: OverrideRequest) async throws(RegistryError) -> OverrideResponse {
        let traceID = TraceContext.current?.traceID ?? ""
        let signed = request.override
        let change = signed.change
        try requireTenant(change.tenantID)
        try requireIdentifier(change.exportID, field: "override.change.export_id")
        guard !change.justification.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw .invalidRequest(field: "override.change.justification", reason: "is empty; every override says why it was made")
        }
        // Kept twice in the audit trail of this and every later version.
        guard change.justification.utf8.count <= ExportLimits.maximumTextLength else {
            throw .invalidRequest(field: "override.change.justification", reason: "is longer than \(ExportLimits.maximumTextLength) bytes")
        }
        guard !change.nonce.isEmpty, change.nonce.utf8.count <= configuration.maximumKeyLength else {
            throw .invalidRequest(field: "override.change.nonce", reason: "must be 1 to \(configuration.maximumKeyLength) bytes, never reused")
        }
        try tenants.verify(signed)
        let now = clock()
        // Any issued_at a signer sends must be refused, not overflow the subtraction.
        let (skew, overflowed) = change.issuedAtUnixMs.subtractingReportingOverflow(now)
        guard !overflowed, skew.magnitude <= configuration.overrideFreshness.magnitude else {
            throw .permissionDenied("the override was issued at \(change.issuedAtUnixMs), more than \(configuration.overrideFreshness / 1000) s from now (\(now)); sign it again")
        }
        if change.state != .unspecified, ![ExportState.cancelled, .completed].contains(change.state) {
            throw .invalidRequest(field: "override.change.state", reason: "may only be CANCELLED or COMPLETED")
        }
        let context = ExportQAContext(nowUnixMs: now, serviceLevels: tenants.tenants[change.tenantID]?.serviceLevels)
        let stored = try await append(AppendRequest(tenantID: change.tenantID, exportID: change.exportID, nonce: (change.signerKeyID, change.nonce)) {
            (state: AppendContext) throws(RegistryError) -> AppendPlan in
            guard let current = state.current else { throw .notFound(exportID: change.exportID) }
            guard current.version == change.baseVersion else { throw .staleVersion(expected: change.baseVersion, current: current.version) }
            var next = current
            var changed: [String] = []
            if let owner = change.owningParty { next.owningParty = owner; changed.append("owning_party") }
            if change.replaceWatchers { next.watchers = change.watchers; changed.append("watchers") }
            if !change.intendedAction.isEmpty {
                next.intendedAction = change.intendedAction
                if let action = try? IntendedAction(parsing: change.intendedAction), action.verb == .routeToWarehouse {
                    next.warehouseID = action.argument ?? ""
                }
                changed += ["intended_action", "warehouse_id"]
            }
            if let sla = change.sla { next.sla = sla; changed.append("sla") }
            if change.expiresAtUnixMs != 0 { next.expiresAtUnixMs = change.expiresAtUnixMs; changed.append("expires_at_unix_ms") }
            if let path = change.exceptionPath { next.exceptionPath = path; changed.append("exception_path") }
            if change.state != .unspecified { next.state = change.state } else if [.rejected, .expired].contains(current.state) { next.state = .published }
            // The QA gate applies to what the override changes.
            let violations = next.qaViolations(context: context).filter { violation in
                changed.contains { violation.field.hasPrefix("export.\($0)") }
            }
            guard violations.isEmpty else {
                self.metrics.refusedByQA(violations)
                throw .qaFailed(violations)
            }
            next = next.successor()
            next.record(at: state.now, actor: "key:\(change.signerKeyID)", change: "override: \(change.justification)", traceID: traceID, override: signed)
            return .store(next, sideEffects: AppendSideEffects())
        })
        notifier.committed()
        metrics.overrode()
        // The key that signed it; never the signature, and not the justification (free text).
        logEvent("export overridden", stored.export, ["key_id": "\(change.signerKeyID)"])
        return OverrideResponse(export: stored.export)
    }

    // MARK: Event log

    /// One structured line per event: trace id, tenant and export id, never the order
    /// (it holds the customer's address).
    private func logEvent(_ message: Logger.Message, tenant: String, exportID: String, _ extra: Logger.Metadata = [:]) {
        logger.info(message, metadata: {
            var metadata: Logger.Metadata = [
                "trace_id": "\(TraceContext.current?.traceID ?? "")", "tenant": "\(tenant)", "export_id": "\(exportID)",
            ]
            metadata.merge(extra) { $1 }
            return metadata
        }())
    }

    private func logEvent(_ message: Logger.Message, _ export: Export, _ extra: Logger.Metadata = [:]) {
        var extra = extra
        extra["version"] = "\(export.version)"
        logEvent(message, tenant: export.tenantID, exportID: export.exportID, extra)
    }

    // MARK: Reconcile

    func reconcile(_ request: ReconcileRequest) async throws(RegistryError) -> ReconcileResponse {
        try requireTenant(request.tenantID)
        let now = clock()
        let to = request.toUnixMs == 0 ? now : request.toUnixMs
        guard request.fromUnixMs < to else {
            throw .invalidRequest(field: "from_unix_ms", reason: "must be before to_unix_ms (or now)")
        }
        // Page by page: a range may hold more exports than should be in memory at once.
        var tally = Reconciliation(now: now)
        var cursor: ShipByCursor?
        while true {
            let page = try await store.routingExports(
                tenantID: request.tenantID, shipByFrom: request.fromUnixMs, to: to, after: cursor, limit: configuration.reconcilePageSize)
            tally.add(page)
            guard page.count == configuration.reconcilePageSize, let last = page.last else { break }
            cursor = ShipByCursor(after: last)
        }
        return ReconcileResponse(report: tally.report(tenantID: request.tenantID, from: request.fromUnixMs, to: to))
    }

    // MARK: Checks

    private func requireTenant(_ tenantID: String) throws(RegistryError) {
        if let problem = Identifier.problem(with: tenantID) {
            throw .invalidRequest(field: "tenant_id", reason: problem)
        }
    }

    private func requireIdentifier(_ value: String, field: String) throws(RegistryError) {
        if let problem = Identifier.problem(with: value) {
            throw .invalidRequest(field: field, reason: problem)
        }
    }

    /// Who makes a change: the `meshline-actor` request metadata when it is a valid
    /// party text, else `fallback`.
    /// Wakes this replica's Watch streams when another replica committed since the last
    /// look (a replica learns of its own commits at once; of others', through this poll).
    public func noticeCommitsOfOtherReplicas() async {
        guard store.hasOtherWriters, let last = try? await store.lastSequence() else { return }
        if seenSequence.exchange(last, ordering: .relaxed) < last { notifier.committed() }
    }

    /// Every storage write goes through here, so that each is a span of the call's trace.
    private func append(_ request: AppendRequest) async throws(RegistryError) -> (export: Export, replayed: Bool) {
        try await TraceRecording.withSpan("registry.storage.append", attributes: [("meshline.export_id", request.exportID)]) { () async throws(RegistryError) in
            try await store.append(request)
        }
    }

    private static func actor(_ context: ServerCallContext, fallback: String) -> String {
        if let text = context.requestMetadata["meshline-actor"], let party = try? Party(parsing: text) { return party.text }
        return fallback
    }
}

/// Opaque page tokens and Watch cursors.
enum PageToken {
    static func encode(_ exportID: String) -> String {
        "e." + Data(exportID.utf8).base64EncodedString()
    }

    static func decode(_ token: String) -> String? {
        guard token.hasPrefix("e."), let data = Data(base64Encoded: String(token.dropFirst(2))) else { return nil }
        return String(data: data, encoding: .utf8)
    }

    static func encodeSequence(_ sequence: Int64) -> String {
        "c." + String(sequence, radix: 36)
    }

    static func decodeSequence(_ cursor: String) -> Int64? {
        guard cursor.hasPrefix("c."), let value = Int64(cursor.dropFirst(2), radix: 36), value >= 0 else { return nil }
        return value
    }
}

/// Wakes Watch calls when something was committed.
final class CommitNotifier: Sendable {
    /// One Watch call's wake-ups; used by that call's task only.
    final class Subscription {
        let id: Int
        private var iterator: AsyncStream<Void>.AsyncIterator

        init(id: Int, stream: AsyncStream<Void>) {
            self.id = id
            self.iterator = stream.makeAsyncIterator()
        }

        /// Waits for the next commit (or returns at once if one happened since the last call).
        func next() async {
            _ = await iterator.next()
        }
    }

    private let subscribers = Mutex<(next: Int, all: [Int: AsyncStream<Void>.Continuation])>((0, [:]))

    func subscribe() -> Subscription {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let id = subscribers.withLock { state in
            let id = state.next
            state.next += 1
            state.all[id] = continuation
            return id
        }
        return Subscription(id: id, stream: stream)
    }

    func unsubscribe(_ id: Int) {
        let continuation = subscribers.withLock { $0.all.removeValue(forKey: id) }
        continuation?.finish()
    }

    func committed() {
        let all = subscribers.withLock { Array($0.all.values) }
        for continuation in all { continuation.yield() }
    }
}

extension ExportRegistryService {
    /// Marks a published export whose TTL passed as expired and queues its report
    /// for the exception router; false when it changed meanwhile (nothing to do).
    func expire(_ export: Export) async throws(RegistryError) -> Bool {
        do {
            _ = try await append(AppendRequest(tenantID: export.tenantID, exportID: export.exportID) {
                (state: AppendContext) throws(RegistryError) -> AppendPlan in
                guard let current = state.current, current.version == export.version, current.state == .published else {
                    throw .staleVersion(expected: export.version, current: state.current?.version ?? 0)
                }
                var next = current.successor()
                next.state = .expired
                next.record(at: state.now, actor: "service:registry", change: "expired: no acknowledgement before \(current.expiresAtUnixMs)", traceID: "")
                let report = ReportRequest(
                    tenantID: current.tenantID, exportID: current.exportID, exportVersion: next.version, kind: .expiry,
                    reason: .expired, detail: "no acknowledgement before the TTL", warehouseID: current.warehouseID)
                return .store(next, sideEffects: AppendSideEffects(outbox: [report]))
            })
        } catch .staleVersion {
            return false
        }
        notifier.committed()
        metrics.expiredByTTL()
        logEvent("export expired", tenant: export.tenantID, exportID: export.exportID, ["version": "\(export.version + 1)"])
        return true
    }
}
