"""A user's test file, run through pytester by test_howto_pytest.py: tests that pass."""

import socket

import pytest


@pytest.mark.parametrize("attempt", range(4))
def test_ping(tcp_server, attempt):
    tcp_server.expect(b"PING\r\n").respond(b"+PONG\r\n")
    with (
        socket.create_connection(tcp_server.address, timeout=2) as sock,
        sock.makefile("rb") as replies,
    ):
        sock.sendall(b"PING\r\n")
        assert replies.readline() == b"+PONG\r\n"
