#!/usr/bin/env python3
"""gRPC interoperability between MeshlineRPC and Python's grpcio, both ways.

    rpc_interop.py client PORT WORKDIR     grpcio client against a MeshlineRPC server
    rpc_interop.py server WORKDIR          grpcio Echo server; prints "listening on PORT",
                                           serves until stdin closes
    rpc_interop.py tls-client PORT CA WORKDIR   one Echo call over TLS, trusting CA (PEM)
    rpc_interop.py blackhole                    accepts connections and reads, never answers;
                                                prints "listening on PORT", runs until stdin closes
    rpc_interop.py refuse                       HTTP/2 server that answers every request with
                                                RST_STREAM REFUSED_STREAM; as blackhole otherwise
    rpc_interop.py goaway                       HTTP/2 server that answers a request with GOAWAY
                                                (last-stream-id 0); as blackhole otherwise
    rpc_interop.py unanswered                   a port whose accept queue is full: connects to it
                                                hang; as blackhole otherwise

Driven by Tests/MeshlineRPCTests/InteropTests.swift. The client mode prints one
line per case, "ok NAME" or "FAIL NAME: why", and a closing "N passed, N failed"
line; it exits 1 when any case fails.
"""

import socket
import sys
import threading
import time
from concurrent import futures

import grpc

import stubs
from cases import Cases, expect, expect_code

MAX = 6 * 1024 * 1024  # the test server's message limit
ODD_MESSAGE = "  spaced\ttext\u00a0 \u00e9\u6771\u4eac %41 100% \U0001F4E6  "


