"""The examples of docs/index.md: a server without pytest."""

from __future__ import annotations

import socket

import sockfix


def test_without_pytest():
    with sockfix.TCPServer() as server:
        server.expect(b"PING\r\n").respond(b"+PONG\r\n")

        with (
            socket.create_connection(server.address, timeout=2) as sock,
            sock.makefile("rb") as replies,
        ):
            sock.sendall(b"PING\r\n")
            assert replies.readline() == b"+PONG\r\n"

    assert server.connections[0].received == b"PING\r\n"
