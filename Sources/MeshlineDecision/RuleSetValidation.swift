import Foundation
public import MeshlineModels

/// Bounds on what the decision service accepts, so that no caller can make a
/// decision (or a rule set) cost unbounded time or memory.
public enum DecisionLimits {
    public static let maximumWarehouses = 256
    public static let maximumZonesPerWarehouse = 64
    /// An order's lines are tracked as bits of a 64-bit set while splitting.
    public static let maximumOrderLines = 64
    public static let maximumPromotions = 64
    public static let maximumRules = 256
    public static let maximumShipWithinDays: Int32 = 60
    public static let maximumPickWindowMinutes: Int32 = 7 * 24 * 60
    public static let maximumInventoryLevels = 10_000
    /// Distinct SKUs whose inventory one tenant's view holds: each SKU keeps a level
    /// slot per warehouse (up to ``maximumWarehouses``), so this bounds a tenant's view.
    public static let maximumInventorySKUs = 100_000
    /// How far after the decision time an order's `placed_at` may lie: clock skew or
    /// a local time sent as UTC in the order source fits, a wrong date does not.
    public static let maximumPlacedAheadMs: Int64 = 86_400_000
    /// The actions whose exports the decision service publishes; each needs an
    /// ownership rule for any merchant and an exception rule.
    public static let actions = ["route-to-warehouse", "backorder"]
}

