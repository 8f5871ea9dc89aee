"""A user's test file, run through pytester by test_howto_pytest.py: a strict failure."""

import socket


def test_unexpected_command(tcp_server):
    tcp_server.expect(b"PING\r\n").respond(b"+PONG\r\n")
    with (
        socket.create_connection(tcp_server.address, timeout=2) as sock,
        sock.makefile("rb") as replies,
    ):
        sock.sendall(b"PING\r\n")
        assert replies.readline() == b"+PONG\r\n"
        sock.sendall(b"PONG\r\n")  # no rule for this: the test fails at its end
    tcp_server.wait_until(lambda s: s.connections[0].closed)
