"""The worked example of docs/property-testing.md, with real sockets.

A toy client that assumes a reply arrives in one ``recv`` passes every hand-written test
against a server that sends the reply in one piece. ``chunk_sizes`` finds the bug and shrinks it
to the smallest failing split; the fixed client (read until the terminator) passes for every
split; a retrying client passes under any plan of latency, chunking and resets.

Every server is opened inside the test (one per example), not through the ``tcp_server``
fixture, which would be one server shared by all examples.
"""

from __future__ import annotations

import socket

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

import sockfix
import sockfix.strategies as sst
from sockfix import faults
from sockfix.faults import FaultPlan, PlannedFault

REQUEST = b"GET\r\n"
REPLY = b"+OK all of the reply\r\n"
GAP = 0.5  # between chunks: each chunk is a read of its own (stop() cuts the wait short)

SOCKET_SETTINGS = settings(max_examples=15, deadline=None, database=None)


class FetchError(Exception):
    """The toy client gave up."""


def fetch_fragile(address: tuple[str, int]) -> bytes:
    """Broken on purpose: assumes the whole reply comes in one recv."""
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(REQUEST)
        return sock.recv(4096)


def fetch(address: tuple[str, int]) -> bytes:
    """Fixed: reads until the terminator (or EOF)."""
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(REQUEST)
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = sock.recv(4096)
            if not chunk:
                raise FetchError(f"connection closed after {reply!r}")
            reply += chunk
        return reply


def fetch_with_retries(address: tuple[str, int], attempts: int = 3) -> bytes:
    """Retries on resets, refusals and early EOF."""
    problems = []
    for _ in range(attempts):
        try:
            return fetch(address)
        except (OSError, FetchError) as exc:  # ConnectionResetError is an OSError
            problems.append(exc)
    raise FetchError(f"gave up after {attempts} attempts: {problems!r}")


def fragile_fails(sizes: list[int]) -> bool:
    with sockfix.TCPServer(seed=0) as server:
        server.expect(REQUEST).respond(REPLY).chunked(sizes, delay=GAP)
        return fetch_fragile(server.address) != REPLY


def test_the_fragile_client_passes_the_obvious_test() -> None:
    assert not fragile_fails([len(REPLY)])


def test_chunk_sizes_finds_and_shrinks_the_fragile_client_bug() -> None:
    # Any split into two or more sends breaks the client (the gap makes each chunk its own
    # read), so Hypothesis shrinks to the simplest such split: two chunks, the first as small as
    # it can be (fewer cuts first, then the cut nearest the start).
    smallest = find(sst.chunk_sizes(len(REPLY)), fragile_fails, settings=SOCKET_SETTINGS)
    assert smallest == [1, len(REPLY) - 1]


def test_the_fragile_client_fails_on_every_split() -> None:
    @SOCKET_SETTINGS
    @given(sizes=sst.chunk_sizes(len(REPLY)))
    def check(sizes: list[int]) -> None:
        assert fragile_fails(sizes) == (len(sizes) >= 2)

    check()


@SOCKET_SETTINGS
@given(sizes=sst.chunk_sizes(len(REPLY)))
def test_the_fixed_client_survives_any_fragmentation(sizes: list[int]) -> None:
    with sockfix.TCPServer(seed=0) as server:
        server.expect(REQUEST).respond(REPLY).chunked(sizes, delay=0.001)
        assert fetch(server.address) == REPLY
        assert server.connections[0].sent == REPLY


@settings(max_examples=25, deadline=None, database=None)
@given(
    sizes=sst.chunk_sizes(len(REPLY)),
    plan=sst.fault_plans(kinds=["latency", "chunked", "reset"], connections=2),
)
def test_the_retrying_client_survives_faults_on_two_connections(
    sizes: list[int], plan: FaultPlan
) -> None:
    with sockfix.TCPServer(seed=0) as server:
        server.expect(REQUEST).respond(REPLY).chunked(sizes)
        plan.apply(server)
        assert fetch_with_retries(server.address, attempts=3) == REPLY
        assert server.connections[-1].sent == REPLY


def test_a_plan_on_every_connection_defeats_the_retries() -> None:
    # Without connections=, a fault is on every connection: a reset then always wins.
    with sockfix.TCPServer(seed=0) as server:
        server.expect(REQUEST).respond(REPLY)
        FaultPlan([faults.Reset(after_bytes=3)]).apply(server)
        with pytest.raises(FetchError, match="gave up after 2 attempts"):
            fetch_with_retries(server.address, attempts=2)
        assert [c.sent for c in server.connections] == [REPLY[:3]] * 2


def test_a_plan_applied_to_a_real_server_and_proxy() -> None:
    plan = FaultPlan(
        [
            faults.Latency(0.001),
            PlannedFault(faults.Chunked(2), connections=[1], direction="downstream"),
        ]
    )
    with sockfix.TCPServer() as server, sockfix.TCPProxy(upstream=server.address) as proxy:
        plan.apply(proxy)
        assert len(proxy.faults) == 2
        server.expect(REQUEST).respond(REPLY)
        assert fetch(proxy.address) == REPLY
        assert proxy.connections[0].sent == REPLY
    with sockfix.TCPServer() as server:
        FaultPlan([PlannedFault(faults.Reset(), connections=[2])]).apply(server)
        assert server.faults == ["Reset() on connections [2]"]
    with sockfix.UDPServer() as udp:
        FaultPlan([faults.Drop(0.5), faults.Latency(0.01)]).apply(udp)
        assert udp.faults == ["Drop(0.5) on all connections", "Latency(0.01) on all connections"]
        with pytest.raises(TypeError, match="not a UDP fault"):
            FaultPlan([faults.Reset()]).apply(udp)


@settings(max_examples=10, deadline=None, database=None)
@given(pieces=sst.fragmentations(b"PING\r\nSET k v\r\n"), data=st.data())
def test_the_server_frames_any_client_fragmentation(
    pieces: list[bytes], data: st.DataObject
) -> None:
    with sockfix.TCPServer() as server:
        server.expect(b"PING\r\n").respond(b"+PONG\r\n")
        server.expect(b"SET k v\r\n").respond(b"+OK\r\n")
        with socket.create_connection(server.address, timeout=2) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for piece in pieces:
                sock.sendall(piece)
            reply = b""
            while reply != b"+PONG\r\n+OK\r\n" and len(reply) < 13:
                chunk = sock.recv(64)
                if not chunk:
                    break
                reply += chunk
        assert reply == b"+PONG\r\n+OK\r\n"
        assert server.connections[0].messages == [b"PING\r\n", b"SET k v\r\n"]
