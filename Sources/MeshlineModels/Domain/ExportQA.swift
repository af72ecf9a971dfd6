/// What the QA gate needs besides the export itself.
public struct ExportQAContext: Sendable {
    /// The current time, in Unix milliseconds; the TTL must lie after it.
    public var nowUnixMs: Int64
    /// The tenant's SLA taxonomy; nil skips the membership check (no taxonomy known).
    public var serviceLevels: Set<String>?

    public init(nowUnixMs: Int64, serviceLevels: Set<String>? = nil) {
        self.nowUnixMs = nowUnixMs
        self.serviceLevels = serviceLevels
    }
}

/// Bounds on lists and strings in an export, so that no publisher can make the
/// registry store or send unbounded data.
public enum ExportLimits {
    public static let maximumWatchers = 32
    public static let maximumEscalationContacts = 16
    public static let maximumPackingInstructions = 64
    public static let maximumLines = 500
    public static let maximumSkusPerInstruction = 100
    /// Longest free text (packing instruction text, contact address).
    public static let maximumTextLength = 2048
    /// Longest short label (service level, channel, queue, decision version).
    public static let maximumLabelLength = 64
}

extension Export {
    /// The registry's QA gate: every rule the export breaks, each with the path of
    /// the field (starting at `path`) and a reason that says how to fix it.
    ///
    /// Fields the registry sets itself (version, state, audit trail, commit time)
    /// are not checked here.
    public func qaViolations(context: ExportQAContext, path: String = "export") -> [Violation] {
        var check = QAChecker(base: path)
        check.identifier(exportID, "export_id", rule: "export.id")
        check.identifier(tenantID, "tenant_id", rule: "export.tenant-id")
        check.identifier(orderID, "order_id", rule: "export.order-id")
        if kind == .unspecified {
            check.fail("kind", "is unspecified; set the export kind (routing, backorder, packing or shipping)", rule: "export.kind-required")
        }

        // Ownership: exactly one owner with a known role; watchers distinct from it.
        if let owningParty {
            check.party(owningParty, "owning_party", rule: "export.owner")
        } else {
            check.fail("owning_party", "is missing; every export has exactly one owning party, e.g. agency:fulfillment-team", rule: "export.owner-required")
        }
        if watchers.count > ExportLimits.maximumWatchers {
            check.fail("watchers", "has \(watchers.count) parties; use at most \(ExportLimits.maximumWatchers)", rule: "export.watchers-limit")
        }
        var seenWatchers = Set<Party>()
        for (index, watcher) in watchers.prefix(ExportLimits.maximumWatchers).enumerated() {
            let field = "watchers[\(index)]"
            check.party(watcher, field, rule: "export.watcher")
            if watcher == owningParty {
                check.fail(field, "is the owning party \(watcher.text); the owner is not also a watcher", rule: "export.watcher-is-owner")
            }
            if !seenWatchers.insert(watcher).inserted {
                check.fail(field, "repeats \(watcher.text); list each watcher once", rule: "export.watcher-duplicate")
            }
        }

        if !Self.isDecisionVersion(decisionVersion) {
            check.fail("decision_version", "'\(decisionVersion)' is not a rule-set version; use v followed by dot-separated numbers, e.g. v3.1", rule: "export.decision-version")
        }

        // The action decides which other fields are needed.
        var action: IntendedAction?
        do throws(IntendedActionParseError) {
            action = try IntendedAction(parsing: intendedAction)
        } catch {
            check.fail("intended_action", error.description, rule: "export.action")
        }
        if let action, kind != .unspecified, action.expectedKind != kind {
            check.fail("intended_action", "'\(action.text)' is a \(action.expectedKind.protoName) action but the export's kind is \(kind.protoName); make them agree", rule: "export.action-matches-kind")
        }
        if let action, action.verb == .routeToWarehouse, !warehouseID.isEmpty, warehouseID != action.argument {
            check.fail("warehouse_id", "is '\(warehouseID)' but the action routes to '\(action.argument ?? "")'; make them agree or leave warehouse_id empty", rule: "export.warehouse-matches-action")
        }

        check.sla(sla, needsPickWindow: kind != .backorder, context: context)

        if expiresAtUnixMs == 0 {
            check.fail("expires_at_unix_ms", "is not set; every export has a time-to-live", rule: "export.ttl-required")
        } else if expiresAtUnixMs <= context.nowUnixMs {
            check.fail("expires_at_unix_ms", "(\(expiresAtUnixMs)) is not in the future (now is \(context.nowUnixMs)); set a TTL after now", rule: "export.ttl-future")
        }

        if let exceptionPath {
            check.exceptionPath(exceptionPath)
        } else if action?.canFail ?? true {
            check.fail("exception_path", "is missing; an action that can fail needs an exception path (type and queue)", rule: "export.exception-path-required")
        }

        if escalationContacts.count > ExportLimits.maximumEscalationContacts {
            check.fail("escalation_contacts", "has \(escalationContacts.count) contacts; use at most \(ExportLimits.maximumEscalationContacts)", rule: "export.contacts-limit")
        }
        for (index, contact) in escalationContacts.prefix(ExportLimits.maximumEscalationContacts).enumerated() {
            check.contact(contact, "escalation_contacts[\(index)]")
        }

        if packingInstructions.count > ExportLimits.maximumPackingInstructions {
            check.fail("packing_instructions", "has \(packingInstructions.count) instructions; use at most \(ExportLimits.maximumPackingInstructions)", rule: "export.packing-limit")
        }
        for (index, instruction) in packingInstructions.prefix(ExportLimits.maximumPackingInstructions).enumerated() {
            check.packingInstruction(instruction, "packing_instructions[\(index)]")
        }

        if lines.count > ExportLimits.maximumLines {
            check.fail("lines", "has \(lines.count) lines; use at most \(ExportLimits.maximumLines) (split the export)", rule: "export.lines-limit")
        }
        for (index, line) in lines.prefix(ExportLimits.maximumLines).enumerated() {
            check.identifier(line.sku, "lines[\(index)].sku", rule: "export.line-sku")
            if line.quantity < 1 {
                check.fail("lines[\(index)].quantity", "is \(line.quantity); a line ships at least 1 unit", rule: "export.line-quantity")
            }
        }
        // Every shipment has at least one line, so no order has more shipments than lines.
        if shipment < 0 || shipment > ExportLimits.maximumLines {
            check.fail("shipment", "is \(shipment); use 0 for an order that ships whole, or 1 to \(ExportLimits.maximumLines) for a shipment of a split order", rule: "export.shipment")
        }
        if let order {
            check.order(order)
        }
        return check.violations
    }

