#!/usr/bin/env python3
"""A minimal OTLP/HTTP collector for tests: accepts POST /v1/traces and stores
each body as OUTDIR/NNNN.bin (protobuf ExportTraceServiceRequest), answering 200
with an empty response. Prints `listening on PORT` once ready; stops when stdin closes.

    otlp_collector.py OUTDIR
"""

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

OUT = Path(sys.argv[1])
OUT.mkdir(parents=True, exist_ok=True)
COUNT = [0]
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path.endswith("/v1/traces"):
            with LOCK:
                COUNT[0] += 1
                (OUT / f"{COUNT[0]:04d}.bin").write_bytes(body)
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()
        else:
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"listening on {server.server_address[1]}", flush=True)
sys.stdin.read()
server.shutdown()
