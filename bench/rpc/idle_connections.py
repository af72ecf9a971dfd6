#!/usr/bin/env python3
"""Opens N idle HTTP/2 connections to a server and holds them until stdin closes.

    idle_connections.py PORT N

Each connection sends the client preface and an empty SETTINGS frame and reads
the server's SETTINGS. Prints "held N" once all are open.
"""
import selectors
import socket
import sys

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def main():
    port, count = int(sys.argv[1]), int(sys.argv[2])
    connections = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(PREFACE)
        connections.append(sock)
    for sock in connections:
        sock.recv(4096)  # the server's SETTINGS
    print(f"held {len(connections)}", flush=True)
    sys.stdin.read()
    for sock in connections:
        sock.close()


if __name__ == "__main__":
    main()
