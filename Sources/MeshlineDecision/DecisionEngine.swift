import Crypto
public import MeshlineModels

/// A warehouse's capacity on one of its local days.
public struct CapacityDay: Sendable, Hashable {
    public var warehouseID: String
    /// Days since 1970-01-01 in the warehouse's time zone.
    public var day: Int64

    public init(warehouseID: String, day: Int64) {
        self.warehouseID = warehouseID
        self.day = day
    }
}

/// One order's claim on a warehouse's capacity for a day.
public struct CapacityClaim: Sendable, Hashable {
    public var day: CapacityDay
    /// The warehouse's daily capacity; 0 means unlimited.
    public var limit: Int64
}

/// The engine's answer: the decision, and the capacity each routed shipment takes.
public struct DecisionOutcome: Sendable {
    public var decision: Decision
    /// One entry per routing export, in export order; empty for a backorder.
    public var capacity: [CapacityClaim]
}

/// Which export a re-decision replaces: the new version keeps the export's id, order
/// id and shipment number.
public struct ReplacedExport: Sendable {
    public var exportID: String
    public var orderID: String
    /// `Export.shipment`: 0 for an order that ships whole.
    public var shipment: Int32

    public init(exportID: String, orderID: String, shipment: Int32 = 0) {
        self.exportID = exportID
        self.orderID = orderID
        self.shipment = shipment
    }
}

/// The deterministic decision engine: a pure function of its arguments.
///
/// The same order, rule set, inventory view, capacity counts, `now` and exclusions
/// always give a byte-identical ``Decision`` (its `serializedBytes()`). `now` is an
/// argument, never read from a clock: it sets the TTL, decides which inventory
/// is stale and how far ahead of it an order may be placed. The order of warehouses in the rule set and of lines in the order do
/// not matter: warehouses are ranked with their id as the last tie-breaker and the
/// decided order's lines are sorted by SKU.
public enum DecisionEngine {
    /// Decides `order` with `rules`.
    ///
    /// - Parameters:
    ///   - capacityUsed: orders already taken by a warehouse on a local day.
    ///   - excluding: warehouses that must not be chosen (they rejected the export).
    ///   - singleShipment: never split (a re-evaluated routing export stays one shipment).
    ///   - replacing: the export a re-decision supersedes; its id and order id go to the first export.
    public static func decide(
        order input: Order, rules: CompiledRuleSet, inventory: InventoryView,
        capacityUsed: (CapacityDay) -> Int64, now: Int64,
        excluding: Set<String> = [], singleShipment: Bool = false, replacing: ReplacedExport? = nil
    ) throws(DecisionError) -> DecisionOutcome {
        let order = try canonicalOrder(input, rules: rules, now: now)
        // Validation of the order guarantees its service level is in the rule set.
        let level = rules.serviceLevels[order.serviceLevel]!
        let freshAfter = now - rules.ttl.freshnessLimitMs
        let lineCount = order.lines.count
        let allLines: UInt64 = lineCount == 64 ? .max : (1 << UInt64(lineCount)) - 1

        // 1. What each warehouse could do on its own.
        var candidates: [Candidate] = []
        candidates.reserveCapacity(rules.warehouses.count)
        var anyStale = false
        // One lookup per line and one per warehouse: each line's levels by warehouse number.
        let lineLevels = order.lines.map { inventory.levels(sku: $0.sku) }
        let distances = rules.zoneDistances[order.zone]
        for (position, warehouse) in rules.warehouses.enumerated() {
            let distance = distances?[position]
            var candidate = Candidate(warehouse: warehouse, distance: distance ?? 0)
            if !excluding.isEmpty && excluding.contains(warehouse.id) {
                candidate.status = .excluded
            } else if distance == nil {
                candidate.status = .zoneNotServed
            } else {
                let placed = warehouse.localDay(of: order.placedAtUnixMs)
                let day = placed.minute >= warehouse.warehouse.cutoffMinuteOfDay ? placed.day + 1 : placed.day
                candidate.day = day
                let capacity = warehouse.warehouse.dailyCapacity
                if capacity > 0 && capacityUsed(CapacityDay(warehouseID: warehouse.id, day: day)) >= capacity {
                    candidate.status = .capacityUsedUp
                } else {
                    var mask: UInt64 = 0
                    var shortfall: String?
                    let number = inventory.warehouseNumber(warehouse.id) ?? Int.max
                    for (index, line) in order.lines.enumerated() {
                        let levels = lineLevels[index]
                        let stock = number < levels.count ? levels[number] : nil
                        let available = max(0, (stock?.onHand ?? 0) - warehouse.warehouse.safetyStock)
                        if available >= line.quantity {
                            mask |= 1 << UInt64(index)
                            if let stock, stock.asOfUnixMs < freshAfter { candidate.staleLines |= 1 << UInt64(index) }
                        } else if shortfall == nil {
                            shortfall = "\(line.sku) needs \(line.quantity), \(available) available after safety stock \(warehouse.warehouse.safetyStock)"
                        }
                    }
                    candidate.fills = mask
                    anyStale = anyStale || candidate.staleLines != 0
                    candidate.shortfall = shortfall
                    if mask == 0 { candidate.status = .noStock }
                }
            }
            candidates.append(candidate)
        }

        // 2. Each able warehouse's plan if it ships first; the best plan wins.
        let noSplit: String? = !rules.routing.allowSplit ? "the rules do not allow splitting"
            : singleShipment ? "a re-evaluated export stays one shipment" : nil
        for index in candidates.indices where candidates[index].status == .able {
            candidates[index].setPlan(plan(first: index, candidates: candidates, lines: order.lines, allLines: allLines, noSplit: noSplit, routing: rules.routing))
        }
        let winner = candidates.indices
            .filter { candidates[$0].status == .able && candidates[$0].plan?.failure == nil }
            .min { candidates[$0].rank < candidates[$1].rank }

        guard let winner, let plan = candidates[winner].plan else {
            return backorder(order: order, rules: rules, level: level, candidates: candidates, now: now, stale: anyStale, replacing: replacing)
        }
        return routed(order: order, rules: rules, level: level, candidates: candidates, winner: winner, plan: plan, now: now, replacing: replacing)
    }

