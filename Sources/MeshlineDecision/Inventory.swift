public import MeshlineModels

/// Stock of one SKU in one warehouse, as last counted.
public struct StockLevel: Sendable, Hashable {
    /// Units on hand and available to promise (safety stock not yet taken off).
    public var onHand: Int64
    /// When the warehouse counted it.
    public var asOfUnixMs: Int64

    public init(onHand: Int64, asOfUnixMs: Int64) {
        self.onHand = onHand
        self.asOfUnixMs = asOfUnixMs
    }
}

/// One tenant's inventory as the decision service sees it: the newest level per
/// warehouse and SKU. A value: a decision reads one consistent view.
///
/// Laid out for deciding: one lookup by SKU gives that SKU's levels in every
/// warehouse, in an array indexed by the warehouse's number (``warehouseNumber(_:)``),
/// so an order of 10 lines costs 10 SKU lookups plus one per warehouse, not one
/// per line and warehouse.
public struct InventoryView: Sendable {
    private var warehouseNumbers: [String: Int] = [:]
    private var bySKU: [String: [StockLevel?]] = [:]

    public init() {}

    /// How many distinct SKUs the view holds levels for.
    public var skuCount: Int { bySKU.count }

    /// Whether the view holds a level of `sku` in any warehouse.
    public func holds(sku: String) -> Bool { bySKU[sku] != nil }

    /// The warehouse's number in this view, or nil when nothing was reported for it.
    public func warehouseNumber(_ warehouseID: String) -> Int? {
        warehouseNumbers[warehouseID]
    }

    /// The SKU's levels by warehouse number (shorter than the warehouse count when
    /// later warehouses never reported the SKU).
    public func levels(sku: String) -> [StockLevel?] {
        bySKU[sku] ?? []
    }

    /// The level of `sku` in `warehouseID`, or nil when none was ever reported (no stock).
    public func level(warehouseID: String, sku: String) -> StockLevel? {
        guard let number = warehouseNumbers[warehouseID], let levels = bySKU[sku], number < levels.count else { return nil }
        return levels[number]
    }

    /// What applying a level did.
    public enum ApplyResult: Sendable {
        /// The level was newer than the one held and replaced it.
        case applied
        /// The same count (same `as_of` and units) is already held: a replay.
        case same
        /// An older count, or a different count with the same `as_of`: ignored.
        case older
    }

    /// Applies `level` when it is newer than the one held.
    @discardableResult
    public mutating func apply(_ level: InventoryLevel) -> ApplyResult {
        let new = StockLevel(onHand: level.onHand, asOfUnixMs: level.asOfUnixMs)
        let number: Int
        if let known = warehouseNumbers[level.warehouseID] {
            number = known
        } else {
            number = warehouseNumbers.count
            warehouseNumbers[level.warehouseID] = number
        }
        return Self.apply(new, at: number, to: &bySKU[level.sku, default: []])
    }

    private static func apply(_ new: StockLevel, at number: Int, to levels: inout [StockLevel?]) -> ApplyResult {
        if number >= levels.count { levels.append(contentsOf: repeatElement(nil, count: number + 1 - levels.count)) }
        if let old = levels[number], old.asOfUnixMs >= new.asOfUnixMs {
            return old == new ? .same : .older
        }
        levels[number] = new
        return .applied
    }
}

extension UpdateInventoryRequest {
    /// Every problem with the request's levels; an empty list means all can be applied.
    func violations() -> [Violation] {
        var check = Checker(base: "")
        check.identifier(tenantID, "tenant_id")
        if levels.isEmpty {
            check.fail("levels", "is empty; send at least one inventory level", rule: "inventory.levels-required")
        }
        if levels.count > DecisionLimits.maximumInventoryLevels {
            check.fail("levels", "has \(levels.count) levels; send at most \(DecisionLimits.maximumInventoryLevels) per call", rule: "inventory.levels-limit")
        }
        for (index, level) in levels.prefix(DecisionLimits.maximumInventoryLevels).enumerated() {
            let field = "levels[\(index)]"
            check.identifier(level.warehouseID, "\(field).warehouse_id")
            check.identifier(level.sku, "\(field).sku")
            if level.onHand < 0 {
                check.fail("\(field).on_hand", "is \(level.onHand); report 0 or more units", rule: "inventory.on-hand")
            }
            if level.asOfUnixMs <= 0 {
                check.fail("\(field).as_of_unix_ms", "is not set; give the time the stock was counted", rule: "inventory.as-of")
            }
        }
        return check.violations
    }

    /// One violation for each warehouse that `ruleSets` (the versions that decide the
    /// tenant's orders) do not list, at the first level naming it: each SKU's levels
    /// are an array by warehouse number, so every warehouse let in lengthens them all.
    func unknownWarehouses(_ ruleSets: [CompiledRuleSet]) -> [Violation] {
        let known = Set(ruleSets.flatMap { $0.ruleSet.warehouses.map(\.warehouseID) })
        let versions = ruleSets.map(\.version).joined(separator: " and ")
        var check = Checker(base: "")
        var reported = Set<String>()
        for (index, level) in levels.enumerated() where !known.contains(level.warehouseID) && reported.insert(level.warehouseID).inserted {
            check.fail(
                "levels[\(index)].warehouse_id",
                "'\(level.warehouseID)' is not a warehouse of tenant \(tenantID)'s rule set \(versions) on this replica; report stock only for its warehouses, or put a rule set that lists this one first (a rule set put in the last seconds may not be read by every replica yet: retry)",
                rule: "inventory.warehouse-known")
        }
        return check.violations
    }
}
