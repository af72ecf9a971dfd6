"""Python stubs generated from proto/ with grpcio-tools, for the interop tests."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def generate(out):
    """Generates message and gRPC stubs for every .proto under proto/ into `out`
    and makes them importable."""
    import grpc_tools

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    protos = sorted(str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto").rglob("*.proto"))
    wkt = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", str(ROOT / "proto"), "-I", wkt,
         f"--python_out={out}", f"--grpc_python_out={out}", *protos],
        check=True,
    )
    sys.path.insert(0, str(out))
    # The stubs' google/rpc and grpc/health sit beside the installed google/protobuf
    # and grpc packages; extend those packages' search paths to find them.
    import google
    import grpc

    google.__path__.append(str(out / "google"))
    grpc.__path__.append(str(out / "grpc"))
