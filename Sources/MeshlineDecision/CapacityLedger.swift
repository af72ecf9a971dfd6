/// Orders each warehouse took per local day, per tenant: what daily capacity is counted against.
///
/// The count lives in this replica's memory and counts the orders this replica
/// published (a dry run takes nothing). It is keyed by order id, so deciding the
/// same order again never counts it twice, and a failed publish gives its
/// capacity back. Once per UTC day of the decision clock, days before that day
/// minus two are dropped (they are over in every time zone, with a day to spare
/// for orders decided late): pruning follows the clock, not the latest day
/// claimed, so no order's date can drop the counts of days still being worked.
/// Decisions read a copy (a snapshot) and claim under the service's lock, where
/// ``take(tenantID:orderID:_:now:)`` refuses a claim that another call filled meanwhile.
struct CapacityLedger {
    private var orders: [String: [CapacityDay: Set<String>]] = [:]
    /// The UTC day (of the decision clock) of the last pruning.
    private var prunedOn = Int64.min

    /// Orders other than `orderID` that the warehouse took on the day: an order
    /// decided again does not compete with its own earlier claim.
    func used(tenantID: String, _ day: CapacityDay, besides orderID: String) -> Int64 {
        guard let taken = orders[tenantID]?[day] else { return 0 }
        return Int64(taken.count - (taken.contains(orderID) ? 1 : 0))
    }

    /// Counts the order against every claimed day, unless one of them is full (nil).
    /// Returns the claims counted now — not those the order held already — which is
    /// what a failed publish gives back.
    /// `now` is the decision time (Unix milliseconds), which decides what is pruned.
    mutating func take(tenantID: String, orderID: String, _ claims: [CapacityClaim], now: Int64) -> [CapacityClaim]? {
        let today = now.floorDivided(by: CompiledWarehouse.dayMs)
        if today > prunedOn {
            prunedOn = today
            prune(before: today - 2)
        }
        let full = claims.contains { claim in
            guard claim.limit > 0, let taken = orders[tenantID]?[claim.day] else { return false }
            return !taken.contains(orderID) && Int64(taken.count) >= claim.limit
        }
        guard !full else { return nil }
        var counted: [CapacityClaim] = []
        for claim in claims where orders[tenantID, default: [:]][claim.day, default: []].insert(orderID).inserted {
            counted.append(claim)
        }
        return counted
    }

    mutating func release(tenantID: String, orderID: String, _ claims: [CapacityClaim]) {
        for claim in claims {
            orders[tenantID]?[claim.day]?.remove(orderID)
        }
    }

    private mutating func prune(before day: Int64) {
        for tenant in orders.keys {
            orders[tenant] = orders[tenant]?.filter { $0.key.day >= day }
        }
    }
}
