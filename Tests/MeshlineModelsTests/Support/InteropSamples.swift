import MeshlineModels

/// The samples that Tests/Interop/proto_interop.py builds too: both sides must
/// describe identical messages, field for field.
enum InteropSamples {
    static let longText = String(repeating: "ab\u{20AC}", count: 500_000)
    static let nonASCII = "Zo\u{EB}'s Caf\u{E9} \u{2013} \u{6771}\u{4EAC}\u{5009}\u{5EAB} \u{1F4E6}"

    static func party(_ role: PartyRole, _ name: String) -> Party {
        Party(role: role, name: name)
    }

    static let overrideChange = OverrideChange(
        tenantID: "acme",
        exportID: "exp-0001",
        baseVersion: 3,
        owningParty: party(.merchant, "ops"),
        watchers: [party(.agency, "fulfillment-team")],
        replaceWatchers: true,
        intendedAction: "route-to-warehouse:WH-B",
        sla: Sla(
            shipByUnixMs: 1_764_460_800_000,
            pickWindow: PickWindow(startUnixMs: 1_764_421_200_000, endUnixMs: 1_764_450_000_000),
            serviceLevel: "express"
        ),
        expiresAtUnixMs: 1_764_500_000_000,
        exceptionPath: ExceptionPath(type: .humanQueue, queue: "merchant-ops", contactID: "ops-oncall"),
        state: .unspecified,
        justification: "Customer asked to ship from the east coast \u{2014} " + nonASCII,
        signerKeyID: "key-ops-2026",
        issuedAtUnixMs: 1_764_400_000_123,
        nonce: "5f0c8a1e-9a7b-4c1d-8e2f-000000000001"
    )

    static let fullExport = Export(
        exportID: "exp-0001",
        tenantID: "acme",
        orderID: "order-" + nonASCII,
        kind: .routing,
        version: .max,
        owningParty: party(.agency, "fulfillment-team"),
        watchers: [party(.merchant, "acme-ops"), party(.thirdPartyLogistics, "wh-a")],
        decisionVersion: "v3.1",
        intendedAction: "route-to-warehouse:WH-A",
        sla: Sla(
            shipByUnixMs: .max,
            pickWindow: PickWindow(startUnixMs: .min, endUnixMs: -1),
            serviceLevel: "standard"
        ),
        expiresAtUnixMs: 1_764_500_000_000,
        exceptionPath: ExceptionPath(type: .autoRetry, queue: "agency-ops", contactID: "ops-oncall"),
        escalationContacts: [
            Contact(contactID: "ops-oncall", party: party(.agency, "oncall"), channel: "pager", address: "+1-555-0100", level: 1),
            Contact(contactID: "merchant-lead", channel: "email", address: "l\u{E9}a@example.com", level: 2),
        ],
        packingInstructions: [
            PackingInstruction(code: "insert:spring-catalog", text: nonASCII, skus: ["SKU-1", "SKU-\u{E9}"], source: "promo-42"),
            PackingInstruction(code: "gift-wrap"),
        ],
        state: .inException,
        auditTrail: [
            AuditEntry(
                sequence: 1, atUnixMs: 1_764_400_000_000, actor: "service:decision", change: "published v1",
                version: 1, entryHash: Array(0..<32)
            ),
            AuditEntry(
                sequence: 2, atUnixMs: 1_764_400_000_999, actor: "agency:fulfillment-team", change: "override: " + nonASCII,
                version: 2, previousHash: Array(0..<32), entryHash: Array((224...255).reversed()),
                override: SignedOverride(change: overrideChange, signature: Array(repeating: [0, 255], count: 32).flatMap { $0 }),
                traceID: "4bf92f3577b34da6a3ce929d0e0e4736"
            ),
        ],
        committedAtUnixMs: 1_764_400_001_000,
        supersedesVersion: .max - 1,
        shippedAtUnixMs: 0,
        warehouseID: "WH-A",
        lines: [ExportLine(sku: "SKU-1", quantity: 2), ExportLine(sku: "SKU-\u{E9}", quantity: .max)]
    )

    static let emptyLists = Export(exportID: "exp-empty", tenantID: "acme", watchers: [], auditTrail: [], lines: [])

    static let longStrings = Export(
        exportID: "exp-long",
        packingInstructions: [PackingInstruction(code: "long", text: longText)],
        auditTrail: [AuditEntry(entryHash: (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0) })]
    )

    static let ruleSet = RuleSet(
        tenantID: "acme",
        version: "v3.1",
        warehouses: [
            Warehouse(
                warehouseID: "WH-A", name: "East \u{2013} Newark", zones: ["us-east", "us-central"],
                timeZone: "America/New_York", cutoffMinuteOfDay: 1439, dailyCapacity: .max, costWeight: 1.25,
                safetyStock: 0, distances: [ZoneDistance(zone: "us-east", distanceKm: -7)],
                operator: party(.thirdPartyLogistics, "wh-a")
            ),
            Warehouse(warehouseID: "WH-B", zones: [], costWeight: -0.5),
        ],
        routing: RoutingPreferences(allowSplit: true, minShipmentValueMinor: 2500, maxShipments: 3),
        ttl: TtlPolicy(ttlMs: 3_600_000, staleTTLMs: 600_000, freshnessLimitMs: 900_000),
        rollout: Rollout(percent: 25, fallbackVersion: "v3.0")
    )

    static let health = HealthCheckResponse(status: .notServing)

    static let badRequest = BadRequest(fieldViolations: [
        BadRequest.FieldViolation(field: "export.sla.pick_window", description: "starts after it ends"),
        BadRequest.FieldViolation(field: "export.owning_party", description: nonASCII),
    ])

    static let rpcStatus = RPCStatus(
        code: 3,
        message: "export failed the QA gate: 2 violations",
        details: [ProtoAny(typeURL: "type.googleapis.com/google.rpc.BadRequest", value: badRequest.serializedBytes())]
    )

    /// Each sample's name (the file name both sides use), its encoding and a decoder
    /// that says whether bytes decode back to the same value.
    static var all: [(name: String, bytes: [UInt8], decodesEqual: ([UInt8]) throws -> Bool)] {
        [
            entry("full_export", fullExport),
            entry("empty_export", Export()),
            entry("empty_lists", emptyLists),
            entry("long_strings", longStrings),
            entry("override_change", overrideChange),
            entry("rule_set", ruleSet),
            entry("health", health),
            entry("bad_request", badRequest),
            entry("rpc_status", rpcStatus),
        ]
    }

    private static func entry<M: ProtobufMessage>(_ name: String, _ value: M) -> (name: String, bytes: [UInt8], decodesEqual: ([UInt8]) throws -> Bool) {
        (name, value.serializedBytes(), { try M(serializedBytes: $0) == value })
    }
}
