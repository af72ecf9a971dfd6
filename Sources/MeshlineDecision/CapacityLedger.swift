/// Orders each warehouse took per local day, per tenant: what daily capacity is counted against.
///
/// The count lives in this replica's memory and counts the orders this replica
/// published (a dry run takes nothing). It is keyed by order id, so deciding the
/// same order again never counts it twice, and a failed publish gives its
/// capacity back. Days two or more before the newest day seen are dropped.
/// Decisions read a copy (a snapshot) and claim under the service's lock, where
/// ``take(tenantID:orderID:_:)`` refuses a claim that another call filled meanwhile.
struct CapacityLedger {
    private var orders: [String: [CapacityDay: Set<String>]] = [:]
    private var newestDay: Int64 = 0

    /// Orders other than `orderID` that the warehouse took on the day: an order
    /// decided again does not compete with its own earlier claim.
    func used(tenantID: String, _ day: CapacityDay, besides orderID: String) -> Int64 {
        guard let taken = orders[tenantID]?[day] else { return 0 }
        return Int64(taken.count - (taken.contains(orderID) ? 1 : 0))
    }

    /// Counts the order against every claimed day, unless one of them is full (nil).
    /// Returns the claims counted now — not those the order held already — which is
    /// what a failed publish gives back.
    mutating func take(tenantID: String, orderID: String, _ claims: [CapacityClaim]) -> [CapacityClaim]? {
        let full = claims.contains { claim in
            guard claim.limit > 0, let taken = orders[tenantID]?[claim.day] else { return false }
            return !taken.contains(orderID) && Int64(taken.count) >= claim.limit
        }
        guard !full else { return nil }
        var counted: [CapacityClaim] = []
        for claim in claims where orders[tenantID, default: [:]][claim.day, default: []].insert(orderID).inserted {
            counted.append(claim)
            if claim.day.day > newestDay {
                newestDay = claim.day.day
                prune()
            }
        }
        return counted
    }

    mutating func release(tenantID: String, orderID: String, _ claims: [CapacityClaim]) {
        for claim in claims {
            orders[tenantID]?[claim.day]?.remove(orderID)
        }
    }

    private mutating func prune() {
        for tenant in orders.keys {
            orders[tenant] = orders[tenant]?.filter { $0.key.day >= newestDay - 1 }
        }
    }
}
