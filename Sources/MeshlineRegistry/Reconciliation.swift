public import MeshlineModels

/// SLA outcomes of routing exports against their actual ship times, tallied page by
/// page (a tenant's range may hold more exports than one read should load).
public struct Reconciliation {
    private let now: Int64
    private var total = Accumulator()
    private var byOwner: [String: Accumulator] = [:]
    private var byWarehouse: [String: Accumulator] = [:]
    private var byServiceLevel: [String: Accumulator] = [:]

    /// A tally as of `now` (exports still open past their ship-by count as such).
    public init(now: Int64) {
        self.now = now
    }

    /// Counts `exports` (latest versions of routing exports whose ship-by lies in the
    /// range). Cancelled exports are left out: nothing was due.
    public mutating func add(_ exports: [Export]) {
        for export in exports where export.state != .cancelled {
            guard let shipBy = export.sla?.shipByUnixMs else { continue }
            let outcome: Accumulator.Outcome
            if export.state == .completed, export.shippedAtUnixMs > 0 {
                outcome = export.shippedAtUnixMs <= shipBy ? .onTime : .late(export.shippedAtUnixMs - shipBy)
            } else {
                outcome = now > shipBy ? .openPastShipBy : .openWithinSLA
            }
            total.add(outcome)
            byOwner[export.owningParty?.text ?? "", default: Accumulator()].add(outcome)
            byWarehouse[export.warehouseID, default: Accumulator()].add(outcome)
            byServiceLevel[export.sla?.serviceLevel ?? "", default: Accumulator()].add(outcome)
        }
    }

    /// The report over everything added.
    public func report(tenantID: String, from: Int64, to: Int64) -> ReconcileReport {
        func groups(_ accumulators: [String: Accumulator]) -> [SlaOutcomeGroup] {
            accumulators.sorted { $0.key < $1.key }.map { SlaOutcomeGroup(key: $0.key, outcome: $0.value.outcome) }
        }
        return ReconcileReport(
            tenantID: tenantID, fromUnixMs: from, toUnixMs: to, total: total.outcome,
            byOwner: groups(byOwner), byWarehouse: groups(byWarehouse), byServiceLevel: groups(byServiceLevel))
    }

    struct Accumulator {
        enum Outcome {
            case onTime, openPastShipBy, openWithinSLA
            case late(Int64)
        }

        var onTime: Int64 = 0
        var openPast: Int64 = 0
        var openWithin: Int64 = 0
        var lateness: [Int64] = []

        mutating func add(_ outcome: Outcome) {
            switch outcome {
            case .onTime: onTime += 1
            case .openPastShipBy: openPast += 1
            case .openWithinSLA: openWithin += 1
            case .late(let by): lateness.append(by)
            }
        }

        var outcome: SlaOutcome {
            SlaOutcome(
                onTime: onTime, late: Int64(lateness.count), openPastShipBy: openPast, openWithinSLA: openWithin,
                medianLatenessMs: Self.median(lateness))
        }

        /// The median; for an even count, the lower of the two middle values (an observed lateness).
        static func median(_ values: [Int64]) -> Int64 {
            guard !values.isEmpty else { return 0 }
            let sorted = values.sorted()
            return sorted[(sorted.count - 1) / 2]
        }
    }
}
