import Foundation
public import MeshlineModels

/// A validated rule set prepared for deciding: warehouses in id order with their
/// time zones resolved, lookups by service level, action and merchant built once.
///
/// The stored form of a rule set is canonical (warehouses sorted by id), so the
/// order in which a file or a caller listed warehouses never changes a decision.
public final class CompiledRuleSet: Sendable {
    /// The canonical rule set.
    public let ruleSet: RuleSet
    let warehouses: [CompiledWarehouse]
    let serviceLevels: [String: ServiceLevelPolicy]
    let exceptionRules: [String: ExceptionRule]
    /// Ownership by action, then merchant id ("" = any merchant).
    let ownership: [String: [String: OwnershipRule]]
    let routing: RoutingPreferences
    let ttl: TtlPolicy
    /// For each zone, the distance from every warehouse (by position), nil where the warehouse does not serve it.
    let zoneDistances: [String: [Int32?]]

    /// Validates and compiles `ruleSet`; throws every violation.
    public init(_ ruleSet: RuleSet) throws(DecisionError) {
        let violations = ruleSet.violations()
        guard violations.isEmpty else { throw .invalid(violations) }
        var canonical = ruleSet
        canonical.warehouses.sort { $0.warehouseID.utf8.lexicographicallyPrecedes($1.warehouseID.utf8) }
        self.ruleSet = canonical
        warehouses = canonical.warehouses.map(CompiledWarehouse.init)
        var zoneDistances: [String: [Int32?]] = [:]
        for (index, warehouse) in warehouses.enumerated() {
            for zone in warehouse.warehouse.zones {
                zoneDistances[zone, default: Array(repeating: nil, count: warehouses.count)][index] = warehouse.distances[zone] ?? 0
            }
        }
        self.zoneDistances = zoneDistances
        serviceLevels = Dictionary(canonical.serviceLevels.map { ($0.serviceLevel, $0) }, uniquingKeysWith: { first, _ in first })
        exceptionRules = Dictionary(canonical.exceptionRules.map { ($0.action, $0) }, uniquingKeysWith: { first, _ in first })
        var ownership: [String: [String: OwnershipRule]] = [:]
        for rule in canonical.ownership {
            ownership[rule.action, default: [:]][rule.merchantID] = rule
        }
        self.ownership = ownership
        routing = canonical.routing ?? RoutingPreferences()
        ttl = canonical.ttl ?? TtlPolicy()
    }

    public var tenantID: String { ruleSet.tenantID }
    public var version: String { ruleSet.version }

    /// The most specific ownership rule for `action`: the merchant's own, else the one for any merchant.
    func owner(action: String, merchantID: String) -> OwnershipRule {
        let rules = ownership[action] ?? [:]
        // Validation guarantees a rule with an empty merchant id for every action the service publishes.
        return rules[merchantID] ?? rules[""]!
    }
}

/// A warehouse with what deciding needs precomputed. A class, so that the engine's
/// per-candidate records hold one reference rather than copies of every field.
final class CompiledWarehouse: Sendable {
    let warehouse: Warehouse
    let timeZone: TimeZone
    let distances: [String: Int32]
    /// The cost weight as explanations print it, formatted once: formatting a
    /// `Double` costs more than the rest of a candidate's reason.
    let costText: String

    init(_ warehouse: Warehouse) {
        self.warehouse = warehouse
        // Validation checked that the identifier names a time zone.
        timeZone = TimeZone(identifier: warehouse.timeZone)!
        distances = Dictionary(warehouse.distances.map { ($0.zone, $0.distanceKm) }, uniquingKeysWith: { first, _ in first })
        costText = "\(warehouse.costWeight)"
    }

    var id: String { warehouse.warehouseID }

    /// The local calendar day (days since 1970-01-01 in the warehouse's time zone) and
    /// minute of day of an instant.
    func localDay(of unixMs: Int64) -> (day: Int64, minute: Int32) {
        let offset = Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(unixMs) / 1000))) * 1000
        let local = unixMs + offset
        let day = local.floorDivided(by: Self.dayMs)
        return (day, Int32((local - day * Self.dayMs) / 60_000))
    }

    /// The instant at which the wall clock in the warehouse's time zone shows
    /// `minute` past midnight of local `day`. A wall time skipped by a DST change
    /// maps to the instant after the gap, as the clocks jumped.
    func instant(day: Int64, minute: Int32) -> Int64 {
        let wall = day * Self.dayMs + Int64(minute) * 60_000
        let first = offsetMs(at: wall - offsetMs(at: wall))
        let utc = wall - first
        let second = offsetMs(at: utc)
        return second == first ? utc : max(utc, wall - second)
    }

    private func offsetMs(at unixMs: Int64) -> Int64 {
        Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(unixMs) / 1000))) * 1000
    }

    static let dayMs: Int64 = 86_400_000
}

extension Int64 {
    /// Division rounding toward negative infinity (days before 1970 stay on their day).
    func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}

/// A calendar day as `YYYY-MM-DD`, for explanations (days since 1970-01-01).
func civilDate(_ day: Int64) -> String {
    // Howard Hinnant's days_from_civil inverse.
    let z = day + 719_468
    let era = z.floorDivided(by: 146_097)
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
    func pad(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(y)-\(pad(m))-\(pad(d))"
}