    // MARK: Planning

    /// A way to ship the order: warehouses (candidate indices) with the lines each ships.
    struct Plan {
        var shipments: [(candidate: Int, lines: UInt64)] = []
        /// Why the plan cannot be used (a rule it breaks), or nil.
        var failure: String?
    }

    /// Greedy plan starting with `first`: then, while lines remain, the warehouse that
    /// fills most of them (ties: cost, distance, id). Lines ship whole from one warehouse.
    /// `noSplit` says why the order may not be split, or is nil when it may.
    static func plan(first: Int, candidates: [Candidate], lines: [OrderLine], allLines: UInt64, noSplit: String?, routing: RoutingPreferences) -> Plan {
        var plan = Plan()
        let firstLines = candidates[first].fills & allLines
        plan.shipments.append((first, firstLines))
        var remaining = allLines & ~firstLines
        if remaining != 0, let noSplit {
            plan.failure = "fills \(firstLines.nonzeroBitCount) of \(lines.count) lines (\(candidates[first].shortfall ?? "")) and \(noSplit)"
            return plan
        }
        while remaining != 0 {
            var best: Int?
            var bestCount = 0
            for index in candidates.indices where candidates[index].status == .able && !plan.shipments.contains(where: { $0.candidate == index }) {
                let count = (candidates[index].fills & remaining).nonzeroBitCount
                if count > bestCount || (count == bestCount && count > 0 && candidates[index].tieRank < candidates[best!].tieRank) {
                    best = index
                    bestCount = count
                }
            }
            guard let best else {
                let missing = lines.indices.first { remaining & (1 << UInt64($0)) != 0 }!
                plan.failure = "no warehouse serving the zone has stock for \(lines[missing].sku) to complete a split"
                return plan
            }
            plan.shipments.append((best, candidates[best].fills & remaining))
            remaining &= ~candidates[best].fills
        }
        if routing.maxShipments > 0 && plan.shipments.count > Int(routing.maxShipments) {
            plan.failure = "would need \(plan.shipments.count) shipments, more than the rules' max_shipments \(routing.maxShipments)"
        } else if plan.shipments.count > 1 {
            for shipment in plan.shipments {
                let value = value(of: shipment.lines, in: lines)
                if value < routing.minShipmentValueMinor {
                    plan.failure = "its split would ship \(candidates[shipment.candidate].warehouse.id) a shipment worth \(value), below the rules' min_shipment_value_minor \(routing.minShipmentValueMinor)"
                    break
                }
            }
        }
        return plan
    }