extension RuleSet {
    /// Every rule the rule set breaks, with paths below `path` (e.g. `rule_set.warehouses[2].time_zone`).
    ///
    /// Whether `rollout.fallback_version` exists is checked by the store, which knows the other versions.
    public func violations(path: String = "rule_set") -> [Violation] {
        var check = Checker(base: path)
        check.identifier(tenantID, "tenant_id")
        if !RuleSetVersion.isValid(version) {
            check.fail("version", "'\(version)' is not a version; use v followed by dot-separated numbers, e.g. v3.1", rule: "rules.version")
        }

        if warehouses.isEmpty {
            check.fail("warehouses", "is empty; list at least one warehouse", rule: "rules.warehouses-required")
        } else if warehouses.count > DecisionLimits.maximumWarehouses {
            check.fail("warehouses", "has \(warehouses.count) warehouses; use at most \(DecisionLimits.maximumWarehouses)", rule: "rules.warehouses-limit")
        }
        var warehouseIDs = Set<String>()
        for (index, warehouse) in warehouses.prefix(DecisionLimits.maximumWarehouses).enumerated() {
            let field = "warehouses[\(index)]"
            check.identifier(warehouse.warehouseID, "\(field).warehouse_id")
            check.text(warehouse.name, "\(field).name", limit: ExportLimits.maximumLabelLength * 4)
            if !warehouseIDs.insert(warehouse.warehouseID).inserted {
                check.fail("\(field).warehouse_id", "repeats '\(warehouse.warehouseID)'; warehouse ids are unique within a rule set", rule: "rules.warehouse-unique")
            }
            if warehouse.zones.isEmpty {
                check.fail("\(field).zones", "is empty; list the shipping zones the warehouse serves", rule: "rules.zones-required")
            } else if warehouse.zones.count > DecisionLimits.maximumZonesPerWarehouse {
                check.fail("\(field).zones", "has \(warehouse.zones.count) zones; use at most \(DecisionLimits.maximumZonesPerWarehouse)", rule: "rules.zones-limit")
            }
            for (zoneIndex, zone) in warehouse.zones.prefix(DecisionLimits.maximumZonesPerWarehouse).enumerated() {
                check.identifier(zone, "\(field).zones[\(zoneIndex)]")
            }
            if TimeZone(identifier: warehouse.timeZone) == nil {
                check.fail("\(field).time_zone", "'\(warehouse.timeZone)' is not an IANA time zone; use one like America/Chicago or Europe/Berlin", rule: "rules.time-zone")
            }
            if !(0...1439).contains(warehouse.cutoffMinuteOfDay) {
                check.fail("\(field).cutoff_minute_of_day", "is \(warehouse.cutoffMinuteOfDay); use 0 to 1439 minutes after local midnight", rule: "rules.cutoff")
            }
            if warehouse.dailyCapacity < 0 {
                check.fail("\(field).daily_capacity", "is \(warehouse.dailyCapacity); use 0 for unlimited or a positive number of orders per day", rule: "rules.capacity")
            }
            if !warehouse.costWeight.isFinite || warehouse.costWeight < 0 {
                check.fail("\(field).cost_weight", "is \(warehouse.costWeight); use a finite number of at least 0", rule: "rules.cost-weight")
            }
            if warehouse.safetyStock < 0 {
                check.fail("\(field).safety_stock", "is \(warehouse.safetyStock); use 0 or more units", rule: "rules.safety-stock")
            }
            var distanceZones = Set<String>()
            for (distanceIndex, distance) in warehouse.distances.prefix(DecisionLimits.maximumZonesPerWarehouse).enumerated() {
                let distanceField = "\(field).distances[\(distanceIndex)]"
                if !warehouse.zones.contains(distance.zone) {
                    check.fail("\(distanceField).zone", "'\(distance.zone)' is not one of the warehouse's zones; add it to zones or remove the distance", rule: "rules.distance-zone")
                }
                if !distanceZones.insert(distance.zone).inserted {
                    check.fail("\(distanceField).zone", "repeats '\(distance.zone)'; give each zone one distance", rule: "rules.distance-unique")
                }
                if distance.distanceKm < 0 {
                    check.fail("\(distanceField).distance_km", "is \(distance.distanceKm); distances are 0 km or more", rule: "rules.distance")
                }
            }
            if let party = warehouse.operator {
                check.party(party, "\(field).operator")
            }
        }

        if let routing {
            if routing.minShipmentValueMinor < 0 {
                check.fail("routing.min_shipment_value_minor", "is \(routing.minShipmentValueMinor); use 0 or more", rule: "rules.min-shipment-value")
            }
            if routing.maxShipments < 0 {
                check.fail("routing.max_shipments", "is \(routing.maxShipments); use 0 for no limit or a positive number", rule: "rules.max-shipments")
            }
        }

        check.count(ownership.count, "ownership")
        var ownershipKeys = Set<String>()
        for (index, rule) in ownership.prefix(DecisionLimits.maximumRules).enumerated() {
            let field = "ownership[\(index)]"
            check.action(rule.action, "\(field).action")
            if !rule.merchantID.isEmpty { check.identifier(rule.merchantID, "\(field).merchant_id") }
            if !ownershipKeys.insert("\(rule.action)\u{0}\(rule.merchantID)").inserted {
                check.fail(field, "repeats the rule for action '\(rule.action)' and merchant '\(rule.merchantID.isEmpty ? "(any)" : rule.merchantID)'; keep one", rule: "rules.ownership-unique")
            }
            if let owner = rule.owner {
                check.party(owner, "\(field).owner")
            } else {
                check.fail("\(field).owner", "is missing; name the owning party, e.g. agency:fulfillment-team", rule: "rules.owner-required")
            }
            var seen = Set<Party>()
            for (watcherIndex, watcher) in rule.watchers.prefix(ExportLimits.maximumWatchers).enumerated() {
                let watcherField = "\(field).watchers[\(watcherIndex)]"
                check.party(watcher, watcherField)
                if watcher == rule.owner || !seen.insert(watcher).inserted {
                    check.fail(watcherField, "\(watcher.text) is the owner or listed twice; list each watcher once and never the owner", rule: "rules.watcher-unique")
                }
            }
            if rule.watchers.count > ExportLimits.maximumWatchers - 1 {
                check.fail("\(field).watchers", "has \(rule.watchers.count) parties; use at most \(ExportLimits.maximumWatchers - 1) (the warehouse operator may be added)", rule: "rules.watchers-limit")
            }
        }
        for action in DecisionLimits.actions where !ownership.contains(where: { $0.action == action && $0.merchantID.isEmpty }) {
            check.fail("ownership", "has no rule for action '\(action)' with an empty merchant_id; add one so that every merchant's exports have an owner", rule: "rules.ownership-default")
        }

        check.count(serviceLevels.count, "service_levels")
        if serviceLevels.isEmpty {
            check.fail("service_levels", "is empty; list the tenant's service levels (e.g. standard, express)", rule: "rules.service-levels-required")
        }
        var levels = Set<String>()
        for (index, level) in serviceLevels.prefix(DecisionLimits.maximumRules).enumerated() {
            let field = "service_levels[\(index)]"
            check.identifier(level.serviceLevel, "\(field).service_level")
            if !levels.insert(level.serviceLevel).inserted {
                check.fail("\(field).service_level", "repeats '\(level.serviceLevel)'; list each service level once", rule: "rules.service-level-unique")
            }
            if !(0...DecisionLimits.maximumShipWithinDays).contains(level.shipWithinDays) {
                check.fail("\(field).ship_within_days", "is \(level.shipWithinDays); use 0 to \(DecisionLimits.maximumShipWithinDays) days", rule: "rules.ship-within-days")
            }
            if !(1...DecisionLimits.maximumPickWindowMinutes).contains(level.pickWindowMinutes) {
                check.fail("\(field).pick_window_minutes", "is \(level.pickWindowMinutes); use 1 to \(DecisionLimits.maximumPickWindowMinutes) minutes", rule: "rules.pick-window")
            }
        }

        check.count(exceptionRules.count, "exception_rules")
        var exceptionActions = Set<String>()
        for (index, rule) in exceptionRules.prefix(DecisionLimits.maximumRules).enumerated() {
            let field = "exception_rules[\(index)]"
            check.action(rule.action, "\(field).action")
            if !exceptionActions.insert(rule.action).inserted {
                check.fail("\(field).action", "repeats '\(rule.action)'; give each action one exception rule", rule: "rules.exception-unique")
            }
            if let path = rule.path {
                if path.type == .unspecified {
                    check.fail("\(field).path.type", "is unspecified; use auto-retry, auto-escalate-to-merchant, auto-escalate-to-agency or human-queue", rule: "rules.exception-type")
                }
                check.identifier(path.queue, "\(field).path.queue")
                if !path.contactID.isEmpty { check.identifier(path.contactID, "\(field).path.contact_id") }
            } else {
                check.fail("\(field).path", "is missing; give the exception path (type and queue)", rule: "rules.exception-path-required")
            }
            if rule.escalationContacts.count > ExportLimits.maximumEscalationContacts {
                check.fail("\(field).escalation_contacts", "has \(rule.escalationContacts.count) contacts; use at most \(ExportLimits.maximumEscalationContacts)", rule: "rules.contacts-limit")
            }
            for (contactIndex, contact) in rule.escalationContacts.prefix(ExportLimits.maximumEscalationContacts).enumerated() {
                let contactField = "\(field).escalation_contacts[\(contactIndex)]"
                check.identifier(contact.contactID, "\(contactField).contact_id")
                if let party = contact.party { check.party(party, "\(contactField).party") }
                if contact.channel.isEmpty {
                    check.fail("\(contactField).channel", "is empty; use email, slack, pager or crm", rule: "rules.contact-channel")
                }
                check.text(contact.channel, "\(contactField).channel", limit: ExportLimits.maximumLabelLength)
                check.text(contact.address, "\(contactField).address", limit: ExportLimits.maximumTextLength)
                if contact.level < 1 {
                    check.fail("\(contactField).level", "is \(contact.level); escalation levels start at 1", rule: "rules.contact-level")
                }
            }
        }
        for action in DecisionLimits.actions where !exceptionActions.contains(action) {
            check.fail("exception_rules", "has no rule for action '\(action)'; every export needs an exception path", rule: "rules.exception-required")
        }

        if let ttl {
            if ttl.ttlMs <= 0 {
                check.fail("ttl.ttl_ms", "is \(ttl.ttlMs); give a positive time-to-live in milliseconds", rule: "rules.ttl")
            }
            if ttl.staleTTLMs <= 0 || ttl.staleTTLMs > ttl.ttlMs {
                check.fail("ttl.stale_ttl_ms", "is \(ttl.staleTTLMs); give a positive time-to-live no longer than ttl_ms (\(ttl.ttlMs))", rule: "rules.stale-ttl")
            }
            if ttl.freshnessLimitMs <= 0 {
                check.fail("ttl.freshness_limit_ms", "is \(ttl.freshnessLimitMs); give how old inventory may be, in milliseconds", rule: "rules.freshness")
            }
        } else {
            check.fail("ttl", "is missing; give ttl_ms, stale_ttl_ms and freshness_limit_ms", rule: "rules.ttl-required")
        }

        check.count(packingRules.count, "packing_rules")
        for (index, rule) in packingRules.prefix(DecisionLimits.maximumRules).enumerated() {
            let field = "packing_rules[\(index)]"
            if rule.promotion.isEmpty == rule.sku.isEmpty {
                check.fail(field, "must name exactly one of promotion and sku", rule: "rules.packing-trigger")
            }
            if !rule.promotion.isEmpty { check.identifier(rule.promotion, "\(field).promotion") }
            if !rule.sku.isEmpty { check.identifier(rule.sku, "\(field).sku") }
            if let instruction = rule.instruction {
                check.identifier(instruction.code, "\(field).instruction.code")
                if instruction.text.isEmpty {
                    check.fail("\(field).instruction.text", "is empty; write the instruction for the packer", rule: "rules.packing-text")
                }
                check.text(instruction.text, "\(field).instruction.text", limit: ExportLimits.maximumTextLength)
                check.text(instruction.source, "\(field).instruction.source", limit: ExportLimits.maximumLabelLength * 4)
                if instruction.skus.count > ExportLimits.maximumSkusPerInstruction {
                    check.fail("\(field).instruction.skus", "has \(instruction.skus.count) SKUs; use at most \(ExportLimits.maximumSkusPerInstruction)", rule: "rules.packing-skus")
                }
                for (skuIndex, sku) in instruction.skus.prefix(ExportLimits.maximumSkusPerInstruction).enumerated() {
                    check.identifier(sku, "\(field).instruction.skus[\(skuIndex)]")
                }
            } else {
                check.fail("\(field).instruction", "is missing; give the instruction (code and text)", rule: "rules.packing-instruction")
            }
        }

        if let rollout {
            if !(0...100).contains(rollout.percent) {
                check.fail("rollout.percent", "is \(rollout.percent); use 0 to 100", rule: "rules.rollout-percent")
            }
            if rollout.percent < 100 {
                if !RuleSetVersion.isValid(rollout.fallbackVersion) {
                    check.fail("rollout.fallback_version", "'\(rollout.fallbackVersion)' is not a version; name the version that serves the other orders, e.g. v3.0", rule: "rules.rollout-fallback")
                } else if rollout.fallbackVersion == version {
                    check.fail("rollout.fallback_version", "is this rule set's own version; name an earlier version", rule: "rules.rollout-fallback")
                }
            }
        }
        return check.violations
    }
}

