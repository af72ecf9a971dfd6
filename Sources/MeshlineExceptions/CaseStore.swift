public import MeshlineModels

/// What a due timer of a case does when it fires.
public enum TimerKind: Int32, Sendable {
    /// Ask the decision service to re-evaluate (state RETRYING).
    case retry = 1
    /// Move an unclaimed case to the next escalation level (state QUEUED).
    case escalate = 2
    /// Ask the registry whether a routable version replaced the backorder.
    case backorderPoll = 3
}

/// A durable timer: stored with its case, so a restart loses none.
public struct CaseTimer: Sendable, Equatable {
    public var kind: TimerKind
    public var at: Int64

    public init(kind: TimerKind, at: Int64) {
        self.kind = kind
        self.at = at
    }
}

/// A scheduler's claim on a due case: nobody else works it until `until`.
public struct Lease: Sendable, Equatable {
    public var owner: String
    public var until: Int64

    public init(owner: String, until: Int64) {
        self.owner = owner
        self.until = until
    }
}

/// A case as stored: the case, what the router needs of its export, its timer and lease.
public struct CaseRecord: Sendable, Equatable {
    public var exceptionCase: ExceptionCase
    /// The export as the router works it: path, contacts, SLA, warehouse (no order, no
    /// audit trail). `version` is the version being worked: the reported one, or the
    /// backorder version a retry produced.
    public var export: Export
    public var timer: CaseTimer?
    public var lease: Lease?
    /// Retries in a row the decision service did not answer. They are not attempts
    /// (it decided nothing), but the backoff grows with them, so a decision service
    /// that is down is not hammered.
    public var unanswered: Int32

    public init(exceptionCase: ExceptionCase, export: Export, timer: CaseTimer? = nil, lease: Lease? = nil, unanswered: Int32 = 0) {
        self.exceptionCase = exceptionCase
        self.export = export
        self.timer = timer
        self.lease = lease
        self.unanswered = unanswered
    }

    /// The position of the case in ListQueue: soonest due first.
    public var position: QueuePosition {
        let exceptionCase = self.exceptionCase
        let key: Int64 =
            switch exceptionCase.state {
            case .retrying: exceptionCase.nextAttemptAtUnixMs
            case .queued, .claimed: exceptionCase.dueAtUnixMs > 0 ? exceptionCase.dueAtUnixMs : Int64.max
            default: exceptionCase.updatedAtUnixMs
            }
        return QueuePosition(dueKey: key, caseID: exceptionCase.caseID)
    }
}

/// A case's place in the due-time order of ListQueue, also its page cursor.
public struct QueuePosition: Sendable, Equatable {
    public var dueKey: Int64
    public var caseID: String

    public init(dueKey: Int64, caseID: String) {
        self.dueKey = dueKey
        self.caseID = caseID
    }
}

/// A case after a change, with the notifications the change raises. Notifications
/// are unique by `notification_id`: storing one again is a no-op, which is what
/// makes each notification happen once.
public struct CaseChange: Sendable {
    public var record: CaseRecord
    public var notifications: [NotificationEvent]

    public init(record: CaseRecord, notifications: [NotificationEvent] = []) {
        self.record = record
        self.notifications = notifications
    }
}

/// The open cases of one tenant's queue in one state.
public struct OpenCases: Sendable, Equatable {
    public var tenantID: String
    public var queue: String
    public var state: CaseState
    public var count: Int
    /// When the oldest of them was opened, in Unix milliseconds; 0 when unknown (cases
    /// written by a replica from before this was stored).
    public var oldestOpenedAt: Int64
    /// How many of them belong to exports that must ship before the asked time.
    public var shipByAtRisk: Int

    public init(tenantID: String, queue: String, state: CaseState, count: Int, oldestOpenedAt: Int64, shipByAtRisk: Int) {
        self.tenantID = tenantID
        self.queue = queue
        self.state = state
        self.count = count
        self.oldestOpenedAt = oldestOpenedAt
        self.shipByAtRisk = shipByAtRisk
    }
}

/// A filter of ListQueue.
public struct QueueFilter: Sendable {
    public var tenantID: String
    public var queue: String?
    public var state: CaseState?
    public var after: QueuePosition?
    public var limit: Int

    public init(tenantID: String, queue: String? = nil, state: CaseState? = nil, after: QueuePosition? = nil, limit: Int) {
        self.tenantID = tenantID
        self.queue = queue
        self.state = state
        self.after = after
        self.limit = limit
    }
}

/// Durable storage of cases, their timers and notifications. Every call that
/// returns has committed; every read is scoped to one tenant except the
/// scheduler's lease of due timers.
public protocol CaseStore: Sendable {
    /// Stores a new case unless one exists for its tenant, export and version; then
    /// returns that one with `duplicate` true.
    func open(_ change: CaseChange) async throws(ExceptionError) -> (record: CaseRecord, duplicate: Bool)
    /// The case with this id, if it belongs to the tenant.
    func record(tenantID: String, caseID: String) async throws(ExceptionError) -> CaseRecord?
    /// The case of this export version, or (version nil) of its latest reported version.
    func record(tenantID: String, exportID: String, version: Int64?) async throws(ExceptionError) -> CaseRecord?
    /// Reads the case in a transaction that locks it, lets `decide` change it (nil:
    /// no change) and stores the change; returns the case as stored.
    func update(tenantID: String, caseID: String, _ decide: @escaping @Sendable (CaseRecord) throws(ExceptionError) -> CaseChange?) async throws(ExceptionError) -> CaseRecord
    /// Cases matching `filter`, soonest due first.
    func list(_ filter: QueueFilter) async throws(ExceptionError) -> [CaseRecord]
    /// Leases up to `limit` cases whose timer is due by `now` and that nobody holds,
    /// to `owner` until `until`; with several routers, each due case goes to one.
    func leaseDue(now: Int64, until: Int64, owner: String, limit: Int) async throws(ExceptionError) -> [CaseRecord]
    /// When the soonest timer can be worked, if any: its due time, or for a leased
    /// case the end of the lease.
    func nextTimerAt() async throws(ExceptionError) -> Int64?
    /// The tenant's notifications stored after `sequence`, oldest first, each with its cursor set.
    func notifications(tenantID: String, after sequence: Int64, limit: Int) async throws(ExceptionError) -> [NotificationEvent]
    /// Open (unresolved) cases per tenant, queue and state, across all tenants: for
    /// the operators' gauges, not for callers.
    func openCaseSummary(shipByBefore: Int64) async throws(ExceptionError) -> [OpenCases]
    /// Finishes pending writes and closes the storage.
    func close() async
}

/// Opaque cursors: notification sequences and ListQueue positions.
enum Cursor {
    static func notification(_ sequence: Int64) -> String {
        "n." + String(sequence, radix: 36)
    }

    static func notificationSequence(_ cursor: String) -> Int64? {
        guard cursor.hasPrefix("n."), let value = Int64(cursor.dropFirst(2), radix: 36), value >= 0 else { return nil }
        return value
    }

    static func page(_ position: QueuePosition) -> String {
        "q." + String(position.dueKey, radix: 36) + "." + position.caseID
    }

    static func pagePosition(_ token: String) -> QueuePosition? {
        guard token.utf8.count <= 256 else { return nil }
        let parts = token.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "q", let key = Int64(parts[1], radix: 36), !parts[2].isEmpty else { return nil }
        return QueuePosition(dueKey: key, caseID: String(parts[2]))
    }
}