    /// `v` followed by one to four dot-separated numbers, e.g. `v3` or `v3.1`.
    static func isDecisionVersion(_ text: String) -> Bool {
        let bytes = text.utf8
        guard bytes.first == UInt8(ascii: "v"), bytes.count <= ExportLimits.maximumLabelLength else { return false }
        let parts = bytes.dropFirst().split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        return (1...4).contains(parts.count)
            && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") } }
    }
}

/// Collects violations with paths relative to a base.
private struct QAChecker {
    let base: String
    var violations: [Violation] = []

    mutating func fail(_ field: String, _ reason: String, rule: String) {
        violations.append(Violation(field: "\(base).\(field)", reason: reason, rule: rule))
    }

    mutating func identifier(_ value: String, _ field: String, rule: String) {
        if let problem = Identifier.problem(with: value) {
            fail(field, problem, rule: rule)
        }
    }

    mutating func label(_ value: String, _ field: String, rule: String) {
        if value.isEmpty {
            fail(field, "is empty; set it", rule: rule)
        } else if value.unicodeScalars.count > ExportLimits.maximumLabelLength {
            fail(field, "has \(value.unicodeScalars.count) characters; use at most \(ExportLimits.maximumLabelLength)", rule: rule)
        }
    }

    /// The decided order rides along for the consumer and for re-decisions; only its size is checked here.
    mutating func order(_ order: Order) {
        text(order.orderID, "order.order_id", rule: "export.order-limit")
        text(order.merchantID, "order.merchant_id", rule: "export.order-limit")
        text(order.zone, "order.zone", rule: "export.order-limit")
        if order.lines.count > ExportLimits.maximumLines {
            fail("order.lines", "has \(order.lines.count) lines; use at most \(ExportLimits.maximumLines)", rule: "export.order-limit")
        }
        if order.promotions.count > ExportLimits.maximumPackingInstructions {
            fail("order.promotions", "has \(order.promotions.count) promotions; use at most \(ExportLimits.maximumPackingInstructions)", rule: "export.order-limit")
        }
        if let address = order.shipTo {
            if address.lines.count > 8 {
                fail("order.ship_to.lines", "has \(address.lines.count) street lines; use at most 8", rule: "export.order-limit")
            }
            for (index, value) in ([address.name, address.city, address.region, address.postalCode, address.country] + address.lines.prefix(8)).enumerated() {
                text(value, "order.ship_to[\(index)]", rule: "export.order-limit")
            }
        }
    }

