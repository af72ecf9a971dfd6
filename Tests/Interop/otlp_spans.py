#!/usr/bin/env python3
"""Decodes the OTLP/HTTP bodies otlp_collector.py stored (ExportTraceServiceRequest,
protobuf) and prints one JSON object per span:

    {"trace_id": hex, "span_id": hex, "parent_span_id": hex, "name": str, "service": str}

    otlp_spans.py DIR

The messages come from OTLP's own .proto (opentelemetry/proto/collector/trace/v1,
trace/v1, resource/v1, common/v1), reduced to the fields read here with their
field numbers unchanged, and compiled with grpcio-tools' protoc at run time: a
real protobuf decode, with unknown fields skipped as protobuf does.
"""

import importlib
import json
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

OTLP_SUBSET = """
syntax = "proto3";
package opentelemetry.proto.subset;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    bytes bytes_value = 7;
  }
}
message KeyValue { string key = 1; AnyValue value = 2; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message InstrumentationScope { string name = 1; string version = 2; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
}
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
"""


def load_messages():
    work = Path(tempfile.mkdtemp(prefix="otlp-proto-"))
    (work / "otlp_subset.proto").write_text(OTLP_SUBSET)
    status = protoc.main(["protoc", f"-I{work}", f"--python_out={work}", str(work / "otlp_subset.proto")])
    if status != 0:
        raise SystemExit(f"protoc failed ({status})")
    sys.path.insert(0, str(work))
    return importlib.import_module("otlp_subset_pb2")


def main():
    messages = load_messages()
    for path in sorted(Path(sys.argv[1]).glob("*.bin")):
        request = messages.ExportTraceServiceRequest()
        request.ParseFromString(path.read_bytes())
        for resource_spans in request.resource_spans:
            service = next(
                (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"), "")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    print(json.dumps({
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "name": span.name,
                        "service": service,
                    }))


main()
