"""The README's and the quickstart's headline example: a client that retries after a reset."""

from __future__ import annotations

import socket


class PingClient:
    """A tiny line-protocol client: read the greeting, send PING, retry when the peer drops."""

    def __init__(self, address: tuple[str, int], attempts: int = 3) -> None:
        self.address = address
        self.attempts = attempts

    def ping(self) -> str:
        for _ in range(self.attempts):
            try:
                with socket.create_connection(self.address, timeout=2.0) as sock:
                    replies = sock.makefile("rb")
                    replies.readline()  # b"220 ready\r\n"
                    sock.sendall(b"PING\r\n")
                    reply = replies.readline()
                    replies.close()
            except ConnectionError:
                continue
            if reply:
                return reply.strip().lstrip(b"+").decode()
        raise ConnectionError(f"no answer after {self.attempts} attempts")


def my_client(address: tuple[str, int]) -> PingClient:
    return PingClient(address)


def test_client_retries(tcp_server):
    tcp_server.on_connect().respond(b"220 ready\r\n")
    tcp_server.expect(b"PING\r\n").reset().times(1)
    tcp_server.expect(b"PING\r\n").respond(b"+PONG\r\n")
    assert my_client(tcp_server.address).ping() == "PONG"
    assert tcp_server.connections[1].messages == [b"PING\r\n"]
