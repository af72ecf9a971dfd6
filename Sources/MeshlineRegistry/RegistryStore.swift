public import MeshlineModels

/// What an append sees of the stored state, read inside its transaction.
public struct AppendContext: Sendable {
    /// The export's latest stored version, if the export exists.
    public var current: Export?
    /// The export id of the live export for the same tenant, order and kind, if asked for.
    public var liveExportID: String?
    /// The stored result of an earlier publish with the same idempotency key.
    public var idempotent: IdempotencyRecord?
    /// The commit time this append will get, in Unix milliseconds.
    public var now: Int64
}

/// What an earlier publish with an idempotency key produced.
public struct IdempotencyRecord: Sendable, Equatable {
    public var requestHash: [UInt8]
    public var exportID: String
    public var version: Int64

    public init(requestHash: [UInt8], exportID: String, version: Int64) {
        self.requestHash = requestHash
        self.exportID = exportID
        self.version = version
    }
}

/// What to do with an append, decided from its ``AppendContext``.
public enum AppendPlan: Sendable {
    /// Store this version (and the side effects), atomically.
    case store(Export, sideEffects: AppendSideEffects)
    /// Store nothing and answer with this stored version (an idempotent replay).
    case replay(exportID: String, version: Int64)
}

/// Rows written together with a version.
public struct AppendSideEffects: Sendable {
    /// Remember the publish under this key and request hash.
    public var idempotency: (key: String, requestHash: [UInt8])?
    /// Reports for the exception router, delivered after commit until it answers.
    public var outbox: [ReportRequest] = []
    /// The W3C traceparent the reports are delivered in, so that the router's work
    /// continues the trace of the call that caused them.
    public var traceparent: String?

    public init(
        idempotency: (key: String, requestHash: [UInt8])? = nil, outbox: [ReportRequest] = [], traceparent: String? = nil
    ) {
        self.idempotency = idempotency
        self.outbox = outbox
        self.traceparent = traceparent
    }
}

extension ExportState {
    /// Whether a version in this state ends its export (no longer live for its order).
    var endsExport: Bool { [.completed, .cancelled, .expired].contains(self) }
}

/// What the registry keeps one live export of: a tenant's order, kind and shipment.
public struct LiveKey: Sendable, Equatable {
    public var orderID: String
    public var kind: ExportKind
    /// 1 for an order that ships whole (`Export.shipment` 0 and 1 are the same shipment).
    public var shipment: Int32

    public init(_ export: Export) {
        orderID = export.orderID
        kind = export.kind
        shipment = max(1, export.shipment)
    }

    /// `order 'A-1' shipment 2 and kind EXPORT_KIND_ROUTING`, for conflict messages.
    var described: String {
        "order '\(orderID)'\(shipment > 1 ? " shipment \(shipment)" : "") and kind \(kind.protoName)"
    }

    /// The conflict a second live export for this key is refused with by storage.
    var conflictMessage: String {
        "another live export already covers \(described); supersede it with expected_version instead"
    }
}

/// An append request: which export, which extra state to read, and the decision.
public struct AppendRequest: Sendable {
    public var tenantID: String
    public var exportID: String
    /// Read the live export for this order, kind and shipment: set when publishing a
    /// new export, and only then. A store may first decide such a request against an
    /// empty state and let its unique keys refuse the write if the state was not empty.
    public var liveKey: LiveKey?
    /// Read an earlier publish with this idempotency key.
    public var idempotencyKey: String?
    /// An override's signing key and nonce: a nonce used before refuses the append
    /// (``RegistryError/nonceReplayed(keyID:nonce:)``) before anything is decided, so a
    /// replayed override is told it is a replay, not that its base version is old; a
    /// stored append marks the nonce used.
    public var nonce: (keyID: String, nonce: String)?
    /// Decides from what was read; throwing refuses the append.
    public var decide: @Sendable (AppendContext) throws(RegistryError) -> AppendPlan

    public init(
        tenantID: String, exportID: String, liveKey: LiveKey? = nil, idempotencyKey: String? = nil, nonce: (keyID: String, nonce: String)? = nil,
        decide: @escaping @Sendable (AppendContext) throws(RegistryError) -> AppendPlan
    ) {
        self.tenantID = tenantID
        self.exportID = exportID
        self.liveKey = liveKey
        self.idempotencyKey = idempotencyKey
        self.nonce = nonce
        self.decide = decide
    }
}

extension AppendRequest {
    /// The plan for a publish of a new export decided against an empty state (no export
    /// with this id, no live export for its key, no earlier use of its idempotency key),
    /// for a store to write first and let its unique keys refuse; nil for every other
    /// append, and for one that uses a nonce (whether a nonce was used is read, not
    /// enforced by a key alone), which is decided on what is stored.
    func decidedAsNewExport(now: Int64) -> (export: Export, effects: AppendSideEffects)? {
        guard liveKey != nil, nonce == nil,
            case .store(let export, let effects)? = try? decide(AppendContext(current: nil, liveExportID: nil, idempotent: nil, now: now))
        else { return nil }
        return (export, effects)
    }
}

/// A filter for ``RegistryStore/list(tenantID:filter:after:limit:)``.
public struct ExportFilter: Sendable {
    public var owner: String?
    public var state: ExportState?
    public var orderID: String?
    public var kind: ExportKind?

    public init(owner: String? = nil, state: ExportState? = nil, orderID: String? = nil, kind: ExportKind? = nil) {
        self.owner = owner
        self.state = state
        self.orderID = orderID
        self.kind = kind
    }
}

