#!/usr/bin/env python3
"""Byte compatibility between MeshlineModels (protobuf-c) and Python's protobuf.

Driven by Tests/MeshlineModelsTests/PythonInteropTests.swift:

    proto_interop.py WORKDIR

1. Generates Python stubs from proto/ with grpcio-tools into WORKDIR/stubs.
2. Builds the same samples the Swift test builds (see samples() below and
   InteropSamples.swift: the two must describe identical messages).
3. Decodes every WORKDIR/swift/NAME.bin that Swift encoded and compares it,
   field by field, with the Python sample of the same name.
4. Writes WORKDIR/python/NAME.bin (Python's encoding of each sample) and
   WORKDIR/python/override.signing.bin (the canonical override signing bytes)
   for Swift to decode and compare.

Exits 1 and lists every difference when anything disagrees.
"""

import sys
from pathlib import Path

import stubs


LONG_TEXT = "ab\u20ac" * 500_000  # 2.5 MB of UTF-8 in one string field
NON_ASCII = "Zo\u00eb's Caf\u00e9 \u2013 \u6771\u4eac\u5009\u5eab \U0001F4E6"
INT64_MAX = 9_223_372_036_854_775_807
INT64_MIN = -9_223_372_036_854_775_808


def samples():
    from google.protobuf import any_pb2
    from google.rpc import status_pb2
    from grpc.health.v1 import health_pb2
    from meshline.v1 import common_pb2, export_pb2, rules_pb2

    P = common_pb2

    def party(role, name):
        return P.Party(role=role, name=name)

    change = export_pb2.OverrideChange(
        tenant_id="acme",
        export_id="exp-0001",
        base_version=3,
        owning_party=party(P.PARTY_ROLE_MERCHANT, "ops"),
        watchers=[party(P.PARTY_ROLE_AGENCY, "fulfillment-team")],
        replace_watchers=True,
        intended_action="route-to-warehouse:WH-B",
        sla=export_pb2.Sla(
            ship_by_unix_ms=1_764_460_800_000,
            pick_window=export_pb2.PickWindow(start_unix_ms=1_764_421_200_000, end_unix_ms=1_764_450_000_000),
            service_level="express",
        ),
        expires_at_unix_ms=1_764_500_000_000,
        exception_path=export_pb2.ExceptionPath(
            type=export_pb2.EXCEPTION_PATH_TYPE_HUMAN_QUEUE, queue="merchant-ops", contact_id="ops-oncall"
        ),
        state=export_pb2.EXPORT_STATE_UNSPECIFIED,
        justification="Customer asked to ship from the east coast \u2014 " + NON_ASCII,
        signer_key_id="key-ops-2026",
        issued_at_unix_ms=1_764_400_000_123,
        nonce="5f0c8a1e-9a7b-4c1d-8e2f-000000000001",
    )

    full = export_pb2.Export(
        export_id="exp-0001",
        tenant_id="acme",
        order_id="order-" + NON_ASCII,
        kind=export_pb2.EXPORT_KIND_ROUTING,
        version=INT64_MAX,
        owning_party=party(P.PARTY_ROLE_AGENCY, "fulfillment-team"),
        watchers=[party(P.PARTY_ROLE_MERCHANT, "acme-ops"), party(P.PARTY_ROLE_THIRD_PARTY_LOGISTICS, "wh-a")],
        decision_version="v3.1",
        intended_action="route-to-warehouse:WH-A",
        sla=export_pb2.Sla(
            ship_by_unix_ms=INT64_MAX,
            pick_window=export_pb2.PickWindow(start_unix_ms=INT64_MIN, end_unix_ms=-1),
            service_level="standard",
        ),
        expires_at_unix_ms=1_764_500_000_000,
        exception_path=export_pb2.ExceptionPath(
            type=export_pb2.EXCEPTION_PATH_TYPE_AUTO_RETRY, queue="agency-ops", contact_id="ops-oncall"
        ),
        escalation_contacts=[
            P.Contact(contact_id="ops-oncall", party=party(P.PARTY_ROLE_AGENCY, "oncall"), channel="pager",
                      address="+1-555-0100", level=1),
            P.Contact(contact_id="merchant-lead", channel="email", address="l\u00e9a@example.com", level=2),
        ],
        packing_instructions=[
            export_pb2.PackingInstruction(code="insert:spring-catalog", text=NON_ASCII,
                                          skus=["SKU-1", "SKU-\u00e9"], source="promo-42"),
            export_pb2.PackingInstruction(code="gift-wrap"),
        ],
        state=export_pb2.EXPORT_STATE_IN_EXCEPTION,
        audit_trail=[
            export_pb2.AuditEntry(sequence=1, at_unix_ms=1_764_400_000_000, actor="service:decision",
                                  change="published v1", version=1, entry_hash=bytes(range(32))),
            export_pb2.AuditEntry(sequence=2, at_unix_ms=1_764_400_000_999, actor="agency:fulfillment-team",
                                  change="override: " + NON_ASCII, version=2,
                                  previous_hash=bytes(range(32)), entry_hash=bytes(range(255, 223, -1)),
                                  override=export_pb2.SignedOverride(change=change, signature=bytes([0, 255] * 32)),
                                  trace_id="4bf92f3577b34da6a3ce929d0e0e4736"),
        ],
        committed_at_unix_ms=1_764_400_001_000,
        supersedes_version=INT64_MAX - 1,
        shipped_at_unix_ms=0,
        warehouse_id="WH-A",
        lines=[export_pb2.ExportLine(sku="SKU-1", quantity=2), export_pb2.ExportLine(sku="SKU-\u00e9", quantity=INT64_MAX)],
    )

    # Repeated fields present but empty, strings set: nothing of the empty lists goes on the wire.
    empty_lists = export_pb2.Export(export_id="exp-empty", tenant_id="acme", watchers=[], audit_trail=[], lines=[])

    long_strings = export_pb2.Export(
        export_id="exp-long",
        packing_instructions=[export_pb2.PackingInstruction(code="long", text=LONG_TEXT)],
        audit_trail=[export_pb2.AuditEntry(entry_hash=bytes(i % 256 for i in range(1_000_000)))],
    )

    rule_set = rules_pb2.RuleSet(
        tenant_id="acme",
        version="v3.1",
        warehouses=[
            rules_pb2.Warehouse(warehouse_id="WH-A", name="East \u2013 Newark", zones=["us-east", "us-central"],
                                time_zone="America/New_York", cutoff_minute_of_day=1439, daily_capacity=INT64_MAX,
                                cost_weight=1.25, safety_stock=0,
                                distances=[rules_pb2.ZoneDistance(zone="us-east", distance_km=-7)],
                                operator=party(P.PARTY_ROLE_THIRD_PARTY_LOGISTICS, "wh-a")),
            rules_pb2.Warehouse(warehouse_id="WH-B", cost_weight=-0.5, zones=[]),
        ],
        routing=rules_pb2.RoutingPreferences(allow_split=True, min_shipment_value_minor=2500, max_shipments=3),
        rollout=rules_pb2.Rollout(percent=25, fallback_version="v3.0"),
        ttl=rules_pb2.TtlPolicy(ttl_ms=3_600_000, stale_ttl_ms=600_000, freshness_limit_ms=900_000),
    )

    health = health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.NOT_SERVING)

    bad_request = status_pb2.BadRequest(field_violations=[
        status_pb2.BadRequest.FieldViolation(field="export.sla.pick_window", description="starts after it ends"),
        status_pb2.BadRequest.FieldViolation(field="export.owning_party", description=NON_ASCII),
    ])
    rpc_status = status_pb2.Status(code=3, message="export failed the QA gate: 2 violations", details=[
        any_pb2.Any(type_url="type.googleapis.com/google.rpc.BadRequest", value=bad_request.SerializeToString()),
    ])

    return {
        "full_export": full,
        "empty_export": export_pb2.Export(),
        "empty_lists": empty_lists,
        "long_strings": long_strings,
        "override_change": change,
        "rule_set": rule_set,
        "health": health,
        "bad_request": bad_request,
        "rpc_status": rpc_status,
    }


