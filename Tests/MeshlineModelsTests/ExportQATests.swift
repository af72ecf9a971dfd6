import MeshlineModels
import Testing

@Suite struct ExportQATests {
    static let now: Int64 = 1_764_400_000_000
    static let hour: Int64 = 3_600_000
    static let context = ExportQAContext(nowUnixMs: now, serviceLevels: ["standard", "express"])

    /// An export that passes every rule.
    static let valid = Export(
        exportID: "exp-1",
        tenantID: "acme",
        orderID: "order-1",
        kind: .routing,
        owningParty: Party(role: .agency, name: "fulfillment-team"),
        watchers: [Party(role: .merchant, name: "acme-ops")],
        decisionVersion: "v3.1",
        intendedAction: "route-to-warehouse:WH-A",
        sla: Sla(
            shipByUnixMs: now + 24 * hour,
            pickWindow: PickWindow(startUnixMs: now + 2 * hour, endUnixMs: now + 6 * hour),
            serviceLevel: "standard"
        ),
        expiresAtUnixMs: now + hour,
        exceptionPath: ExceptionPath(type: .autoRetry, queue: "agency-ops", contactID: "ops-oncall"),
        escalationContacts: [Contact(contactID: "ops-oncall", channel: "pager", address: "+1-555-0100", level: 1)],
        packingInstructions: [PackingInstruction(code: "insert:spring", text: "Add the spring catalog", skus: ["SKU-1"])],
        warehouseID: "WH-A",
        lines: [ExportLine(sku: "SKU-1", quantity: 1)]
    )

    @Test func aValidExportHasNoViolations() {
        #expect(Self.valid.qaViolations(context: Self.context) == [])
    }

    static let cases: [(String, @Sendable (inout Export) -> Void, String, String)] = [
        ("missing id", { $0.exportID = "" }, "export.export_id", "export.id"),
        ("id with a space", { $0.exportID = "exp 1" }, "export.export_id", "export.id"),
        ("missing tenant", { $0.tenantID = "" }, "export.tenant_id", "export.tenant-id"),
        ("missing order", { $0.orderID = "" }, "export.order_id", "export.order-id"),
        ("no kind", { $0.kind = .unspecified }, "export.kind", "export.kind-required"),
        ("no owner", { $0.owningParty = nil }, "export.owning_party", "export.owner-required"),
        ("owner without role", { $0.owningParty?.role = .unspecified }, "export.owning_party.role", "export.owner-role"),
        ("owner with bad name", { $0.owningParty?.name = "Ops Team" }, "export.owning_party.name", "export.owner-name"),
        ("owner also a watcher", { $0.watchers.append($0.owningParty!) }, "export.watchers[1]", "export.watcher-is-owner"),
        ("watcher twice", { $0.watchers.append($0.watchers[0]) }, "export.watchers[1]", "export.watcher-duplicate"),
        ("too many watchers", { e in e.watchers = (0..<33).map { Party(role: .merchant, name: "w\($0)") } }, "export.watchers", "export.watchers-limit"),
        ("bad decision version", { $0.decisionVersion = "3.1" }, "export.decision_version", "export.decision-version"),
        ("unknown action", { $0.intendedAction = "teleport" }, "export.intended_action", "export.action"),
        ("action of another kind", { $0.intendedAction = "backorder" }, "export.intended_action", "export.action-matches-kind"),
        ("warehouse disagrees", { $0.warehouseID = "WH-B" }, "export.warehouse_id", "export.warehouse-matches-action"),
        ("no SLA", { $0.sla = nil }, "export.sla", "sla.required"),
        ("no ship-by", { $0.sla?.shipByUnixMs = 0 }, "export.sla.ship_by_unix_ms", "sla.ship-by-required"),
        ("no pick window", { $0.sla?.pickWindow = nil }, "export.sla.pick_window", "sla.pick-window-required"),
        ("half a pick window", { $0.sla?.pickWindow?.startUnixMs = 0 }, "export.sla.pick_window", "sla.pick-window-complete"),
        ("pick window backwards", { $0.sla?.pickWindow = PickWindow(startUnixMs: now + 5 * hour, endUnixMs: now + 4 * hour) }, "export.sla.pick_window", "sla.pick-window-order"),
        ("pick window past ship-by", { $0.sla?.pickWindow?.endUnixMs = now + 25 * hour }, "export.sla.pick_window.end_unix_ms", "sla.pick-window-inside-ship-by"),
        ("no service level", { $0.sla?.serviceLevel = "" }, "export.sla.service_level", "sla.service-level-required"),
        ("service level outside the taxonomy", { $0.sla?.serviceLevel = "same-day" }, "export.sla.service_level", "sla.service-level-known"),
        ("no TTL", { $0.expiresAtUnixMs = 0 }, "export.expires_at_unix_ms", "export.ttl-required"),
        ("TTL in the past", { $0.expiresAtUnixMs = now - 1 }, "export.expires_at_unix_ms", "export.ttl-future"),
        ("no exception path", { $0.exceptionPath = nil }, "export.exception_path", "export.exception-path-required"),
        ("exception path without type", { $0.exceptionPath?.type = .unspecified }, "export.exception_path.type", "exception-path.type-required"),
        ("exception path without queue", { $0.exceptionPath?.queue = "" }, "export.exception_path.queue", "exception-path.queue"),
        ("contact at level 0", { $0.escalationContacts[0].level = 0 }, "export.escalation_contacts[0].level", "contact.level"),
        ("contact without id", { $0.escalationContacts[0].contactID = "" }, "export.escalation_contacts[0].contact_id", "contact.id"),
        ("packing text with NUL", { $0.packingInstructions[0].text = "a\u{0}b" }, "export.packing_instructions[0].text", "packing.text"),
        ("packing text too long", { $0.packingInstructions[0].text = String(repeating: "x", count: 2049) }, "export.packing_instructions[0].text", "packing.text"),
        ("line of zero units", { $0.lines[0].quantity = 0 }, "export.lines[0].quantity", "export.line-quantity"),
        ("too many lines", { e in e.lines = (0..<501).map { ExportLine(sku: "S\($0)", quantity: 1) } }, "export.lines", "export.lines-limit"),
    ]