/// One committed version with its place in the registry's commit order.
public struct Commit: Sendable {
    /// Position in the registry-wide commit order (the Watch cursor).
    public var sequence: Int64
    public var export: Export
}

/// Where a page of ``RegistryStore/routingExports(tenantID:shipByFrom:to:after:limit:)`` ended.
public struct ShipByCursor: Sendable, Equatable {
    public var shipBy: Int64
    public var exportID: String

    public init(after export: Export) {
        shipBy = export.sla?.shipByUnixMs ?? 0
        exportID = export.exportID
    }
}

/// A queued report for the exception router.
public struct OutboxItem: Sendable {
    public var id: Int64
    /// The report, or why its stored bytes do not decode (a corrupt row, or one written
    /// by a newer release). A row that does not decode is still returned, so that it
    /// neither holds up the rows after it nor goes unnoticed.
    public var report: Result<ReportRequest, ProtoDecodingError>
    public var attempts: Int
    /// The trace of the call that queued the report, when it had one.
    public var traceparent: String?
}

/// The largest version the registry stores, encoded. Every version carries the
/// export's whole audit trail, so an export changed very often grows with each
/// version; past this, Get, Watch and stock gRPC clients (4 MiB messages by default)
/// could no longer carry it. Both stores check the bytes they are about to write.
public enum StoredExportSize {
    /// For versions that keep the export open.
    public static let maximumBytes = 1 << 20
    /// For a version that ends the export (completed, cancelled, expired): an export at
    /// the limit must still be able to end, so that its order can have a new export.
    public static let maximumEndingBytes = 2 << 20

    /// `body` (the encoded version) or the error that refuses it.
    static func check(_ body: [UInt8], of export: Export) throws(RegistryError) -> [UInt8] {
        let ending = export.state.endsExport
        let limit = ending ? maximumEndingBytes : maximumBytes
        guard body.count > limit else { return body }
        let what = "version \(export.version) of export '\(export.exportID)' would be \(body.count) bytes with its audit trail of \(export.auditTrail.count) entries"
        throw .tooLarge(
            ending
                ? "\(what), over the \(limit) bytes the registry stores even for a version that ends an export; shorten this change's free text (detail, justification)"
                : "\(what), over the registry's \(limit) bytes; end this export (complete it, or cancel it with an override) and publish a new export for the order")
    }
}

/// Durable storage of the registry. An append that returns has been written to
/// disk; appends that arrive together share one commit (group commit).
extension RegistryStore {
    public func cachedLatest(tenantID: String, exportID: String) -> Export? { nil }
    public var hasOtherWriters: Bool { false }
}

public protocol RegistryStore: Sendable {
    /// Reads what `request` asks for, decides, and stores the outcome atomically.
    func append(_ request: AppendRequest) async throws(RegistryError) -> (export: Export, replayed: Bool)

    /// One version (nil: the latest) of an export of the tenant.
    func export(tenantID: String, exportID: String, version: Int64?) async throws(RegistryError) -> Export?

    /// The latest version if the store knows it without I/O, else nil (then ask ``export``).
    /// Only a store that is its database's sole writer may answer: otherwise another
    /// replica's newer version would be missed.
    func cachedLatest(tenantID: String, exportID: String) -> Export?

    /// Whether other processes (registry replicas) commit to the same database, so
    /// that Watch streams must also look for commits this process did not make.
    var hasOtherWriters: Bool { get }
    /// What an earlier publish with this idempotency key stored, if any (a read, outside any commit).
    func idempotencyRecord(tenantID: String, key: String) async throws(RegistryError) -> IdempotencyRecord?
    /// Every version of an export, oldest first.
    func history(tenantID: String, exportID: String) async throws(RegistryError) -> [Export]
    /// Latest versions matching `filter`, ordered by export id, after `cursor` (an export id).
    func list(tenantID: String, filter: ExportFilter, after cursor: String?, limit: Int) async throws(RegistryError) -> [Export]
    /// Versions of the tenant committed after `sequence`, in commit order.
    func commits(tenantID: String, after sequence: Int64, limit: Int) async throws(RegistryError) -> [Commit]
    /// The sequence of the newest commit (0 when empty).
    func lastSequence() async throws(RegistryError) -> Int64
    /// Latest versions still published whose TTL has passed.
    func expired(now: Int64, limit: Int) async throws(RegistryError) -> [Export]
    /// Latest versions of routing exports with ship-by in `[from, to)`, ordered by
    /// ship-by and then export id (bytes), after `cursor` (the last one of the previous
    /// page), at most `limit`. The order is the ship-by index's, so each page starts
    /// where the last one ended instead of reading the range again.
    func routingExports(tenantID: String, shipByFrom from: Int64, to: Int64, after cursor: ShipByCursor?, limit: Int) async throws(RegistryError) -> [Export]
    /// Every stored version of every export, in commit order, page by page.
    func allVersions(after sequence: Int64, limit: Int) async throws(RegistryError) -> [Commit]

    /// Reports waiting for the exception router, oldest first, due by `now`. A row whose
    /// report does not decode is one of them (with the decoding error), never a failure
    /// of the whole call.
    func pendingReports(now: Int64, limit: Int) async throws(RegistryError) -> [OutboxItem]
    /// The router accepted the report.
    func reportDelivered(_ id: Int64) async throws(RegistryError)
    /// The router did not answer; try again at `retryAt`.
    func reportFailed(_ id: Int64, retryAt: Int64) async throws(RegistryError)
    /// How many reports are in the outbox, due or not (backing off, set aside, leased).
    func outboxCount() async throws(RegistryError) -> Int

    /// Finishes pending writes and closes the storage.
    func close() async
}