def is_repeated(field):
    # protobuf 5.x and later say `is_repeated`; older releases only have `label`.
    if hasattr(field, "is_repeated"):
        return field.is_repeated
    return field.label == field.LABEL_REPEATED


def differences(expected, actual, path=""):
    """Field-by-field differences between two messages of the same type."""
    out = []
    for field in expected.DESCRIPTOR.fields:
        name = f"{path}{field.name}"
        a, b = getattr(expected, field.name), getattr(actual, field.name)
        if field.message_type is not None and not is_repeated(field):
            if expected.HasField(field.name) != actual.HasField(field.name):
                out.append(f"{name}: present {expected.HasField(field.name)} vs {actual.HasField(field.name)}")
            elif expected.HasField(field.name):
                out += differences(a, b, name + ".")
        elif field.message_type is not None:
            if len(a) != len(b):
                out.append(f"{name}: {len(a)} vs {len(b)} elements")
            else:
                for i, (x, y) in enumerate(zip(a, b)):
                    out += differences(x, y, f"{name}[{i}].")
        elif a != b:
            shown = lambda v: repr(v)[:80]
            out.append(f"{name}: expected {shown(a)}, got {shown(b)}")
    return out


def main():
    work = Path(sys.argv[1])
    stubs.generate(work / "stubs")
    from google.protobuf.internal import api_implementation

    failures = []
    (work / "python").mkdir(parents=True, exist_ok=True)
    for name, sample in samples().items():
        swift_file = work / "swift" / f"{name}.bin"
        if not swift_file.exists():
            failures.append(f"{name}: Swift wrote no {swift_file.name}")
        else:
            decoded = type(sample)()
            try:
                decoded.ParseFromString(swift_file.read_bytes())
            except Exception as error:  # a decode failure is a finding, not a crash
                failures.append(f"{name}: Python cannot decode Swift's bytes: {error}")
            else:
                failures += [f"{name}: {d}" for d in differences(sample, decoded)]
                if decoded != sample:
                    failures.append(f"{name}: messages differ")
                if swift_file.read_bytes() != sample.SerializeToString(deterministic=True):
                    failures.append(f"{name}: Swift's bytes differ from Python's deterministic encoding")
        (work / "python" / f"{name}.bin").write_bytes(sample.SerializeToString(deterministic=True))

    change = samples()["override_change"]
    (work / "python" / "override.signing.bin").write_bytes(
        b"meshline-override-v1\n" + change.SerializeToString(deterministic=True)
    )
    print(f"python protobuf backend: {api_implementation.Type()}")
    if failures:
        print("\n".join(failures))
        return 1
    print(f"{len(samples())} samples agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
