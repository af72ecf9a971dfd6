/// Orders each warehouse took per local day, per tenant: what daily capacity is counted against.
///
/// The count lives in this replica's memory and counts the orders this replica
/// published (a dry run takes nothing). It is keyed by order id, so deciding the
/// same order again never counts it twice, and a failed publish gives its
/// capacity back. Days two or more before the newest day seen are dropped.
struct CapacityLedger {
    private var orders: [String: [CapacityDay: Set<String>]] = [:]
    private var newestDay: Int64 = 0

    func used(tenantID: String, _ day: CapacityDay) -> Int64 {
        Int64(orders[tenantID]?[day]?.count ?? 0)
    }

    mutating func take(tenantID: String, orderID: String, _ days: [CapacityDay]) {
        for day in days {
            orders[tenantID, default: [:]][day, default: []].insert(orderID)
            if day.day > newestDay {
                newestDay = day.day
                prune()
            }
        }
    }

    mutating func release(tenantID: String, orderID: String, _ days: [CapacityDay]) {
        for day in days {
            orders[tenantID]?[day]?.remove(orderID)
        }
    }

    private mutating func prune() {
        for tenant in orders.keys {
            orders[tenant] = orders[tenant]?.filter { $0.key.day >= newestDay - 1 }
        }
    }
}
