#!/usr/bin/env python3
"""Frame-level checks of a MeshlineRPC server with the `h2` library: what stock
gRPC clients never do, but the protocol and our defences define.

    h2_conformance.py cases PORT          run every case; prints "ok NAME" / "FAIL NAME: why"
                                          and "N passed, N failed"; exits 1 on any failure
    h2_conformance.py stall PORT SECONDS  open 20 Echo.Expand streams asking for large
                                          responses, then never read for SECONDS
    h2_conformance.py stall-watch PORT TENANT SECONDS
                                          open an ExportRegistry.Watch from the beginning
                                          for TENANT, then never read for SECONDS
    h2_conformance.py silent PORT SECONDS connect, send the preface, then never answer
                                          anything; exits 0 if the server closes the
                                          connection within SECONDS (keepalive), else 1

Driven by Tests/MeshlineRPCTests/ConformanceTests.swift.
"""

import socket
import struct
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings

from cases import Cases, expect

GRPC_HEADERS = [("content-type", "application/grpc"), ("te", "trailers")]


def echo_request(text=b"", response_count=0, response_size=0):
    """An EchoRequest encoded by hand (fields 1, 3, 4), so no stubs are needed."""
    body = b""
    if text:
        body += b"\x0a" + bytes([len(text)]) + text
    if response_size:
        body += b"\x18" + varint(response_size)
    if response_count:
        body += b"\x20" + varint(response_count)
    return body


def varint(value):
    out = b""
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def framed(message):
    return b"\x00" + struct.pack(">I", len(message)) + message


