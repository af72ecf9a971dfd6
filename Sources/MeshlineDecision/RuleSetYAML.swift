import Foundation
public import MeshlineModels
import Yams

/// Rule sets as YAML files: one rule set per file, keys named as in `rules.proto`
/// (see `services/decision/rules.example.yaml`). Parties are written as text
/// (`agency:fulfillment-team`), cutoffs as local `HH:MM`, an exception rule's path
/// fields (`type`, `queue`, `contact_id`) and a packing rule's instruction fields
/// (`code`, `text`, `skus`, `source`) sit on the rule itself.
///
/// Every problem is reported as `FILE:LINE:COLUMN: FIELD REASON`, one per line, so
/// that the person editing the file can go straight to it.
public enum RuleSetYAML {
    /// Parses and validates one rule-set file.
    public static func decode(_ text: String, file: String) throws(DecisionError) -> RuleSet {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw .ruleFile("\(file): \(describe(error))")
        } catch {
            throw .ruleFile("\(file): not YAML: \(error)")
        }
        guard let root else { throw .ruleFile("\(file):1:1: the file is empty; it must hold one rule set (tenant_id, version, warehouses, …)") }
        var reader = Reader(file: file)
        let ruleSet = reader.ruleSet(root)
        if reader.problems.isEmpty {
            for violation in ruleSet.violations(path: "") {
                reader.problem(at: reader.mark(for: violation.field) ?? root.mark, violation.field, violation.reason)
            }
        }
        guard reader.problems.isEmpty else { throw .ruleFile(reader.problems.joined(separator: "\n")) }
        return ruleSet
    }

    /// The YAML text of a rule set, readable by ``decode(_:file:)``.
    public static func encode(_ ruleSet: RuleSet) -> String {
        var top: [(Node, Node)] = [
            ("tenant_id", string(ruleSet.tenantID)),
            ("version", string(ruleSet.version)),
            ("created_at_unix_ms", number(ruleSet.createdAtUnixMs)),
        ]
        top.append(("warehouses", list(ruleSet.warehouses.map { warehouse in
            var fields: [(Node, Node)] = [
                ("warehouse_id", string(warehouse.warehouseID)),
                ("name", string(warehouse.name)),
                ("zones", list(warehouse.zones.map(string))),
                ("time_zone", string(warehouse.timeZone)),
                ("cutoff", string(clock(warehouse.cutoffMinuteOfDay))),
                ("daily_capacity", number(warehouse.dailyCapacity)),
                ("cost_weight", plain(String(warehouse.costWeight))),
                ("safety_stock", number(warehouse.safetyStock)),
                ("distances", mapping(warehouse.distances.map { (string($0.zone), number($0.distanceKm)) })),
            ]
            if let party = warehouse.operator { fields.append(("operator", string(party.text))) }
            return mapping(fields)
        })))
        if let routing = ruleSet.routing {
            top.append(("routing", mapping([
                ("allow_split", plain(routing.allowSplit ? "true" : "false")),
                ("min_shipment_value_minor", number(routing.minShipmentValueMinor)),
                ("max_shipments", number(routing.maxShipments)),
            ])))
        }
        top.append(("ownership", list(ruleSet.ownership.map { rule in
            mapping([
                ("action", string(rule.action)),
                ("merchant_id", string(rule.merchantID)),
                ("owner", string(rule.owner?.text ?? "")),
                ("watchers", list(rule.watchers.map { string($0.text) })),
            ])
        })))
        top.append(("service_levels", list(ruleSet.serviceLevels.map { level in
            mapping([
                ("service_level", string(level.serviceLevel)),
                ("ship_within_days", number(level.shipWithinDays)),
                ("pick_window_minutes", number(level.pickWindowMinutes)),
            ])
        })))
        top.append(("exception_rules", list(ruleSet.exceptionRules.map { rule in
            mapping([
                ("action", string(rule.action)),
                ("type", string(rule.path.map { exceptionTypeText($0.type) } ?? "")),
                ("queue", string(rule.path?.queue ?? "")),
                ("contact_id", string(rule.path?.contactID ?? "")),
                ("escalation_contacts", list(rule.escalationContacts.map { contact in
                    mapping([
                        ("contact_id", string(contact.contactID)),
                        ("party", string(contact.party?.text ?? "")),
                        ("channel", string(contact.channel)),
                        ("address", string(contact.address)),
                        ("level", number(contact.level)),
                    ])
                })),
            ])
        })))
        if let ttl = ruleSet.ttl {
            top.append(("ttl", mapping([
                ("ttl_ms", number(ttl.ttlMs)),
                ("stale_ttl_ms", number(ttl.staleTTLMs)),
                ("freshness_limit_ms", number(ttl.freshnessLimitMs)),
            ])))
        }
        top.append(("packing_rules", list(ruleSet.packingRules.map { rule in
            mapping([
                ("promotion", string(rule.promotion)),
                ("sku", string(rule.sku)),
                ("code", string(rule.instruction?.code ?? "")),
                ("text", string(rule.instruction?.text ?? "")),
                ("skus", list((rule.instruction?.skus ?? []).map(string))),
                ("source", string(rule.instruction?.source ?? "")),
            ])
        })))
        if let rollout = ruleSet.rollout {
            top.append(("rollout", mapping([
                ("percent", number(rollout.percent)),
                ("fallback_version", string(rollout.fallbackVersion)),
            ])))
        }
        // Serializing a tree of plain scalars, sequences and mappings cannot fail.
        return (try? Yams.serialize(node: mapping(top), allowUnicode: true)) ?? ""
    }

    static func string(_ value: String) -> Node { .scalar(Node.Scalar(value, .implicit, .doubleQuoted)) }
    static func plain(_ value: String) -> Node { .scalar(Node.Scalar(value)) }
    static func number(_ value: some BinaryInteger) -> Node { plain(String(value)) }
    static func list(_ nodes: [Node]) -> Node { .sequence(Node.Sequence(nodes)) }
    static func mapping(_ pairs: [(Node, Node)]) -> Node { .mapping(Node.Mapping(pairs)) }
    static func clock(_ minute: Int32) -> String {
        let hours = minute / 60, minutes = minute % 60
        return "\(hours < 10 ? "0" : "")\(hours):\(minutes < 10 ? "0" : "")\(minutes)"
    }

    static let exceptionTypes: [(String, ExceptionPathType)] = [
        ("auto-retry", .autoRetry), ("auto-escalate-to-merchant", .autoEscalateToMerchant),
        ("auto-escalate-to-agency", .autoEscalateToAgency), ("human-queue", .humanQueue),
    ]

    static func exceptionTypeText(_ type: ExceptionPathType) -> String {
        exceptionTypes.first { $0.1 == type }?.0 ?? ""
    }

    static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            "\(mark.line):\(mark.column): not valid YAML: \(problem)"
        default:
            "not valid YAML: \(error)"
        }
    }
}