    static func value(of mask: UInt64, in lines: [OrderLine]) -> Int64 {
        var total: Int64 = 0
        for (index, line) in lines.enumerated() where mask & (1 << UInt64(index)) != 0 {
            // Saturates instead of trapping: quantities and prices are bounded but their product may not be.
            let (product, overflow) = line.quantity.multipliedReportingOverflow(by: line.unitPriceMinor)
            let (sum, sumOverflow) = total.addingReportingOverflow(product)
            total = overflow || sumOverflow ? .max : sum
        }
        return total
    }

    // MARK: Results

    static func routed(order: Order, rules: CompiledRuleSet, level: ServiceLevelPolicy, candidates: [Candidate], winner: Int, plan: Plan, now: Int64, replacing: ReplacedExport?) -> DecisionOutcome {
        let owner = rules.owner(action: "route-to-warehouse", merchantID: order.merchantID)
        let exception = rules.exceptionRules["route-to-warehouse"]!
        var stale = false
        var exports: [Export] = []
        var capacity: [CapacityClaim] = []
        for (number, shipment) in plan.shipments.enumerated() {
            let candidate = candidates[shipment.candidate]
            let warehouse = candidate.warehouse
            stale = stale || candidate.staleLines & shipment.lines != 0
            let shipDay = candidate.day + Int64(level.shipWithinDays)
            let shipBy = max(warehouse.instant(day: shipDay, minute: warehouse.warehouse.cutoffMinuteOfDay), order.placedAtUnixMs + 60_000)
            var pickStart = max(shipBy - Int64(level.pickWindowMinutes) * 60_000, order.placedAtUnixMs)
            if pickStart >= shipBy { pickStart = shipBy - 60_000 }
            let lines = order.lines.enumerated().filter { shipment.lines & (1 << UInt64($0.offset)) != 0 }.map(\.element)
            var watchers = owner.watchers
            if let operatorParty = warehouse.warehouse.operator, operatorParty != owner.owner, !watchers.contains(operatorParty) {
                watchers.append(operatorParty)
            }
            let identity = exportIdentity(order: order, shipment: number + 1, of: plan.shipments.count, replacing: replacing)
            exports.append(Export(
                exportID: identity.exportID, tenantID: order.tenantID, orderID: identity.orderID, kind: .routing,
                owningParty: owner.owner, watchers: watchers, decisionVersion: rules.version,
                intendedAction: "route-to-warehouse:\(warehouse.id)",
                sla: Sla(shipByUnixMs: shipBy, pickWindow: PickWindow(startUnixMs: pickStart, endUnixMs: shipBy), serviceLevel: level.serviceLevel),
                expiresAtUnixMs: 0,
                exceptionPath: exception.path, escalationContacts: exception.escalationContacts,
                packingInstructions: packing(order: order, lines: lines, rules: rules),
                warehouseID: warehouse.id,
                lines: lines.map { ExportLine(sku: $0.sku, quantity: $0.quantity) },
                order: order, shipment: identity.shipment))
            capacity.append(CapacityClaim(day: CapacityDay(warehouseID: warehouse.id, day: candidate.day), limit: warehouse.warehouse.dailyCapacity))
        }
        let expires = now + (stale ? rules.ttl.staleTTLMs : rules.ttl.ttlMs)
        for index in exports.indices { exports[index].expiresAtUnixMs = expires }

        let winning = candidates[winner]
        let chosen = Dictionary(uniqueKeysWithValues: plan.shipments.enumerated().map { (candidates[$0.element.candidate].warehouse.id, $0.offset) })
        let scores = candidates.map { candidate -> CandidateScore in
            let reason: String
            if let shipment = chosen[candidate.warehouse.id] {
                reason = shipment == 0
                    ? "won: \(shipmentsText(candidate.rank.shipments)), cost \(candidate.warehouse.costText), \(candidate.distance) km"
                    : "chosen as shipment \(shipment + 1) of \(plan.shipments.count) for \(skus(plan.shipments[shipment].lines, order.lines))"
            } else {
                reason = losingReason(candidate, winner: winning)
            }
            return score(candidate, chosen: chosen[candidate.warehouse.id] != nil, reason: reason)
        }
        let names = plan.shipments.map { candidates[$0.candidate].warehouse.id }.joined(separator: " + ")
        let summary = "\(names): \(shipmentsText(plan.shipments.count)), cost \(winning.warehouse.costText), \(winning.distance) km"
        return DecisionOutcome(
            decision: Decision(tenantID: order.tenantID, orderID: order.orderID, decisionVersion: rules.version, exports: exports,
                               explanation: Explanation(candidates: scores, inventoryStale: stale, summary: summary)),
            capacity: capacity)
    }

