"""Small client-side helpers for the socket-layer tests: every loop bounded in count and time."""

from __future__ import annotations

import socket
import struct
import time

import sockfix

TIMEOUT = 5.0


def connect(server: sockfix.TCPServer, timeout: float = TIMEOUT) -> socket.socket:
    """A client socket connected to ``server`` with a timeout on every call."""
    return socket.create_connection(server.address, timeout=timeout)


def recv_exactly(sock: socket.socket, n: int, timeout: float = TIMEOUT) -> bytes:
    """Read exactly ``n`` bytes (AssertionError on EOF first, TimeoutError when too slow)."""
    deadline = time.monotonic() + timeout
    out = bytearray()
    for _ in range(n + 1):
        if len(out) >= n:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"got {len(out)} of {n} bytes: {bytes(out)!r}")
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise AssertionError(f"EOF after {len(out)} of {n} bytes: {bytes(out)!r}")
        out += chunk
    return bytes(out)


def recv_until(sock: socket.socket, suffix: bytes, limit: int = 1 << 20) -> bytes:
    """Read until the data ends with ``suffix`` (at most ``limit`` bytes)."""
    out = bytearray()
    for _ in range(limit):
        if out.endswith(suffix):
            return bytes(out)
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"EOF before {suffix!r}: {bytes(out)!r}")
        out += chunk
        if len(out) > limit:
            break
    raise AssertionError(f"no {suffix!r} within {limit} bytes: {bytes(out[:200])!r}")


def recv_all(sock: socket.socket, limit: int = 1 << 26) -> bytes:
    """Read until EOF (at most ``limit`` bytes); ConnectionResetError propagates."""
    out = bytearray()
    for _ in range(limit):
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(out)
        out += chunk
        if len(out) > limit:
            break
    raise AssertionError(f"no EOF within {limit} bytes")


def kinds(conn: sockfix.Connection) -> list[str]:
    return [e.kind for e in conn.events]


def rst_close(sock: socket.socket) -> None:
    """Close ``sock`` with a RST (SO_LINGER on, timeout 0)."""

    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def has_ipv6() -> bool:
    """Whether ``::1`` can be bound (urllib3's HAS_IPV6 probe)."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True