/// Walks the node tree, remembering where each field was written.
private struct Reader {
    let file: String
    var problems: [String] = []
    /// Field path (as in violations, e.g. `warehouses[1].time_zone`) → where it was written.
    var marks: [String: Mark] = [:]

    init(file: String) {
        self.file = file
    }

    mutating func problem(at mark: Mark?, _ field: String, _ reason: String) {
        let place = mark.map { "\($0.line):\($0.column)" } ?? "1:1"
        problems.append("\(file):\(place): \(field) \(reason)")
    }

    /// Where `field` or its nearest written parent was written.
    func mark(for field: String) -> Mark? {
        var path = Substring(field)
        while !path.isEmpty {
            if let mark = marks[String(path)] { return mark }
            guard let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
            path = path[..<cut]
        }
        return nil
    }

    /// The fields of a mapping, after checking that every key is one of `allowed`.
    mutating func fields(_ node: Node, _ path: String, allowed: [String]) -> [String: Node] {
        guard case .mapping(let mapping) = node else {
            problem(at: node.mark, path.isEmpty ? "(top level)" : path, "must be a mapping of \(allowed.joined(separator: ", "))")
            return [:]
        }
        var result: [String: Node] = [:]
        for (keyNode, value) in mapping {
            let key = keyNode.scalar?.string ?? ""
            let field = path.isEmpty ? key : "\(path).\(key)"
            guard allowed.contains(key) else {
                problem(at: keyNode.mark, field, "is not a known field; use one of \(allowed.joined(separator: ", "))")
                continue
            }
            if result[key] != nil {
                problem(at: keyNode.mark, field, "is given twice; keep one")
            }
            result[key] = value
            marks[field] = keyNode.mark
        }
        return result
    }

    mutating func list(_ node: Node?, _ path: String) -> [Node] {
        guard let node else { return [] }
        guard case .sequence(let sequence) = node else {
            problem(at: node.mark, path, "must be a list")
            return []
        }
        for (index, element) in sequence.enumerated() { marks["\(path)[\(index)]"] = element.mark }
        return Array(sequence)
    }

    mutating func text(_ node: Node?, _ path: String) -> String {
        guard let node else { return "" }
        guard let scalar = node.scalar else {
            problem(at: node.mark, path, "must be a single value, not a list or mapping")
            return ""
        }
        return scalar.string
    }

    mutating func integer<Value: FixedWidthInteger>(_ node: Node?, _ path: String, as: Value.Type) -> Value {
        guard let node else { return 0 }
        let text = text(node, path)
        guard let value = Value(text.replacingOccurrences(of: "_", with: "")) else {
            problem(at: node.mark, path, "'\(text)' is not a whole number")
            return 0
        }
        return value
    }