    static func backorder(order: Order, rules: CompiledRuleSet, level: ServiceLevelPolicy, candidates: [Candidate], now: Int64, stale: Bool, replacing: ReplacedExport?) -> DecisionOutcome {
        let owner = rules.owner(action: "backorder", merchantID: order.merchantID)
        let exception = rules.exceptionRules["backorder"]!
        let identity = exportIdentity(order: order, shipment: 1, of: 1, replacing: replacing)
        let export = Export(
            exportID: identity.exportID, tenantID: order.tenantID, orderID: identity.orderID, kind: .backorder,
            owningParty: owner.owner, watchers: owner.watchers, decisionVersion: rules.version, intendedAction: "backorder",
            // No warehouse, no cutoff: the promise is the order time plus the service level's days, and one day to pick.
            sla: Sla(shipByUnixMs: order.placedAtUnixMs + Int64(level.shipWithinDays + 1) * CompiledWarehouse.dayMs, serviceLevel: level.serviceLevel),
            expiresAtUnixMs: now + (stale ? rules.ttl.staleTTLMs : rules.ttl.ttlMs),
            exceptionPath: exception.path, escalationContacts: exception.escalationContacts,
            lines: order.lines.map { ExportLine(sku: $0.sku, quantity: $0.quantity) },
            order: order, shipment: identity.shipment)
        let scores = candidates.map { score($0, chosen: false, reason: unableReason($0) ?? "lost: \($0.plan?.failure ?? "cannot fill the order")") }
        let able = candidates.filter { $0.status == .able }.count
        let summary = able == 0
            ? "backorder: no warehouse serving zone \(order.zone) can fill any line"
            : "backorder: \(able) warehouse\(able == 1 ? "" : "s") can fill part of the order but no plan the rules allow ships all of it"
        return DecisionOutcome(
            decision: Decision(tenantID: order.tenantID, orderID: order.orderID, decisionVersion: rules.version, exports: [export],
                               explanation: Explanation(candidates: scores, inventoryStale: stale, summary: summary)),
            capacity: [])
    }

    static func score(_ candidate: Candidate, chosen: Bool, reason: String) -> CandidateScore {
        let usable = candidate.status == .able && candidate.plan?.failure == nil
        return CandidateScore(
            warehouseID: candidate.warehouse.id, eligible: usable, chosen: chosen,
            shipments: usable ? Int32(candidate.plan?.shipments.count ?? 0) : 0,
            cost: candidate.warehouse.warehouse.costWeight, distanceKm: candidate.distance, reason: reason)
    }

    /// Why a warehouse could not take part at all, or nil when it could.
    static func unableReason(_ candidate: Candidate) -> String? {
        switch candidate.status {
        case .excluded: "lost: excluded (it rejected this export or the caller excluded it)"
        case .zoneNotServed: "lost: does not serve the order's zone"
        case .capacityUsedUp: "lost: daily capacity of \(candidate.warehouse.warehouse.dailyCapacity) orders is used up for local day \(civilDate(candidate.day))"
        case .noStock: "lost: cannot fill any line (\(candidate.shortfall ?? ""))"
        case .able: nil
        }
    }

    static func losingReason(_ candidate: Candidate, winner: Candidate) -> String {
        if let reason = unableReason(candidate) { return reason }
        if let failure = candidate.plan?.failure { return "lost: \(failure)" }
        let mine = candidate.rank, best = winner.rank
        if mine.shipments != best.shipments {
            return "lost: needs \(shipmentsText(mine.shipments)), the winner \(best.shipments)"
        }
        if mine.cost != best.cost {
            return "lost: same shipments, cost \(candidate.warehouse.costText) above the winner's \(winner.warehouse.costText)"
        }
        if mine.distance != best.distance {
            return "lost: same shipments and cost, \(mine.distance) km against the winner's \(best.distance) km"
        }
        return "lost: ties with the winner on shipments, cost and distance; \(winner.warehouse.id) comes first by id"
    }

    static func shipmentsText(_ count: Int) -> String { count == 1 ? "1 shipment" : "\(count) shipments" }

