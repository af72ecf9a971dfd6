public import MeshlineModels

/// SLA outcomes of routing exports against their actual ship times.
public enum Reconciliation {
    /// The report over `exports` (latest versions of routing exports whose ship-by
    /// lies in the range). Cancelled exports are left out: nothing was due.
    public static func report(tenantID: String, from: Int64, to: Int64, now: Int64, exports: [Export]) -> ReconcileReport {
        var total = Accumulator()
        var byOwner: [String: Accumulator] = [:]
        var byWarehouse: [String: Accumulator] = [:]
        var byServiceLevel: [String: Accumulator] = [:]
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