def run_client(port, work):
    stubs.generate(f"{work}/stubs")
    from grpc.health.v1 import health_pb2, health_pb2_grpc
    from meshline.testing.v1 import echo_pb2, echo_pb2_grpc

    options = [("grpc.max_receive_message_length", 16 * 1024 * 1024), ("grpc.max_send_message_length", -1)]
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=options)
    echo = echo_pb2_grpc.EchoStub(channel)
    health = health_pb2_grpc.HealthStub(channel)
    cases = Cases()
    case = cases.case

    @case("unary")
    def _():
        response = echo.Get(echo_pb2.EchoRequest(text="h\u00e9llo", payload=b"\x00\x01\xff"), timeout=10)
        expect(response.text == "h\u00e9llo" and response.payload == b"\x00\x01\xff", f"got {response}")

    @case("empty messages")
    def _():
        response = echo.Get(echo_pb2.EchoRequest(), timeout=10)
        expect(response == echo_pb2.EchoResponse(), f"got {response}")

    @case("health check")
    def _():
        expect(health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING, "not serving")
        expect_code(lambda: health.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=5), grpc.StatusCode.NOT_FOUND)

    @case("health watch")
    def _():
        call = health.Watch(health_pb2.HealthCheckRequest(service="meshline.testing.v1.Echo"), timeout=5)
        first = next(call)
        expect(first.status == health_pb2.HealthCheckResponse.SERVING, f"got {first}")
        call.cancel()

    @case("large messages over 4 MiB both ways")
    def _():
        payload = bytes(i % 251 for i in range(5 * 1024 * 1024))
        response = echo.Get(echo_pb2.EchoRequest(payload=payload), timeout=30)
        expect(response.payload == payload, "payload changed")
        response = echo.Get(echo_pb2.EchoRequest(response_size=5 * 1024 * 1024 + 7), timeout=30)
        expect(len(response.payload) == 5 * 1024 * 1024 + 7, f"got {len(response.payload)} bytes")

    @case("request near the limit")
    def _():
        # The EchoRequest encoding adds 5 bytes of tag and length to the payload.
        payload = bytes(MAX - 5)
        response = echo.Get(echo_pb2.EchoRequest(payload=payload), timeout=30)
        expect(len(response.payload) == MAX - 5, "payload changed")

    @case("request over the limit is RESOURCE_EXHAUSTED")
    def _():
        expect_code(lambda: echo.Get(echo_pb2.EchoRequest(payload=bytes(MAX + 1)), timeout=30), grpc.StatusCode.RESOURCE_EXHAUSTED)

    @case("server streaming")
    def _():
        responses = list(echo.Expand(echo_pb2.EchoRequest(text="s", response_count=100), timeout=10))
        expect([r.index for r in responses] == list(range(100)), "wrong order or count")

    @case("status code and message echoed exactly")
    def _():
        error = expect_code(lambda: echo.Get(echo_pb2.EchoRequest(status_code=9, status_message=ODD_MESSAGE), timeout=5),
                            grpc.StatusCode.FAILED_PRECONDITION)
        expect(error.details() == ODD_MESSAGE, f"details {error.details()!r}")

    @case("status after streamed messages")
    def _():
        call = echo.Expand(echo_pb2.EchoRequest(response_count=3, status_code=5, status_message="gone"), timeout=5)
        received = []
        try:
            for response in call:
                received.append(response.index)
            raise AssertionError("no error")
        except grpc.RpcError as error:
            expect(error.code() == grpc.StatusCode.NOT_FOUND and error.details() == "gone", f"{error.code()} {error.details()}")
        expect(received == [0, 1, 2], f"received {received}")

    @case("unimplemented method")
    def _():
        call = channel.unary_unary("/meshline.testing.v1.Echo/Nope")
        expect_code(lambda: call(b"", timeout=5), grpc.StatusCode.UNIMPLEMENTED)

    @case("unimplemented service")
    def _():
        call = channel.unary_unary("/no.such.Service/Get")
        expect_code(lambda: call(b"", timeout=5), grpc.StatusCode.UNIMPLEMENTED)

    @case("custom and -bin metadata in headers and trailers")
    def _():
        binary = bytes(range(256))
        response, call = echo.Get.with_call(
            echo_pb2.EchoRequest(echo_metadata=True),
            metadata=[("echo-text", "plain value"), ("echo-data-bin", binary)], timeout=5)
        initial = dict(call.initial_metadata())
        trailing = dict(call.trailing_metadata())
        expect(initial.get("echo-text") == "plain value", f"headers {initial}")
        expect(initial.get("echo-data-bin") == binary, "binary header changed")
        expect(trailing.get("trailer-echo-text") == "plain value", f"trailers {trailing}")
        expect(trailing.get("trailer-echo-data-bin") == binary, "binary trailer changed")

    @case("deadline on a slow handler")
    def _():
        started = time.monotonic()
        expect_code(lambda: echo.Get(echo_pb2.EchoRequest(delay_ms=3000), timeout=0.3), grpc.StatusCode.DEADLINE_EXCEEDED)
        expect(time.monotonic() - started < 2, "the deadline was not enforced promptly")

    @case("cancellation after the first streamed message")
    def _():
        call = echo.Expand(echo_pb2.EchoRequest(text="cancel-me", response_count=1000, delay_ms=20), timeout=30)
        first = next(call)
        expect(first.index == 0, f"got {first}")
        call.cancel()
        expect(call.code() == grpc.StatusCode.CANCELLED, f"code {call.code()}")

    @case("1000 concurrent calls on one connection")
    def _():
        pending = [echo.Get.future(echo_pb2.EchoRequest(text=str(i)), timeout=60) for i in range(1000)]
        texts = [f.result().text for f in pending]
        expect(texts == [str(i) for i in range(1000)], "responses mixed up")

    @case("client disconnects mid-stream")
    def _():
        other = grpc.insecure_channel(f"127.0.0.1:{port}")
        call = echo_pb2_grpc.EchoStub(other).Expand(
            echo_pb2.EchoRequest(text="disconnect-me", response_count=1000, delay_ms=20), timeout=30)
        next(call)
        other.close()

    @case("garbage bytes close that connection only")
    def _():
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)) * 4)
        raw.settimeout(5)
        data = b""
        while True:
            chunk = raw.recv(65536)
            if not chunk:
                break
            data += chunk
        raw.close()
        # The server closed the connection; others still work.
        response = echo.Get(echo_pb2.EchoRequest(text="still here"), timeout=5)
        expect(response.text == "still here", "server stopped serving")

    channel.close()
    return cases.report()