    static func skus(_ mask: UInt64, _ lines: [OrderLine]) -> String {
        lines.enumerated().filter { mask & (1 << UInt64($0.offset)) != 0 }.map(\.element.sku).joined(separator: ", ")
    }

    /// Packing instructions for a shipment: promotion rules for the order's promotions,
    /// SKU rules for the shipment's lines, in rule order.
    static func packing(order: Order, lines: [OrderLine], rules: CompiledRuleSet) -> [PackingInstruction] {
        var instructions: [PackingInstruction] = []
        for rule in rules.ruleSet.packingRules {
            guard var instruction = rule.instruction else { continue }
            if !rule.promotion.isEmpty, order.promotions.contains(rule.promotion) {
                if instruction.source.isEmpty { instruction.source = "promotion:\(rule.promotion)" }
                instructions.append(instruction)
            } else if !rule.sku.isEmpty, lines.contains(where: { $0.sku == rule.sku }) {
                if instruction.source.isEmpty { instruction.source = "sku:\(rule.sku)" }
                if instruction.skus.isEmpty { instruction.skus = [rule.sku] }
                instructions.append(instruction)
            }
        }
        return instructions
    }

    // MARK: Identity

    /// Export ids derive from tenant, order and shipment number: deciding the same order
    /// again names the same exports. The shipments of a split order share its order id
    /// and are numbered from 1 (`Export.shipment`; the registry keeps one live export per
    /// shipment); an order that ships whole has shipment 0.
    static func exportIdentity(order: Order, shipment: Int, of shipments: Int, replacing: ReplacedExport?) -> ReplacedExport {
        if shipment == 1, var replacing {
            // A whole-order export (e.g. a backorder) re-decided into a split becomes shipment 1.
            if shipments > 1 && replacing.shipment == 0 { replacing.shipment = 1 }
            return replacing
        }
        var hasher = SHA256()
        hasher.update(data: Array("meshline-export-v1\u{0}\(order.tenantID)\u{0}\(order.orderID)\u{0}\(shipment)".utf8))
        return ReplacedExport(exportID: "dx-\(hex(hasher.finalize().prefix(12)))", orderID: order.orderID, shipment: shipments > 1 ? Int32(shipment) : 0)
    }

    // MARK: Orders

    /// The order with lines sorted by SKU and promotions sorted, after checking every bound.
    static func canonicalOrder(_ order: Order, rules: CompiledRuleSet, now: Int64) throws(DecisionError) -> Order {
        var check = Checker(base: "order")
        check.identifier(order.orderID, "order_id")
        if order.tenantID != rules.tenantID {
            check.fail("tenant_id", "is '\(order.tenantID)' but the rules are tenant '\(rules.tenantID)'; set it to the request's tenant", rule: "order.tenant")
        }
        if !order.merchantID.isEmpty { check.identifier(order.merchantID, "merchant_id") }
        let (ahead, overflow) = now.addingReportingOverflow(DecisionLimits.maximumPlacedAheadMs)
        let latest = overflow ? Int64.max : ahead
        if order.placedAtUnixMs <= 0 {
            check.fail("placed_at_unix_ms", "is not set; give the time the customer placed the order", rule: "order.placed-at")
        } else if order.placedAtUnixMs > latest {
            // A date in the future would count capacity on days no warehouse works yet.
            check.fail("placed_at_unix_ms", "is \(utcText(order.placedAtUnixMs)), after \(utcText(latest)); an order may be placed at most 1 day after the decision service's clock (\(utcText(now))): send when the customer placed it, in Unix milliseconds", rule: "order.placed-at")
        }
        if rules.serviceLevels[order.serviceLevel] == nil {
            let known = rules.ruleSet.serviceLevels.map(\.serviceLevel).joined(separator: ", ")
            check.fail("service_level", "'\(order.serviceLevel)' is not a service level of rule set \(rules.version); use one of: \(known)", rule: "order.service-level")
        }
        check.identifier(order.zone, "zone")
        if order.lines.isEmpty || order.lines.count > DecisionLimits.maximumOrderLines {
            check.fail("lines", "has \(order.lines.count) lines; an order has 1 to \(DecisionLimits.maximumOrderLines) lines (split larger orders upstream)", rule: "order.lines-limit")
        }
        var skus = Set<String>()
        for (index, line) in order.lines.prefix(DecisionLimits.maximumOrderLines).enumerated() {
            check.identifier(line.sku, "lines[\(index)].sku")
            if !skus.insert(line.sku).inserted {
                check.fail("lines[\(index)].sku", "repeats '\(line.sku)'; merge lines of the same SKU into one", rule: "order.line-unique")
            }
            if line.quantity < 1 || line.quantity > 1_000_000 {
                check.fail("lines[\(index)].quantity", "is \(line.quantity); order 1 to 1000000 units per line", rule: "order.line-quantity")
            }
            if line.unitPriceMinor < 0 {
                check.fail("lines[\(index)].unit_price_minor", "is \(line.unitPriceMinor); prices are 0 or more", rule: "order.line-price")
            }
        }
        if order.promotions.count > DecisionLimits.maximumPromotions {
            check.fail("promotions", "has \(order.promotions.count) promotions; use at most \(DecisionLimits.maximumPromotions)", rule: "order.promotions-limit")
        }
        for (index, promotion) in order.promotions.prefix(DecisionLimits.maximumPromotions).enumerated() {
            check.identifier(promotion, "promotions[\(index)]")
        }
        if let address = order.shipTo {
            if address.lines.count > 8 {
                check.fail("ship_to.lines", "has \(address.lines.count) street lines; use at most 8", rule: "order.address")
            }
            for value in [address.name, address.city, address.region, address.postalCode, address.country] + address.lines.prefix(8)
            where value.utf8.count > ExportLimits.maximumTextLength {
                // The value is personal data: the message names the field, never the text.
                check.fail("ship_to", "has a field longer than \(ExportLimits.maximumTextLength) bytes; shorten it", rule: "order.address")
                break
            }
        }
        guard check.violations.isEmpty else { throw .invalid(check.violations) }
        var canonical = order
        canonical.lines.sort { $0.sku.utf8.lexicographicallyPrecedes($1.sku.utf8) }
        canonical.promotions = Array(Set(order.promotions)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return canonical
    }
}

/// One warehouse while the engine decides.
struct Candidate {
    enum Status: Equatable {
        case able, excluded, zoneNotServed, capacityUsedUp, noStock
    }

