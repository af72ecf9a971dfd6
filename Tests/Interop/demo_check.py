#!/usr/bin/env python3
"""Checks the final state of a `meshline demo` run through stock gRPC (grpcio),
independently of the Swift code that made it:

    demo_check.py WORKDIR REGISTRY EXCEPTIONS SUMMARY_JSON KEY_FILE

- versions and owners of every export the demo created (routing accepted, the
  rejection re-routed to another warehouse, the backorder that became a routing,
  per-storefront owners, the override);
- every audit chain recomputed here (SHA-256 over the registry's documented
  layout) and every override signature verified with `cryptography` against the
  demo key's public key;
- exactly one customer delay notice for the backorder, and its case resolved;
- the reconciliation numbers.

Prints "ok NAME" / "FAIL NAME: why" and exits 1 on any failure.
"""

import base64
import hashlib
import json
import sys
from pathlib import Path

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import stubs
from cases import Cases, expect

TENANT = "acme"


def main(work, registry_address, exceptions_address, summary_path, key_path):
    stubs.generate(Path(work) / "stubs")
    from meshline.v1 import exceptions_pb2, exceptions_pb2_grpc, export_pb2, registry_pb2, registry_pb2_grpc

    summary = json.loads(Path(summary_path).read_text())
    public_key = Ed25519PublicKey.from_public_bytes(base64.b64decode(json.loads(Path(key_path).read_text())["public_key"]))
    registry = registry_pb2_grpc.ExportRegistryStub(grpc.insecure_channel(registry_address))
    router = exceptions_pb2_grpc.ExceptionRouterStub(grpc.insecure_channel(exceptions_address))
    cases = Cases()

    def history(export_id):
        return list(registry.History(registry_pb2.HistoryRequest(tenant_id=TENANT, export_id=export_id), timeout=10).versions)

    def chain_ok(export):
        previous = b""
        for index, entry in enumerate(export.audit_trail):
            if entry.sequence != index + 1 or entry.previous_hash != previous:
                return False
            unsealed = export_pb2.AuditEntry()
            unsealed.CopyFrom(entry)
            unsealed.entry_hash = b""
            digest = hashlib.sha256(
                b"meshline-audit-v1\n" + export.tenant_id.encode() + b"\n" + export.export_id.encode() + b"\n"
                + unsealed.SerializeToString(deterministic=True)).digest()
            if digest != entry.entry_hash:
                return False
            previous = entry.entry_hash
        return True

    @cases.case()
    def every_audit_chain_recomputes():
        for key in ["routing", "rerouted", "backorder", "flagship", "outlet"]:
            for version in history(summary[key]):
                expect(chain_ok(version), f"{key} v{version.version}: the audit chain does not recompute")

    @cases.case()
    def routing_accepted_then_overridden_and_shipped():
        versions = history(summary["routing"])
        states = [export_pb2.ExportState.Name(v.state) for v in versions]
        expect(states == ["EXPORT_STATE_PUBLISHED", "EXPORT_STATE_ACCEPTED", "EXPORT_STATE_ACCEPTED", "EXPORT_STATE_COMPLETED"], f"states {states}")
        expect(versions[0].warehouse_id == "WH-NEWARK", f"routed to {versions[0].warehouse_id}")
        expect(versions[0].owning_party.name == "fulfillment-team" and versions[-1].owning_party.name == "acme-ops", "owner before/after the override")
        expect(any(p.code == "insert:spring-catalog" for p in versions[0].packing_instructions), "promotion packing instruction missing")

    @cases.case()
    def the_override_signature_verifies():
        versions = history(summary["overridden"])
        signed = [e for e in versions[-1].audit_trail if e.HasField("override")]
        expect(len(signed) == 1, f"expected one signed entry, got {len(signed)}")
        change = signed[0].override.change
        public_key.verify(signed[0].override.signature, b"meshline-override-v1\n" + change.SerializeToString(deterministic=True))
        expect(change.justification.startswith("VIP customer"), f"justification {change.justification!r}")

    @cases.case()
    def rejection_rerouted_to_another_warehouse():
        versions = history(summary["rerouted"])
        states = [export_pb2.ExportState.Name(v.state) for v in versions]
        expect(states[:2] == ["EXPORT_STATE_PUBLISHED", "EXPORT_STATE_REJECTED"], f"states {states}")
        expect(versions[0].warehouse_id == "WH-NEWARK" and versions[-1].warehouse_id == "WH-DALLAS", "re-routing warehouses")
        expect(versions[2].supersedes_version == 2 and states[-1] == "EXPORT_STATE_COMPLETED", f"states {states}")
        expect(versions[0].expires_at_unix_ms - versions[0].committed_at_unix_ms <= 30 * 60 * 1000, "stale stock must shorten the TTL")

    @cases.case()
    def backorder_notified_once_and_resolved():
        versions = history(summary["backorder"])
        kinds = [export_pb2.ExportKind.Name(v.kind) for v in versions]
        expect(kinds == ["EXPORT_KIND_BACKORDER", "EXPORT_KIND_ROUTING"], f"kinds {kinds}")
        events = []
        try:
            for event in router.Notifications(exceptions_pb2.NotificationsRequest(tenant_id=TENANT), timeout=2):
                events.append(event)
        except grpc.RpcError as error:
            expect(error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, f"notifications ended with {error.code()}")
        notices = [e for e in events if e.export_id == summary["backorder"] and e.kind == exceptions_pb2.NOTIFICATION_KIND_CUSTOMER_DELAY_NOTICE]
        expect(len(notices) == 1, f"expected one customer delay notice, got {len(notices)}")
        resolved = router.ListQueue(exceptions_pb2.ListQueueRequest(tenant_id=TENANT, state=exceptions_pb2.CASE_STATE_RESOLVED, page_size=1000), timeout=10)
        ids = {c.case_id for c in resolved.cases}
        expect(summary["backorder_case"] in ids and summary["rerouted_case"] in ids, "the demo's cases are not resolved")

    @cases.case()
    def owners_differ_per_storefront():
        flagship = history(summary["flagship"])[-1]
        outlet = history(summary["outlet"])[-1]
        expect(flagship.owning_party.name == "fulfillment-team" and outlet.owning_party.name == "outlet-desk",
               f"owners {flagship.owning_party} / {outlet.owning_party}")

    @cases.case()
    def reconciliation_counts_the_shipments():
        report = registry.Reconcile(registry_pb2.ReconcileRequest(tenant_id=TENANT, from_unix_ms=1, to_unix_ms=2**62), timeout=10).report
        expect(report.total.on_time == summary["reconcile_on_time"] == 2, f"on time {report.total.on_time}")
        expect(report.total.late == 0, f"late {report.total.late}")

    return cases.report()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