    mutating func text(_ value: String, _ field: String, rule: String) {
        if value.unicodeScalars.count > ExportLimits.maximumTextLength {
            fail(field, "has \(value.unicodeScalars.count) characters; use at most \(ExportLimits.maximumTextLength)", rule: rule)
        } else if value.utf8.contains(0) {
            fail(field, "contains a NUL character; remove it", rule: rule)
        }
    }

    mutating func party(_ party: Party, _ field: String, rule: String) {
        if party.role == .unspecified {
            fail("\(field).role", "is unspecified; use agency, merchant or 3pl", rule: "\(rule)-role")
        }
        do throws(PartyParseError) {
            try Party.checkName(party.name)
        } catch {
            fail("\(field).name", error.description, rule: "\(rule)-name")
        }
    }

    mutating func sla(_ sla: Sla?, needsPickWindow: Bool, context: ExportQAContext) {
        guard let sla else {
            fail("sla", "is missing; every export carries an SLA (ship_by, pick_window, service_level)", rule: "sla.required")
            return
        }
        if sla.shipByUnixMs <= 0 {
            fail("sla.ship_by_unix_ms", "is not set; give the latest time the order may ship", rule: "sla.ship-by-required")
        }
        if let window = sla.pickWindow {
            if window.startUnixMs <= 0 || window.endUnixMs <= 0 {
                fail("sla.pick_window", "needs both start_unix_ms and end_unix_ms", rule: "sla.pick-window-complete")
            } else if window.startUnixMs >= window.endUnixMs {
                fail("sla.pick_window", "starts at \(window.startUnixMs), not before its end \(window.endUnixMs); the start must come first", rule: "sla.pick-window-order")
            } else if sla.shipByUnixMs > 0 && window.endUnixMs > sla.shipByUnixMs {
                fail("sla.pick_window.end_unix_ms", "(\(window.endUnixMs)) is after ship_by (\(sla.shipByUnixMs)); the pick window must lie inside ship_by", rule: "sla.pick-window-inside-ship-by")
            }
        } else if needsPickWindow {
            fail("sla.pick_window", "is missing; give the window in which the warehouse picks", rule: "sla.pick-window-required")
        }
        label(sla.serviceLevel, "sla.service_level", rule: "sla.service-level-required")
        if !sla.serviceLevel.isEmpty, let levels = context.serviceLevels, !levels.contains(sla.serviceLevel) {
            let known = levels.sorted().joined(separator: ", ")
            fail("sla.service_level", "'\(sla.serviceLevel)' is not in the tenant's SLA taxonomy; use one of: \(known.isEmpty ? "(the taxonomy is empty)" : known)", rule: "sla.service-level-known")
        }
    }

    mutating func exceptionPath(_ path: ExceptionPath) {
        if path.type == .unspecified {
            fail("exception_path.type", "is unspecified; use auto-retry, auto-escalate-to-merchant, auto-escalate-to-agency or human-queue", rule: "exception-path.type-required")
        }
        label(path.queue, "exception_path.queue", rule: "exception-path.queue")
        if !path.contactID.isEmpty, let problem = Identifier.problem(with: path.contactID) {
            fail("exception_path.contact_id", problem, rule: "exception-path.contact-id")
        }
    }

    mutating func contact(_ contact: Contact, _ field: String) {
        identifier(contact.contactID, "\(field).contact_id", rule: "contact.id")
        if let party = contact.party {
            self.party(party, "\(field).party", rule: "contact.party")
        }
        label(contact.channel, "\(field).channel", rule: "contact.channel")
        text(contact.address, "\(field).address", rule: "contact.address")
        if contact.level < 1 {
            fail("\(field).level", "is \(contact.level); escalation levels start at 1", rule: "contact.level")
        }
    }

    mutating func packingInstruction(_ instruction: PackingInstruction, _ field: String) {
        identifier(instruction.code, "\(field).code", rule: "packing.code")
        text(instruction.text, "\(field).text", rule: "packing.text")
        if instruction.skus.count > ExportLimits.maximumSkusPerInstruction {
            fail("\(field).skus", "has \(instruction.skus.count) SKUs; use at most \(ExportLimits.maximumSkusPerInstruction)", rule: "packing.skus-limit")
        }
        for (index, sku) in instruction.skus.prefix(ExportLimits.maximumSkusPerInstruction).enumerated() {
            identifier(sku, "\(field).skus[\(index)]", rule: "packing.sku")
        }
    }
}