def run_server(work):
    stubs.generate(f"{work}/stubs")
    from meshline.testing.v1 import echo_pb2, echo_pb2_grpc

    def response(request, index):
        payload = bytes(i % 256 for i in range(request.response_size)) if request.response_size > 0 else request.payload
        return echo_pb2.EchoResponse(text=request.text, payload=payload, index=index)

    def echo_metadata(request, context):
        if not request.echo_metadata:
            return
        pairs = [(k, v) for k, v in context.invocation_metadata() if k.startswith("echo-")]
        context.send_initial_metadata(pairs)
        context.set_trailing_metadata([("trailer-" + k, v) for k, v in pairs])

    def wait(request, context):
        if request.delay_ms > 0:
            deadline = time.monotonic() + request.delay_ms / 1000
            while time.monotonic() < deadline:
                if not context.is_active():
                    return False
                time.sleep(0.005)
        return True

    class Echo(echo_pb2_grpc.EchoServicer):
        def Get(self, request, context):
            echo_metadata(request, context)
            wait(request, context)
            if request.status_code:
                context.abort(next(c for c in grpc.StatusCode if c.value[0] == request.status_code), request.status_message)
            return response(request, 0)

        def Expand(self, request, context):
            echo_metadata(request, context)
            for index in range(request.response_count):
                if not wait(request, context):
                    return
                yield response(request, index)
            if request.status_code:
                context.abort(next(c for c in grpc.StatusCode if c.value[0] == request.status_code), request.status_message)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=[
        ("grpc.max_receive_message_length", MAX), ("grpc.max_send_message_length", -1)])
    echo_pb2_grpc.add_EchoServicer_to_server(Echo(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"listening on {port}", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    server.stop(grace=1).wait()
    return 0


def run_tls_client(port, ca_file, work):
    stubs.generate(f"{work}/stubs")
    from meshline.testing.v1 import echo_pb2, echo_pb2_grpc

    credentials = grpc.ssl_channel_credentials(root_certificates=open(ca_file, "rb").read())
    with grpc.secure_channel(f"localhost:{port}", credentials) as channel:
        response = echo_pb2_grpc.EchoStub(channel).Get(echo_pb2.EchoRequest(text="over tls"), timeout=10)
    if response.text != "over tls":
        print(f"FAIL tls unary: got {response}")
        print("0 passed, 1 failed")
        return 1
    print("ok tls unary")
    print("1 passed, 0 failed")
    return 0


def serve_until_stdin_closes(listener, serve):
    """Runs `serve(connection)` in a thread per accepted connection until the test closes stdin."""

    def accept():
        while True:
            connection, _ = listener.accept()
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    sys.stdin.read()
    return 0


def run_blackhole():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(f"listening on {listener.getsockname()[1]}", flush=True)

    def swallow(connection):
        while connection.recv(65536):
            pass

    return serve_until_stdin_closes(listener, swallow)


def run_refusing(how):
    """A server that processes no request: each is refused before any handler could run."""
    import h2.config
    import h2.connection
    import h2.errors
    import h2.events
    import h2.exceptions

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(f"listening on {listener.getsockname()[1]}", flush=True)

    def serve(connection):
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        connection.sendall(conn.data_to_send())
        while data := connection.recv(65536):
            try:
                events = conn.receive_data(data)
            except h2.exceptions.ProtocolError:
                continue  # after our GOAWAY: keep reading so that the GOAWAY is not lost to a reset
            for event in events:
                if isinstance(event, h2.events.RequestReceived):
                    if how == "refuse":
                        conn.reset_stream(event.stream_id, error_code=h2.errors.ErrorCodes.REFUSED_STREAM)
                    else:
                        conn.close_connection(error_code=0, last_stream_id=0)
            connection.sendall(conn.data_to_send())

    return serve_until_stdin_closes(listener, serve)


def run_unanswered():
    """A listening port that never completes a TCP handshake: Linux drops a SYN while
    the accept queue is full, and nothing is ever accepted from it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    probe = socket.socket()
    probe.settimeout(0.3)
    try:
        probe.connect(("127.0.0.1", port))
        print("the accept queue did not fill", flush=True)
        return 1
    except socket.timeout:
        pass
    print(f"listening on {port}", flush=True)
    sys.stdin.read()
    return 0


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "blackhole":
        sys.exit(run_blackhole())
    if mode in ("refuse", "goaway"):
        sys.exit(run_refusing(mode))
    if mode == "unanswered":
        sys.exit(run_unanswered())
    if mode == "tls-client" and len(sys.argv) == 5:
        sys.exit(run_tls_client(int(sys.argv[2]), sys.argv[3], sys.argv[4]))
    if mode == "client" and len(sys.argv) == 4:
        sys.exit(run_client(int(sys.argv[2]), sys.argv[3]))
    if mode == "server" and len(sys.argv) == 3:
        sys.exit(run_server(sys.argv[2]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