    @Test(arguments: cases.indices)
    func eachRuleReportsItsFieldAndRule(index: Int) {
        let (name, mutate, field, rule) = Self.cases[index]
        var export = Self.valid
        mutate(&export)
        let violations = export.qaViolations(context: Self.context)
        #expect(violations.count == 1, "\(name): \(violations)")
        #expect(violations.first?.field == field, "\(name)")
        #expect(violations.first?.rule == rule, "\(name)")
        #expect(violations.first.map { !$0.reason.isEmpty } == true)
    }

    @Test func everyViolationIsListedNotOnlyTheFirst() {
        let violations = Export().qaViolations(context: Self.context)
        let rules = Set(violations.map(\.rule))
        for rule in ["export.id", "export.tenant-id", "export.order-id", "export.kind-required", "export.owner-required",
                     "export.decision-version", "export.action", "sla.required", "export.ttl-required", "export.exception-path-required"] {
            #expect(rules.contains(rule), "missing \(rule) in \(violations.map(\.rule))")
        }
    }

    @Test func backordersNeedNoPickWindowAndHoldsNeedNoExceptionPath() {
        var backorder = Self.valid
        backorder.kind = .backorder
        backorder.intendedAction = "backorder"
        backorder.warehouseID = ""
        backorder.sla?.pickWindow = nil
        #expect(backorder.qaViolations(context: Self.context) == [])

        var hold = Self.valid
        hold.intendedAction = "hold"
        hold.warehouseID = ""
        hold.exceptionPath = nil
        #expect(hold.qaViolations(context: Self.context) == [])
    }

    @Test func withoutATaxonomyAnyServiceLevelPasses() {
        var export = Self.valid
        export.sla?.serviceLevel = "same-day"
        #expect(export.qaViolations(context: ExportQAContext(nowUnixMs: Self.now)) == [])
    }
}