    let warehouse: CompiledWarehouse
    let distance: Int32
    var status = Status.able
    /// Local day on which the warehouse would work the order (after its cutoff).
    var day: Int64 = 0
    /// Lines the warehouse can fill on its own (bit i = line i).
    var fills: UInt64 = 0
    /// Lines it fills from levels older than the freshness limit.
    var staleLines: UInt64 = 0
    /// The first line it cannot fill, for the explanation.
    var shortfall: String?
    private(set) var plan: DecisionEngine.Plan?
    /// Fewest shipments, then cost, then distance, then id: lower wins.
    private(set) var rank: Rank
    /// The ranking without shipments, for choosing the next warehouse of a split.
    let tieRank: Rank

    init(warehouse: CompiledWarehouse, distance: Int32) {
        self.warehouse = warehouse
        self.distance = distance
        tieRank = Rank(shipments: 0, cost: warehouse.warehouse.costWeight, distance: distance, id: warehouse.id)
        rank = Rank(shipments: .max, cost: tieRank.cost, distance: distance, id: tieRank.id)
    }

    mutating func setPlan(_ plan: DecisionEngine.Plan) {
        self.plan = plan
        rank.shipments = plan.shipments.count
    }

    struct Rank: Comparable {
        var shipments: Int
        var cost: Double
        var distance: Int32
        var id: String

        static func < (a: Rank, b: Rank) -> Bool {
            if a.shipments != b.shipments { return a.shipments < b.shipments }
            if a.cost != b.cost { return a.cost < b.cost }
            if a.distance != b.distance { return a.distance < b.distance }
            return a.id.utf8.lexicographicallyPrecedes(b.id.utf8)
        }
    }
}

/// An instant as `YYYY-MM-DD HH:MM UTC`, for messages (Unix milliseconds).
func utcText(_ unixMs: Int64) -> String {
    let day = unixMs.floorDivided(by: CompiledWarehouse.dayMs)
    let minute = (unixMs - day * CompiledWarehouse.dayMs) / 60_000
    func pad(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(civilDate(day)) \(pad(minute / 60)):\(pad(minute % 60)) UTC"
}

/// Lower-case hexadecimal digits of `bytes`.
func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0xf)])
    }
    return String(decoding: text, as: UTF8.self)
}