    mutating func double(_ node: Node?, _ path: String) -> Double {
        guard let node else { return 0 }
        let text = text(node, path)
        guard let value = Double(text), value.isFinite else {
            problem(at: node.mark, path, "'\(text)' is not a number")
            return 0
        }
        return value
    }

    mutating func bool(_ node: Node?, _ path: String) -> Bool {
        guard let node else { return false }
        switch text(node, path) {
        case "true": return true
        case "false": return false
        case let other:
            problem(at: node.mark, path, "'\(other)' is not true or false")
            return false
        }
    }

    mutating func party(_ node: Node?, _ path: String) -> Party? {
        guard let node else { return nil }
        let text = text(node, path)
        do throws(PartyParseError) {
            return try Party(parsing: text)
        } catch {
            problem(at: node.mark, path, error.description)
            return nil
        }
    }

    mutating func strings(_ node: Node?, _ path: String) -> [String] {
        list(node, path).enumerated().map { text($0.element, "\(path)[\($0.offset)]") }
    }

    // MARK: The schema

    mutating func ruleSet(_ root: Node) -> RuleSet {
        let top = fields(root, "", allowed: [
            "tenant_id", "version", "created_at_unix_ms", "warehouses", "routing", "ownership", "service_levels",
            "exception_rules", "ttl", "packing_rules", "rollout",
        ])
        var ruleSet = RuleSet(tenantID: text(top["tenant_id"], "tenant_id"), version: text(top["version"], "version"))
        ruleSet.createdAtUnixMs = integer(top["created_at_unix_ms"], "created_at_unix_ms", as: Int64.self)
        ruleSet.warehouses = list(top["warehouses"], "warehouses").enumerated().map { warehouse($0.element, "warehouses[\($0.offset)]") }
        if let node = top["routing"] {
            let routing = fields(node, "routing", allowed: ["allow_split", "min_shipment_value_minor", "max_shipments"])
            ruleSet.routing = RoutingPreferences(
                allowSplit: bool(routing["allow_split"], "routing.allow_split"),
                minShipmentValueMinor: integer(routing["min_shipment_value_minor"], "routing.min_shipment_value_minor", as: Int64.self),
                maxShipments: integer(routing["max_shipments"], "routing.max_shipments", as: Int32.self))
        }
        ruleSet.ownership = list(top["ownership"], "ownership").enumerated().map { index, node in
            let path = "ownership[\(index)]"
            let rule = fields(node, path, allowed: ["action", "merchant_id", "owner", "watchers"])
            return OwnershipRule(
                action: text(rule["action"], "\(path).action"), merchantID: text(rule["merchant_id"], "\(path).merchant_id"),
                owner: party(rule["owner"], "\(path).owner"),
                watchers: list(rule["watchers"], "\(path).watchers").enumerated().compactMap { party($0.element, "\(path).watchers[\($0.offset)]") })
        }
        ruleSet.serviceLevels = list(top["service_levels"], "service_levels").enumerated().map { index, node in
            let path = "service_levels[\(index)]"
            let level = fields(node, path, allowed: ["service_level", "ship_within_days", "pick_window_minutes"])
            return ServiceLevelPolicy(
                serviceLevel: text(level["service_level"], "\(path).service_level"),
                shipWithinDays: integer(level["ship_within_days"], "\(path).ship_within_days", as: Int32.self),
                pickWindowMinutes: integer(level["pick_window_minutes"], "\(path).pick_window_minutes", as: Int32.self))
        }
        ruleSet.exceptionRules = list(top["exception_rules"], "exception_rules").enumerated().map { exceptionRule($0.element, "exception_rules[\($0.offset)]") }
        if let node = top["ttl"] {
            let ttl = fields(node, "ttl", allowed: ["ttl_ms", "stale_ttl_ms", "freshness_limit_ms"])
            ruleSet.ttl = TtlPolicy(
                ttlMs: integer(ttl["ttl_ms"], "ttl.ttl_ms", as: Int64.self),
                staleTTLMs: integer(ttl["stale_ttl_ms"], "ttl.stale_ttl_ms", as: Int64.self),
                freshnessLimitMs: integer(ttl["freshness_limit_ms"], "ttl.freshness_limit_ms", as: Int64.self))
        }
        ruleSet.packingRules = list(top["packing_rules"], "packing_rules").enumerated().map { index, node in
            let path = "packing_rules[\(index)]"
            let rule = fields(node, path, allowed: ["promotion", "sku", "code", "text", "skus", "source"])
            for key in ["code", "text", "skus", "source"] { marks["\(path).instruction.\(key)"] = marks["\(path).\(key)"] }
            return PackingRule(
                promotion: text(rule["promotion"], "\(path).promotion"), sku: text(rule["sku"], "\(path).sku"),
                instruction: PackingInstruction(
                    code: text(rule["code"], "\(path).code"), text: text(rule["text"], "\(path).text"),
                    skus: strings(rule["skus"], "\(path).skus"), source: text(rule["source"], "\(path).source")))
        }
        if let node = top["rollout"] {
            let rollout = fields(node, "rollout", allowed: ["percent", "fallback_version"])
            ruleSet.rollout = Rollout(
                percent: integer(rollout["percent"], "rollout.percent", as: Int32.self),
                fallbackVersion: text(rollout["fallback_version"], "rollout.fallback_version"))
        }
        return ruleSet
    }

