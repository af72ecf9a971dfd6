#!/usr/bin/env python3
"""The JSON form MeshlineModels prints, checked against the schema and protobuf.

    json_interop.py WORKDIR SCHEMA MESSAGE

For every WORKDIR/NAME.json (printed by Swift):
1. validates the JSON against SCHEMA (schema/*.schema.json) with `jsonschema`;
2. parses the JSON with Python protobuf's json_format into MESSAGE (e.g.
   meshline.v1.Export) and, when WORKDIR/NAME.bin (the same value's protobuf
   encoding from Swift) exists, checks its encoding equals it byte for byte.

Exits 1 and lists every disagreement.
"""

import json
import sys
from pathlib import Path

import jsonschema
import stubs


def main(work, schema_path, message_name):
    work = Path(work)
    stubs.generate(work / "stubs")
    from google.protobuf import json_format, symbol_database
    from meshline.v1 import export_pb2, order_pb2  # noqa: F401 (registers the messages)

    message_class = symbol_database.Default().GetSymbol(message_name)
    schema = json.loads(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    problems, checked = [], 0
    for json_file in sorted(work.glob("*.json")):
        text = json_file.read_text()
        for error in validator.iter_errors(json.loads(text)):
            problems.append(f"{json_file.name}: schema: {'/'.join(map(str, error.absolute_path))}: {error.message}")
        parsed = json_format.Parse(text, message_class())
        binary = json_file.with_suffix(".bin")
        if binary.exists() and parsed.SerializeToString(deterministic=True) != binary.read_bytes():
            problems.append(f"{json_file.name}: protobuf's reading of the JSON encodes differently from Swift's value")
        checked += 1
    if checked == 0:
        problems.append("no .json files to check")
    for problem in problems:
        print(problem)
    print(f"json_interop: {checked} documents, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