class Connection:
    def __init__(self, port, window=65535):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.h2.local_settings = h2.settings.Settings(client=True, initial_values={
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.h2.initiate_connection()
        self.flush()
        self.closed = False
        self.remote_settings = {}

    def flush(self):
        data = self.h2.data_to_send()
        if data:
            try:
                self.sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                self.closed = True  # the server has closed; what it sent is still readable

    def request(self, path, end_stream=False, extra=()):
        stream = self.h2.get_next_available_stream_id()
        headers = [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "localhost")]
        self.h2.send_headers(stream, headers + list(extra), end_stream=end_stream)
        self.flush()
        return stream

    def events(self, until, timeout=5):
        """Reads events until `until(event)` is true for one, or the connection closes."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed = True
                break
            for event in self.h2.receive_data(data):
                seen.append(event)
                if isinstance(event, h2.events.RemoteSettingsChanged):
                    self.remote_settings.update({k: v.new_value for k, v in event.changed_settings.items()})
                if isinstance(event, h2.events.DataReceived):
                    self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                if until(event):
                    self.flush()
                    return seen
            self.flush()
        return seen

    def close(self):
        self.sock.close()


def run_cases(port):
    cases = Cases()

    def headers_of(events, stream):
        out = []
        for e in events:
            if isinstance(e, (h2.events.ResponseReceived, h2.events.TrailersReceived)) and e.stream_id == stream:
                out.append(dict(e.headers))
        return out

    def wrong_content_type_is_415():
        c = Connection(port)
        s = c.request("/meshline.testing.v1.Echo/Get", extra=[("content-type", "text/plain")])
        events = c.events(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == s)
        h = headers_of(events, s)
        expect(h and h[0].get(":status") == "415", f"headers {h}")
        c.close()

    def unknown_method_is_trailers_only_then_reset_no_error():
        c = Connection(port)
        s = c.request("/meshline.testing.v1.Echo/Nope", extra=GRPC_HEADERS)
        events = c.events(lambda e: isinstance(e, h2.events.StreamReset) and e.stream_id == s)
        h = headers_of(events, s)
        expect(len(h) == 1, f"expected one header block (Trailers-Only), got {h}")
        expect(h[0].get(":status") == "200" and h[0].get("grpc-status") == "12", f"headers {h[0]}")
        expect(not any(isinstance(e, h2.events.DataReceived) for e in events), "DATA in a Trailers-Only response")
        resets = [e for e in events if isinstance(e, h2.events.StreamReset) and e.stream_id == s]
        expect(resets and resets[0].error_code == 0, f"expected RST_STREAM(NO_ERROR), got {resets}")
        c.close()

    def message_split_across_data_frames():
        c = Connection(port)
        s = c.request("/meshline.testing.v1.Echo/Get", extra=GRPC_HEADERS)
        payload = framed(echo_request(text=b"split-up"))
        for i in range(0, len(payload), 3):
            c.h2.send_data(s, payload[i:i + 3], end_stream=i + 3 >= len(payload))
            c.flush()
        events = c.events(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == s)
        data = b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived) and e.stream_id == s)
        expect(b"split-up" in data, f"response {data!r}")
        trailers = headers_of(events, s)[-1]
        expect(trailers.get("grpc-status") == "0", f"trailers {trailers}")
        c.close()

    def two_messages_in_one_unary_request_is_internal():
        c = Connection(port)
        s = c.request("/meshline.testing.v1.Echo/Get", extra=GRPC_HEADERS)
        c.h2.send_data(s, framed(b"") + framed(b""), end_stream=True)
        c.flush()
        events = c.events(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == s)
        expect(headers_of(events, s)[-1].get("grpc-status") == "13", f"headers {headers_of(events, s)}")
        c.close()

    def a_second_message_is_refused_before_end_stream():
        # Without END_STREAM the server would otherwise keep buffering whatever follows.
        c = Connection(port)
        s = c.request("/meshline.testing.v1.Echo/Get", extra=GRPC_HEADERS)
        second = b"\x00" + struct.pack(">I", 1 << 20) + b"x" * 1000
        c.h2.send_data(s, framed(echo_request(text=b"first")) + second)
        c.flush()
        events = c.events(lambda e: isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)) and e.stream_id == s, timeout=3)
        h = headers_of(events, s)
        expect(h and h[-1].get("grpc-status") == "13", f"expected grpc-status 13 while the request is open, got {h}")
        expect(not any(isinstance(e, h2.events.DataReceived) for e in events), "the handler ran on a two-message request")
        c.close()

    def trailers_end_the_request():
        c = Connection(port)
        s = c.request("/meshline.testing.v1.Echo/Get", extra=GRPC_HEADERS)
        c.h2.send_data(s, framed(echo_request(text=b"with-trailers")))
        c.h2.send_headers(s, [("x-request-trailer", "1")], end_stream=True)
        c.flush()
        events = c.events(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == s, timeout=3)
        data = b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived) and e.stream_id == s)
        expect(b"with-trailers" in data, f"response {data!r}")
        h = headers_of(events, s)
        expect(h and h[-1].get("grpc-status") == "0", f"headers {h}")
        c.close()

    def oversized_headers_are_resource_exhausted():
        c = Connection(port)
        s = c.request("/meshline.testing.v1.Echo/Get", extra=GRPC_HEADERS + [(f"x-pad-{i}", "v" * 200) for i in range(50)])
        c.h2.send_data(s, framed(b""), end_stream=True)
        c.flush()
        events = c.events(lambda e: isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)) and e.stream_id == s)
        h = headers_of(events, s)
        expect(h and h[-1].get("grpc-status") == "8", f"headers {h}")
        c.close()

    def settings_limit_concurrent_streams():
        c = Connection(port)
        c.events(lambda e: isinstance(e, h2.events.RemoteSettingsChanged), timeout=2)
        expect(c.remote_settings.get(h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS) == 100, f"settings {c.remote_settings}")
        c.close()

    def rapid_resets_get_goaway_enhance_your_calm():
        c = Connection(port)
        for _ in range(1500):
            s = c.request("/meshline.testing.v1.Echo/Get", extra=GRPC_HEADERS)
            c.h2.reset_stream(s, error_code=8)
        c.flush()
        events = c.events(lambda e: isinstance(e, h2.events.ConnectionTerminated), timeout=5)
        goaway = [e for e in events if isinstance(e, h2.events.ConnectionTerminated)]
        expect(goaway and goaway[0].error_code == 0xB, f"expected GOAWAY(ENHANCE_YOUR_CALM), got {goaway}")
        c.close()

    def server_still_serves_after_all_that():
        c = Connection(port)
        s = c.request("/grpc.health.v1.Health/Check", extra=GRPC_HEADERS)
        c.h2.send_data(s, framed(b""), end_stream=True)
        c.flush()
        events = c.events(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == s)
        expect(headers_of(events, s)[-1].get("grpc-status") == "0", "health check failed")
        c.close()

    for body in [wrong_content_type_is_415, unknown_method_is_trailers_only_then_reset_no_error,
                 message_split_across_data_frames, two_messages_in_one_unary_request_is_internal,
                 a_second_message_is_refused_before_end_stream, trailers_end_the_request,
                 oversized_headers_are_resource_exhausted, settings_limit_concurrent_streams,
                 rapid_resets_get_goaway_enhance_your_calm, server_still_serves_after_all_that]:
        cases.case()(body)
    return cases.report()


def stall(port, seconds):
    c = Connection(port, window=65535)
    for _ in range(20):
        s = c.request("/meshline.testing.v1.Echo/Expand", extra=GRPC_HEADERS)
        c.h2.send_data(s, framed(echo_request(text=b"stalled", response_count=100000, response_size=16384)), end_stream=True)
    c.flush()
    print("stalling", flush=True)
    time.sleep(seconds)  # never read: the server must stop, not buffer
    c.close()
    return 0


def stall_watch(port, tenant, seconds):
    c = Connection(port, window=65535)
    s = c.request("/meshline.v1.ExportRegistry/Watch", extra=GRPC_HEADERS)
    # WatchRequest { tenant_id = 1: TENANT, from_beginning = 4: true }
    request = b"\x0a" + bytes([len(tenant)]) + tenant.encode() + b"\x20\x01"
    c.h2.send_data(s, framed(request), end_stream=True)
    c.flush()
    print("stalling", flush=True)
    time.sleep(seconds)
    c.close()
    return 0


def silent(port, seconds):
    sock = socket.create_connection(("127.0.0.1", port), timeout=seconds)
    sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            # Reading is not answering: PINGs stay unacknowledged.
            if not sock.recv(65536):
                print("closed by server", flush=True)
                return 0
        except socket.timeout:
            break
    print("still open", flush=True)
    return 1


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "stall-watch":
        sys.exit(stall_watch(int(sys.argv[2]), sys.argv[3], float(sys.argv[4])))
    if len(sys.argv) == 4 and sys.argv[1] == "silent":
        sys.exit(silent(int(sys.argv[2]), float(sys.argv[3])))
    if len(sys.argv) == 3 and sys.argv[1] == "cases":
        sys.exit(run_cases(int(sys.argv[2])))
    if len(sys.argv) == 4 and sys.argv[1] == "stall":
        sys.exit(stall(int(sys.argv[2]), float(sys.argv[3])))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
