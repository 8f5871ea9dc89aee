"""The examples of docs/property-testing.md: strategies, shrinking, fault plans, check_framing."""

from __future__ import annotations

import socket

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

import sockfix
import sockfix.strategies as sst
from sockfix import faults
from sockfix.faults import FaultPlan, PlannedFault
from sockfix.framing import delimited, length_prefixed, lines
from sockfix.testing import check_framing

REPLY = b"+OK all of the reply\r\n"


def fetch_fragile(address):
    """Broken on purpose: assumes the whole reply arrives in one recv."""
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(b"GET\r\n")
        return sock.recv(4096)


def test_the_obvious_test_passes():
    with sockfix.TCPServer() as server:
        server.expect(b"GET\r\n").respond(REPLY)
        assert fetch_fragile(server.address) == REPLY


@settings(max_examples=20, deadline=None, database=None)
@given(sizes=sst.chunk_sizes(len(REPLY)))
def check_fragile_client(sizes):
    with sockfix.TCPServer() as server:
        server.expect(b"GET\r\n").respond(REPLY).chunked(sizes, delay=0.5)
        assert fetch_fragile(server.address) == REPLY


def test_hypothesis_finds_the_bug():
    with pytest.raises(AssertionError) as info:
        check_fragile_client()
    assert "sizes=[1, 21]" in "".join(info.value.__notes__)


def test_the_smallest_failing_split():
    def fails(sizes):
        with sockfix.TCPServer() as server:
            server.expect(b"GET\r\n").respond(REPLY).chunked(sizes, delay=0.5)
            return fetch_fragile(server.address) != REPLY

    smallest = find(sst.chunk_sizes(len(REPLY)), fails, settings=settings(deadline=None))
    assert smallest == [1, len(REPLY) - 1]


def fetch(address):
    """Fixed: reads until the terminator."""
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(b"GET\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError(f"closed after {reply!r}")
            reply += chunk
        return reply


@settings(max_examples=20, deadline=None)
@given(sizes=sst.chunk_sizes(len(REPLY)))
def test_fetch_survives_any_fragmentation(sizes):
    with sockfix.TCPServer() as server:
        server.expect(b"GET\r\n").respond(REPLY).chunked(sizes, delay=0.001)
        assert fetch(server.address) == REPLY


def fetch_with_retries(address, attempts=3):
    for attempt in range(attempts):
        try:
            return fetch(address)
        except OSError:  # ConnectionResetError, ConnectionError, TimeoutError...
            if attempt == attempts - 1:
                raise


@settings(max_examples=20, deadline=None)
@given(
    sizes=sst.chunk_sizes(len(REPLY)),
    plan=sst.fault_plans(kinds=["latency", "chunked", "reset"], connections=2),
)
def test_fetch_survives_faults(sizes, plan):
    with sockfix.TCPServer(seed=0) as server:
        server.expect(b"GET\r\n").respond(REPLY).chunked(sizes)
        plan.apply(server)
        assert fetch_with_retries(server.address) == REPLY


def test_fault_plans_by_hand():
    plan = FaultPlan([faults.Latency(0.01), PlannedFault(faults.Reset(), connections=[1])])
    assert plan.faults == (faults.Latency(0.01), faults.Reset())
    assert repr(plan) == "FaultPlan([Latency(0.01), PlannedFault(Reset(), connections=[1])])"
    with sockfix.TCPServer() as server:
        plan.apply(server)
        assert server.faults == ["Latency(0.01) on all connections", "Reset() on connections [1]"]


@settings(max_examples=10, deadline=None)
@given(plan=sst.fault_plans(kinds=["chunked", "latency"], directions=["downstream", "upstream"]))
def test_fetch_through_a_faulty_proxy(plan):
    with sockfix.TCPServer() as server, sockfix.TCPProxy(upstream=server.address) as proxy:
        plan.apply(proxy)
        server.expect(b"GET\r\n").respond(REPLY)
        assert fetch(proxy.address) == REPLY


@settings(max_examples=20, deadline=None)
@given(pieces=sst.fragmentations(b"PING\r\nQUIT\r\n"))
def test_the_server_frames_any_writes(pieces):
    with sockfix.TCPServer() as server:
        server.expect(b"PING\r\n").respond(b"+PONG\r\n")
        server.expect(b"QUIT\r\n").respond(b"+BYE\r\n").close()
        with socket.create_connection(server.address, timeout=2) as sock:
            for piece in pieces:
                sock.sendall(piece)
            assert sock.makefile("rb").read() == b"+PONG\r\n+BYE\r\n"
        assert server.connections[0].messages == [b"PING\r\n", b"QUIT\r\n"]


def test_strategies_shrink_to():
    assert find(sst.chunk_sizes(10), lambda s: True) == [10]
    assert find(sst.chunk_sizes(10), lambda s: len(s) >= 2) == [1, 9]
    assert find(sst.fragmentations(b"PING\r\n"), lambda p: True) == [b"PING\r\n"]
    assert find(sst.fault_plans(), lambda p: True) == FaultPlan(faults=())


def netstring(buffer):
    """b"5:hello," framing: digits, a colon, that many bytes, a comma."""
    colon = buffer.find(b":")
    if colon < 0:
        return None
    end = colon + 1 + int(buffer[:colon]) + 1
    return end if len(buffer) >= end else None


def test_my_framing_conforms():
    check_framing(netstring, [b"5:hello,", b"0:,", b"3:a:b,"])
    check_framing(lines(), [b"PING\r\n", b"\n"])


@given(bodies=st.lists(st.binary(max_size=20), max_size=4))
def test_my_framing_conforms_for_any_body(bodies):
    check_framing(netstring, [b"%d:%s," % (len(body), body) for body in bodies])


@pytest.mark.parametrize("framing", [lines(), delimited(b"\r\n"), length_prefixed("!H")])
@given(data=st.data())
def test_builtin_framings_conform(framing, data):
    check_framing(framing, data.draw(sst.framed_messages(framing)))


def test_a_broken_framing_is_caught():
    def greedy(buffer):
        return len(buffer) if b"\n" in buffer else None

    with pytest.raises(AssertionError, match="greedy cut the messages wrongly"):
        check_framing(greedy, [b"PING\r\n", b"PONG\r\n"])