    mutating func warehouse(_ node: Node, _ path: String) -> Warehouse {
        let fields = fields(node, path, allowed: [
            "warehouse_id", "name", "zones", "time_zone", "cutoff", "cutoff_minute_of_day", "daily_capacity",
            "cost_weight", "safety_stock", "distances", "operator",
        ])
        var warehouse = Warehouse(
            warehouseID: text(fields["warehouse_id"], "\(path).warehouse_id"), name: text(fields["name"], "\(path).name"),
            zones: strings(fields["zones"], "\(path).zones"), timeZone: text(fields["time_zone"], "\(path).time_zone"),
            dailyCapacity: integer(fields["daily_capacity"], "\(path).daily_capacity", as: Int64.self),
            costWeight: double(fields["cost_weight"], "\(path).cost_weight"),
            safetyStock: integer(fields["safety_stock"], "\(path).safety_stock", as: Int64.self),
            operator: party(fields["operator"], "\(path).operator"))
        if let cutoff = fields["cutoff"] {
            marks["\(path).cutoff_minute_of_day"] = marks["\(path).cutoff"]
            let value = text(cutoff, "\(path).cutoff")
            let parts = value.split(separator: ":")
            if parts.count == 2, parts.allSatisfy({ $0.count == 2 }), let hours = Int32(parts[0]), let minutes = Int32(parts[1]), (0..<24).contains(hours), (0..<60).contains(minutes) {
                warehouse.cutoffMinuteOfDay = hours * 60 + minutes
            } else {
                problem(at: cutoff.mark, "\(path).cutoff", "'\(value)' is not a local time; write HH:MM from 00:00 to 23:59, e.g. \"14:30\"")
            }
        } else {
            warehouse.cutoffMinuteOfDay = integer(fields["cutoff_minute_of_day"], "\(path).cutoff_minute_of_day", as: Int32.self)
        }
        if let distances = fields["distances"] {
            if case .mapping(let mapping) = distances {
                warehouse.distances = mapping.enumerated().map { index, pair in
                    let zone = text(pair.key, "\(path).distances")
                    marks["\(path).distances[\(index)]"] = pair.key.mark
                    return ZoneDistance(zone: zone, distanceKm: integer(pair.value, "\(path).distances.\(zone)", as: Int32.self))
                }
            } else {
                problem(at: distances.mark, "\(path).distances", "must be a mapping of zone to kilometres, e.g. {us-west: 350}")
            }
        }
        return warehouse
    }

    mutating func exceptionRule(_ node: Node, _ path: String) -> ExceptionRule {
        let fields = fields(node, path, allowed: ["action", "type", "queue", "contact_id", "escalation_contacts"])
        for key in ["type", "queue", "contact_id"] { marks["\(path).path.\(key)"] = marks["\(path).\(key)"] }
        let typeText = text(fields["type"], "\(path).type")
        let type = RuleSetYAML.exceptionTypes.first { $0.0 == typeText }?.1
        if type == nil {
            problem(at: fields["type"]?.mark ?? node.mark, "\(path).type", "'\(typeText)' is not an exception path type; use \(RuleSetYAML.exceptionTypes.map(\.0).joined(separator: ", "))")
        }
        let contacts = list(fields["escalation_contacts"], "\(path).escalation_contacts").enumerated().map { index, node in
            let contactPath = "\(path).escalation_contacts[\(index)]"
            let contact = self.fields(node, contactPath, allowed: ["contact_id", "party", "channel", "address", "level"])
            return Contact(
                contactID: text(contact["contact_id"], "\(contactPath).contact_id"), party: party(contact["party"], "\(contactPath).party"),
                channel: text(contact["channel"], "\(contactPath).channel"), address: text(contact["address"], "\(contactPath).address"),
                level: integer(contact["level"], "\(contactPath).level", as: Int32.self))
        }
        return ExceptionRule(
            action: text(fields["action"], "\(path).action"),
            path: ExceptionPath(type: type ?? .unspecified, queue: text(fields["queue"], "\(path).queue"), contactID: text(fields["contact_id"], "\(path).contact_id")),
            escalationContacts: contacts)
    }
}
