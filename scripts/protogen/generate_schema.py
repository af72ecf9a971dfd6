#!/usr/bin/env python3
"""Writes JSON Schemas (draft 2020-12) for the contract's JSON form.

Input: the FileDescriptorSet that scripts/generate-proto writes. Output, in
OUTPUT_DIR, one schema per root message below, with every message it reaches
under `$defs` and the .proto comments as descriptions. The JSON form is the one
MeshlineModels reads and prints (ProtoJSON.swift): .proto field names, enum
value names, 64-bit integers as numbers, bytes as base64, defaults left out.
"""

import json
import sys
from pathlib import Path

from google.protobuf import descriptor_pb2

FD = descriptor_pb2.FieldDescriptorProto

ROOTS = {
    "export.schema.json": "meshline.v1.Export",
    "order.schema.json": "meshline.v1.Order",
}

INTEGER_RANGES = {
    FD.TYPE_INT32: (-(2**31), 2**31 - 1), FD.TYPE_SINT32: (-(2**31), 2**31 - 1), FD.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FD.TYPE_UINT32: (0, 2**32 - 1), FD.TYPE_FIXED32: (0, 2**32 - 1),
    FD.TYPE_INT64: (-(2**63), 2**63 - 1), FD.TYPE_SINT64: (-(2**63), 2**63 - 1), FD.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FD.TYPE_UINT64: (0, 2**64 - 1), FD.TYPE_FIXED64: (0, 2**64 - 1),
}


class Catalog:
    def __init__(self, fds):
        self.messages, self.enums, self.comments = {}, {}, {}
        for f in fds.file:
            comments = {tuple(loc.path): loc.leading_comments.strip() for loc in f.source_code_info.location if loc.leading_comments.strip()}
            for i, m in enumerate(f.message_type):
                self._message(f.package, m, [4, i], comments)
            for i, e in enumerate(f.enum_type):
                self._enum(f.package, e, [5, i], comments)

    def _message(self, scope, m, path, comments):
        full = f"{scope}.{m.name}"
        self.messages[full] = m
        self.comments[full] = comments.get(tuple(path), "")
        for i, field in enumerate(m.field):
            self.comments[f"{full}#{field.name}"] = comments.get(tuple(path + [2, i]), "")
        for i, nested in enumerate(m.nested_type):
            self._message(full, nested, path + [3, i], comments)
        for i, e in enumerate(m.enum_type):
            self._enum(full, e, path + [4, i], comments)

    def _enum(self, scope, e, path, comments):
        full = f"{scope}.{e.name}"
        self.enums[full] = e
        self.comments[full] = comments.get(tuple(path), "")


def described(schema, text):
    if text:
        schema["description"] = " ".join(line.strip() for line in text.splitlines())
    return schema


def field_schema(catalog, field, defs, pending):
    if field.type == FD.TYPE_STRING:
        element = {"type": "string"}
    elif field.type == FD.TYPE_BOOL:
        element = {"type": "boolean"}
    elif field.type in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        element = {"type": "number"}
    elif field.type == FD.TYPE_BYTES:
        element = {"type": "string", "contentEncoding": "base64"}
    elif field.type in INTEGER_RANGES:
        low, high = INTEGER_RANGES[field.type]
        element = {"type": "integer", "minimum": low, "maximum": high}
    elif field.type == FD.TYPE_ENUM:
        full = field.type_name.lstrip(".")
        if full not in defs:
            defs[full] = described({"enum": [v.name for v in catalog.enums[full].value]}, catalog.comments[full])
        element = {"$ref": f"#/$defs/{full}"}
    elif field.type == FD.TYPE_MESSAGE:
        full = field.type_name.lstrip(".")
        pending.append(full)
        element = {"$ref": f"#/$defs/{full}"}
    else:
        raise SystemExit(f"generate_schema.py: field type {field.type} of {field.name} is not supported")
    if field.label == FD.LABEL_REPEATED:
        return {"type": "array", "items": element}
    return element


def schema_for(catalog, root):
    defs, pending = {}, [root]
    while pending:
        full = pending.pop()
        if full in defs:
            continue
        m = catalog.messages[full]
        properties, required = {}, []
        defs[full] = {}  # placeholder so recursion stops
        for field in m.field:
            comment = catalog.comments[f"{full}#{field.name}"]
            properties[field.name] = described(field_schema(catalog, field, defs, pending), comment)
            if comment.startswith("Required."):
                required.append(field.name)
        schema = described({"type": "object"}, catalog.comments[full])
        schema["properties"] = properties
        schema["additionalProperties"] = False
        if required:
            schema["required"] = required
        defs[full] = schema
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": root,
        "description": f"JSON form of {root} as Meshline reads and prints it. Generated from proto/ by scripts/generate-proto; do not edit.",
        "$ref": f"#/$defs/{root}",
        "$defs": dict(sorted(defs.items())),
    }


def main(argv):
    if len(argv) != 3:
        print("usage: generate_schema.py DESCRIPTOR_SET OUTPUT_DIR", file=sys.stderr)
        return 2
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(Path(argv[1]).read_bytes())
    catalog = Catalog(fds)
    out = Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for name, root in ROOTS.items():
        (out / name).write_text(json.dumps(schema_for(catalog, root), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
