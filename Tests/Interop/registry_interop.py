#!/usr/bin/env python3
"""The export registry seen from a stock gRPC client (Python grpcio).

    registry_interop.py PORT WORKDIR NOW_UNIX_MS

Every rule of the QA gate is broken once and must come back INVALID_ARGUMENT
with the field named in the google.rpc.BadRequest of grpc-status-details-bin;
then every status code the registry answers with is provoked once. Prints
"ok NAME" / "FAIL NAME: why" per case and "N passed, N failed"; exits 1 on a
failure. Driven by Tests/MeshlineRegistryTests/RegistryInteropTests.swift.
"""
import sys

import grpc

import stubs
from cases import Cases, expect, expect_code

HOUR = 3_600_000


def main():
    port, work, now = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    stubs.generate(f"{work}/stubs")
    from google.rpc import status_pb2
    from meshline.v1 import common_pb2, export_pb2, registry_pb2, registry_pb2_grpc

    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    registry = registry_pb2_grpc.ExportRegistryStub(channel)
    cases = Cases()
    P = common_pb2

    def valid(export_id, order=None):
        return export_pb2.Export(
            export_id=export_id, tenant_id="acme", order_id=order or f"order-{export_id}", kind=export_pb2.EXPORT_KIND_ROUTING,
            owning_party=P.Party(role=P.PARTY_ROLE_AGENCY, name="fulfillment-team"),
            watchers=[P.Party(role=P.PARTY_ROLE_MERCHANT, name="acme-ops")],
            decision_version="v3.1", intended_action="route-to-warehouse:WH-A",
            sla=export_pb2.Sla(ship_by_unix_ms=now + 24 * HOUR,
                               pick_window=export_pb2.PickWindow(start_unix_ms=now + 2 * HOUR, end_unix_ms=now + 6 * HOUR),
                               service_level="standard"),
            expires_at_unix_ms=now + HOUR,
            exception_path=export_pb2.ExceptionPath(type=export_pb2.EXCEPTION_PATH_TYPE_AUTO_RETRY, queue="agency-ops"),
            escalation_contacts=[P.Contact(contact_id="oncall", channel="pager", address="x", level=1)],
            packing_instructions=[export_pb2.PackingInstruction(code="insert", text="catalog")],
            warehouse_id="WH-A", lines=[export_pb2.ExportLine(sku="SKU-1", quantity=1)])

    def publish(export, key="", expected=0):
        return registry.Publish(registry_pb2.PublishRequest(tenant_id="acme", export=export, idempotency_key=key, expected_version=expected), timeout=10)

    def violations(error):
        for key, value in error.trailing_metadata() or []:
            if key == "grpc-status-details-bin":
                status = status_pb2.Status()
                status.ParseFromString(value)
                for detail in status.details:
                    if detail.type_url == "type.googleapis.com/google.rpc.BadRequest":
                        bad = status_pb2.BadRequest()
                        bad.ParseFromString(detail.value)
                        return [v.field for v in bad.field_violations]
        return None

    def qa_case(name, mutate, field):
        @cases.case(f"QA gate: {name}")
        def _():
            export = valid(f"qa-{name.replace(' ', '-')}")
            mutate(export)
            error = expect_code(lambda: publish(export), grpc.StatusCode.INVALID_ARGUMENT)
            fields = violations(error)
            expect(fields is not None, "no google.rpc.BadRequest in grpc-status-details-bin")
            expect(field in fields, f"{field} not among {fields}")

    def set_field(path, value):
        def mutate(export):
            target = export
            parts = path.split(".")
            for part in parts[:-1]:
                target = getattr(target, part)
            setattr(target, parts[-1], value)
        return mutate

    qa_case("empty export id", set_field("export_id", ""), "export.export_id")
    qa_case("bad order id", set_field("order_id", "has space"), "export.order_id")
    qa_case("no kind", set_field("kind", 0), "export.kind")
    qa_case("no owner", lambda e: e.ClearField("owning_party"), "export.owning_party")
    qa_case("owner without role", set_field("owning_party.role", 0), "export.owning_party.role")
    qa_case("owner with bad name", set_field("owning_party.name", "Bad Name"), "export.owning_party.name")
    qa_case("owner also watcher", lambda e: e.watchers.append(e.owning_party), "export.watchers[1]")
    qa_case("duplicate watcher", lambda e: e.watchers.append(e.watchers[0]), "export.watchers[1]")
    qa_case("too many watchers", lambda e: e.watchers.extend(P.Party(role=P.PARTY_ROLE_MERCHANT, name=f"w{i}") for i in range(40)), "export.watchers")
    qa_case("bad decision version", set_field("decision_version", "3.1"), "export.decision_version")
    qa_case("unknown action", set_field("intended_action", "teleport"), "export.intended_action")
    qa_case("action of another kind", set_field("intended_action", "backorder"), "export.intended_action")
    qa_case("warehouse disagrees", set_field("warehouse_id", "WH-B"), "export.warehouse_id")
    qa_case("no SLA", lambda e: e.ClearField("sla"), "export.sla")
    qa_case("no ship-by", set_field("sla.ship_by_unix_ms", 0), "export.sla.ship_by_unix_ms")
    qa_case("no pick window", lambda e: e.sla.ClearField("pick_window"), "export.sla.pick_window")
    qa_case("pick window backwards", set_field("sla.pick_window.start_unix_ms", now + 7 * HOUR), "export.sla.pick_window")
    qa_case("pick window past ship-by", set_field("sla.pick_window.end_unix_ms", now + 25 * HOUR), "export.sla.pick_window.end_unix_ms")
    qa_case("no service level", set_field("sla.service_level", ""), "export.sla.service_level")
    qa_case("service level outside taxonomy", set_field("sla.service_level", "same-day"), "export.sla.service_level")
    qa_case("no TTL", set_field("expires_at_unix_ms", 0), "export.expires_at_unix_ms")
    qa_case("TTL in the past", set_field("expires_at_unix_ms", now - 1), "export.expires_at_unix_ms")
    qa_case("no exception path", lambda e: e.ClearField("exception_path"), "export.exception_path")
    qa_case("exception path without type", set_field("exception_path.type", 0), "export.exception_path.type")
    qa_case("exception path without queue", set_field("exception_path.queue", ""), "export.exception_path.queue")
    qa_case("contact level 0", lambda e: setattr(e.escalation_contacts[0], "level", 0), "export.escalation_contacts[0].level")
    # A NUL cannot survive protobuf-c's C strings: it is refused while decoding, with the field named.
    qa_case("packing text with NUL", lambda e: setattr(e.packing_instructions[0], "text", "a\x00b"), "export.packing_instructions[0].text")
    qa_case("line of zero units", lambda e: setattr(e.lines[0], "quantity", 0), "export.lines[0].quantity")

    @cases.case("QA gate: every violation at once")
    def _():
        error = expect_code(lambda: publish(export_pb2.Export(tenant_id="acme")), grpc.StatusCode.INVALID_ARGUMENT)
        fields = violations(error)
        expect(fields is not None and len(fields) >= 8, f"violations {fields}")

    @cases.case("OK and idempotent retry")
    def _():
        first = publish(valid("ok-1"), key="k-ok-1")
        again = publish(valid("ok-1"), key="k-ok-1")
        expect(first.export.version == 1 and again.replayed and again.export == first.export, "replay differs")

    @cases.case("ALREADY_EXISTS for a reused idempotency key")
    def _():
        other = valid("ok-1")
        other.intended_action = "route-to-warehouse:WH-B"
        other.warehouse_id = "WH-B"
        expect_code(lambda: publish(other, key="k-ok-1"), grpc.StatusCode.ALREADY_EXISTS)

    @cases.case("FAILED_PRECONDITION for a second live export of an order")
    def _():
        expect_code(lambda: publish(valid("ok-2", order="order-ok-1")), grpc.StatusCode.FAILED_PRECONDITION)

    @cases.case("ABORTED for a stale expected_version")
    def _():
        publish(valid("ok-1"), expected=1)
        expect_code(lambda: publish(valid("ok-1"), expected=1), grpc.StatusCode.ABORTED)

    @cases.case("NOT_FOUND for an unknown export and for another tenant's export")
    def _():
        expect_code(lambda: registry.Get(registry_pb2.GetExportRequest(tenant_id="acme", export_id="nope"), timeout=5), grpc.StatusCode.NOT_FOUND)
        expect_code(lambda: registry.Get(registry_pb2.GetExportRequest(tenant_id="globex", export_id="ok-1"), timeout=5), grpc.StatusCode.NOT_FOUND)

    @cases.case("PERMISSION_DENIED for an unsigned override")
    def _():
        change = export_pb2.OverrideChange(tenant_id="acme", export_id="ok-1", base_version=2, justification="no signature",
                                           signer_key_id="ops-key", issued_at_unix_ms=now, nonce="n-unsigned")
        request = registry_pb2.OverrideRequest(override=export_pb2.SignedOverride(change=change, signature=b"\x00" * 64))
        expect_code(lambda: registry.Override(request, timeout=5), grpc.StatusCode.PERMISSION_DENIED)

    @cases.case("INVALID_ARGUMENT for a request that does not decode")
    def _():
        call = channel.unary_unary("/meshline.v1.ExportRegistry/Get")
        expect_code(lambda: call(b"\x0a\x05ab", timeout=5), grpc.StatusCode.INVALID_ARGUMENT)

    @cases.case("RESOURCE_EXHAUSTED for an oversized request")
    def _():
        export = valid("huge")
        export.packing_instructions[0].text = "x" * (5 * 1024 * 1024)
        expect_code(lambda: publish(export), grpc.StatusCode.RESOURCE_EXHAUSTED)

    channel.close()
    return cases.report()


if __name__ == "__main__":
    sys.exit(main())
