"""One conformance suite every registered fault passes (like trio's ``check_*`` helpers).

Parametrised over ``sockfix.faults.REGISTRY``: a newly registered fault is covered without
touching this file (its required arguments are filled in from their types). TCP faults run
against a TCPServer, UDP ones against a UDPServer. Each fault must:

- be deterministic: the same seed and the same client script give the same recording;
- record what it did as a ``"fault"`` event of the connection;
- lose nothing: the ``"in"`` / ``"out"`` events add up to ``received`` / ``sent``, and the
  client got exactly what was recorded as sent;
- be an exact no-op with ``probability=0``;
- leave ``stop()`` prompt (< 0.5 s) while it is acting on an open connection.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from dataclasses import MISSING, fields

import pytest

import sockfix
from sockfix.faults import REGISTRY, Fault

STOP_LIMIT = 0.5
REPLY = bytes(range(64, 128)) * 3  # 192 bytes
CLIENT_TIMEOUT = 0.5

# Values for required arguments, by annotation; and faults whose defaults would be too slow.
FILL = {"float": 0.05, "int": 8}
TUNED: dict[str, tuple[object, ...]] = {"bandwidth": (6400,)}  # 64-byte sends, 10 ms apart


def example(name: str, *, seconds: float = 0.05, **kwargs: object) -> Fault:
    """A small, fast instance of the registered fault ``name`` (floats are ``seconds``)."""
    cls = REGISTRY[name]
    if name in TUNED:
        return cls(*TUNED[name], **kwargs)
    fill = {**FILL, "float": seconds}
    args = []
    for f in fields(cls):
        if f.default is MISSING and f.default_factory is MISSING:
            kind = f.type if isinstance(f.type, str) else f.type.__name__
            assert kind in fill, f"add {name} to TUNED: no value for {f.name}: {kind}"
            args.append(fill[kind])
    return cls(*args, **kwargs)


TCP = sorted(n for n, c in REGISTRY.items() if "tcp" in c.transports and not c.tls_only)
TLS = sorted(n for n, c in REGISTRY.items() if c.tls_only)  # run on a tls=True server
UDP = sorted(n for n, c in REGISTRY.items() if "udp" in c.transports)


def test_every_registered_fault_is_in_the_suite():
    assert set(TCP) | set(TLS) | set(UDP) == set(REGISTRY)
    for name in REGISTRY:
        assert example(name).probability == 1.0


# -- TCP --------------------------------------------------------------------------------------


def tcp_client(server: sockfix.TCPServer) -> bytes:
    """Send one request and read until EOF, a reset, or a quiet CLIENT_TIMEOUT."""
    out = bytearray()
    try:
        with socket.create_connection(server.address, timeout=CLIENT_TIMEOUT) as sock:
            sock.sendall(b"GET\n")
            for _ in range(10_000):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                out += chunk
    except (ConnectionError, TimeoutError):
        pass
    return bytes(out)


def tcp_run(fault: Fault, seed: int, clients: int = 2) -> tuple[list[bytes], sockfix.TCPServer]:
    server = sockfix.TCPServer(seed=seed).start()
    try:
        server.expect(b"GET\n").respond(REPLY).close()
        server.fault(fault)
        got = [tcp_client(server) for _ in range(clients)]
        server.wait_for_connections(clients)
    finally:
        server.stop()
    return got, server


def summary(conn: sockfix.Connection) -> tuple[bytes, bytes, list[str]]:
    return conn.received, conn.sent, [e.note for e in conn.events if e.kind == "fault"]


def check_nothing_lost(conn: sockfix.Connection) -> None:
    ins = b"".join(e.data for e in conn.events if e.kind == "in")
    outs = b"".join(e.data for e in conn.events if e.kind == "out")
    assert ins == conn.received
    assert outs == conn.sent


@pytest.mark.parametrize("name", TCP)
def test_tcp_fault_is_deterministic(name):
    fault = example(name)
    got, first = tcp_run(fault, seed=7)
    again, second = tcp_run(fault, seed=7)
    assert again == got
    assert [summary(c) for c in second.connections] == [summary(c) for c in first.connections]


@pytest.mark.parametrize("name", TCP)
def test_tcp_fault_is_recorded_and_nothing_is_lost(name):
    fault = example(name)
    got, server = tcp_run(fault, seed=7)
    for conn, client_got in zip(server.connections, got, strict=True):
        notes = [e.note for e in conn.events if e.kind == "fault"]
        assert notes, f"{fault!r} recorded no fault event: {conn.events}"
        assert all(n.startswith(repr(fault)) for n in notes)
        check_nothing_lost(conn)
        assert client_got == conn.sent
        assert conn.received in (b"", b"GET\n")
        assert conn.closed


@pytest.mark.parametrize("name", TCP)
def test_tcp_fault_with_probability_zero_is_a_no_op(name):
    got, server = tcp_run(example(name, probability=0), seed=7)
    assert got == [REPLY, REPLY]
    for conn in server.connections:
        assert "fault" not in [e.kind for e in conn.events]
        assert conn.sent == REPLY
        check_nothing_lost(conn)


@pytest.mark.parametrize("name", TCP)
def test_tcp_stop_is_prompt_while_the_fault_acts(name):
    fault = example(name, seconds=30.0)  # waits still running at stop()
    server = sockfix.TCPServer(strict=False).start()
    try:
        server.expect(b"GET\n").respond(REPLY * 100).close()
        server.fault(fault)
        with contextlib.ExitStack() as stack:
            # Reset() may act at connect: the RST can fail connect() itself, or the send.
            with contextlib.suppress(ConnectionError):
                client = stack.enter_context(socket.create_connection(server.address, timeout=5))
                client.sendall(b"GET\n")
            server.wait_until(
                lambda s: any(e.kind == "fault" for c in s.connections for e in c.events)
            )
            t0 = time.perf_counter()
            server.stop()
            assert time.perf_counter() - t0 < STOP_LIMIT
    finally:
        server.stop()
    check_nothing_lost(server.connections[0])


# -- TLS handshake faults -----------------------------------------------------------------------


def tls_client(server: sockfix.TCPServer) -> bytes:
    """A TLS client trusting the server: handshake, one request, read until EOF, a reset, or
    a quiet CLIENT_TIMEOUT (a handshake fault fails the handshake: nothing is read)."""
    out = bytearray()
    try:
        raw = socket.create_connection(server.address, timeout=CLIENT_TIMEOUT)
        with server.client_context().wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(b"GET\n")
            for _ in range(10_000):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                out += chunk
    except (ConnectionError, TimeoutError, ssl.SSLError):
        pass
    return bytes(out)


def tls_run(fault: Fault, seed: int, clients: int = 2) -> tuple[list[bytes], sockfix.TCPServer]:
    server = sockfix.TCPServer(seed=seed, tls=True).start()
    try:
        server.expect(b"GET\n").respond(REPLY).close()
        server.fault(fault)
        got = [tls_client(server) for _ in range(clients)]
        server.wait_for_connections(clients)
    finally:
        server.stop()
    return got, server


@pytest.mark.parametrize("name", TLS)
def test_tls_fault_is_recorded_and_nothing_is_lost(name):
    fault = example(name)
    got, server = tls_run(fault, seed=7)
    for conn, client_got in zip(server.connections, got, strict=True):
        notes = [e.note for e in conn.events if e.kind == "fault"]
        assert notes[0] == f"{fault!r}: " + (
            "TLS handshake reset" if "reset" in name else "TLS handshake left unanswered"
        )
        assert notes[1].startswith("TLS ClientHello (")
        check_nothing_lost(conn)
        assert client_got == conn.sent == conn.received == b""
        assert conn.closed


@pytest.mark.parametrize("name", TLS)
def test_tls_fault_with_probability_zero_is_a_no_op(name):
    got, server = tls_run(example(name, probability=0), seed=7)
    assert got == [REPLY, REPLY]
    for conn in server.connections:
        assert "fault" not in [e.kind for e in conn.events]


@pytest.mark.parametrize("name", TLS)
def test_tls_fault_is_a_no_op_without_tls(name):
    got, server = tcp_run(example(name), seed=7)
    assert got == [REPLY, REPLY]
    assert all("fault" not in [e.kind for e in c.events] for c in server.connections)


@pytest.mark.parametrize("name", TLS)
def test_tls_stop_is_prompt_while_the_fault_acts(name):
    server = sockfix.TCPServer(strict=False, tls=True).start()
    try:
        server.fault(example(name))
        raw = socket.create_connection(server.address, timeout=5)
        ctx = server.client_context()
        with raw, contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError):
            raw.settimeout(0.2)  # a hung handshake ends here, on the client's side
            ctx.wrap_socket(
                raw, server_hostname="localhost", do_handshake_on_connect=False
            ).do_handshake()
        server.wait_until(lambda s: any(e.kind == "fault" for c in s.connections for e in c.events))
        t0 = time.perf_counter()
        server.stop()
        assert time.perf_counter() - t0 < STOP_LIMIT
    finally:
        server.stop()


# -- UDP --------------------------------------------------------------------------------------


def udp_clients(server: sockfix.UDPServer, clients: int = 2, n: int = 6) -> list[list[bytes]]:
    """Each client sends n datagrams (one client after the other), then all read replies
    until CLIENT_TIMEOUT passes quietly."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(clients)]
    try:
        got: list[list[bytes]] = []
        for number, sock in enumerate(socks, 1):
            sock.settimeout(CLIENT_TIMEOUT)
            for i in range(n):
                sock.sendto(b"d%d" % i, server.address)
            server.wait_until(lambda s, k=number: len(s.datagrams) == k * n)
        for i, sock in enumerate(socks):
            if i:  # the first client's quiet wait let every reply arrive
                sock.settimeout(0.05)
            replies = []
            for _ in range(4 * n):
                try:
                    replies.append(sock.recv(65536))
                except TimeoutError:
                    break
            got.append(replies)
        return got
    finally:
        for sock in socks:
            sock.close()