/// Rule-set versions: `v` then one to four dot-separated numbers, ordered numerically.
public enum RuleSetVersion {
    public static func isValid(_ text: String) -> Bool {
        components(text) != nil
    }

    /// The numbers of `v3.1` (`[3, 1]`), or nil when the text is not a version.
    public static func components(_ text: String) -> [Int]? {
        guard text.first == "v", text.utf8.count <= ExportLimits.maximumLabelLength else { return nil }
        let parts = text.dropFirst().split(separator: ".", omittingEmptySubsequences: false)
        guard (1...4).contains(parts.count) else { return nil }
        var numbers: [Int] = []
        for part in parts {
            guard !part.isEmpty, part.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let number = Int(part) else { return nil }
            numbers.append(number)
        }
        return numbers
    }

    /// Whether `a` is an earlier version than `b` (`v3.1` < `v3.10` < `v4`).
    public static func precedes(_ a: String, _ b: String) -> Bool {
        let left = components(a) ?? [], right = components(b) ?? []
        for (x, y) in zip(left, right) where x != y { return x < y }
        return left.count < right.count
    }
}

/// Collects violations with paths relative to a base.
struct Checker {
    let base: String
    var violations: [Violation] = []

    mutating func fail(_ field: String, _ reason: String, rule: String) {
        violations.append(Violation(field: base.isEmpty ? field : "\(base).\(field)", reason: reason, rule: rule))
    }

    mutating func identifier(_ value: String, _ field: String) {
        if let problem = Identifier.problem(with: value) {
            fail(field, problem, rule: "identifier")
        }
    }

    mutating func party(_ party: Party, _ field: String) {
        if party.role == .unspecified {
            fail("\(field).role", "is unspecified; use agency, merchant or 3pl", rule: "party.role")
        }
        do throws(PartyParseError) {
            try Party.checkName(party.name)
        } catch {
            fail("\(field).name", error.description, rule: "party.name")
        }
    }

    mutating func action(_ action: String, _ field: String) {
        if !DecisionLimits.actions.contains(action) {
            fail(field, "'\(action)' is not an action the decision service publishes; use \(DecisionLimits.actions.joined(separator: " or "))", rule: "rules.action")
        }
    }

    mutating func text(_ value: String, _ field: String, limit: Int) {
        if value.utf8.count > limit {
            fail(field, "has \(value.utf8.count) bytes; use at most \(limit)", rule: "rules.text-length")
        }
    }

    mutating func count(_ count: Int, _ field: String) {
        if count > DecisionLimits.maximumRules {
            fail(field, "has \(count) entries; use at most \(DecisionLimits.maximumRules)", rule: "rules.limit")
        }
    }
}