def udp_run(fault: Fault, seed: int) -> tuple[list[list[bytes]], sockfix.UDPServer]:
    server = sockfix.UDPServer(seed=seed).start()
    try:
        server.expect(sockfix.ANY).respond(lambda d: b"reply to " + d + b" " + REPLY)
        server.fault(fault)
        got = udp_clients(server)
    finally:
        server.stop()
    return got, server


def udp_summary(conn: sockfix.Connection) -> tuple[list[bytes], list[bytes], list[str]]:
    return (
        [e.data for e in conn.events if e.kind == "in"],
        [e.data for e in conn.events if e.kind == "out"],
        [e.note for e in conn.events if e.kind == "fault"],
    )


@pytest.mark.parametrize("name", UDP)
@pytest.mark.parametrize("probability", [1.0, 0.5])
def test_udp_fault_is_deterministic(name, probability):
    fault = example(name, probability=probability)
    got, first = udp_run(fault, seed=7)
    again, second = udp_run(fault, seed=7)
    assert again == got
    assert [udp_summary(c) for c in second.connections] == [
        udp_summary(c) for c in first.connections
    ]


@pytest.mark.parametrize("name", UDP)
def test_udp_fault_is_recorded_and_nothing_is_lost(name):
    fault = example(name)
    got, server = udp_run(fault, seed=7)
    assert len(server.connections) == 2
    assert len(server.datagrams) == 12
    for conn, client_got in zip(server.connections, got, strict=True):
        ins, outs, notes = udp_summary(conn)
        assert notes, f"{fault!r} recorded no fault event: {conn.events}"
        assert all(n.startswith(repr(fault)) for n in notes)
        check_nothing_lost(conn)
        assert ins == [b"d%d" % i for i in range(6)]
        assert client_got == outs


@pytest.mark.parametrize("name", UDP)
def test_udp_fault_with_probability_zero_is_a_no_op(name):
    got, server = udp_run(example(name, probability=0), seed=7)
    expected = [b"reply to d%d " % i + REPLY for i in range(6)]
    assert got == [expected, expected]
    for conn in server.connections:
        assert "fault" not in [e.kind for e in conn.events]


@pytest.mark.parametrize("name", UDP)
def test_udp_stop_is_prompt_while_the_fault_acts(name):
    fault = example(name)
    server = sockfix.UDPServer().start()
    try:
        server.expect(sockfix.ANY).respond(b"pong").delay(30)  # replies still due at stop()
        server.fault(fault)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            for _ in range(3):
                client.sendto(b"ping", server.address)
            server.wait_until(
                lambda s: any(e.kind == "fault" for c in s.connections for e in c.events)
            )
            t0 = time.perf_counter()
            server.stop()
            assert time.perf_counter() - t0 < STOP_LIMIT
    finally:
        server.stop()
    check_nothing_lost(server.connections[0])
