"""The examples of docs/faults.md: injecting network faults into a TCPServer."""

from __future__ import annotations

import socket
import time

import pytest

import sockfix
from sockfix import faults


def fetch(address, request=b"GET\n", attempts=3):
    """The client under test: one request per connection, retried on a reset."""
    for _ in range(attempts):
        try:
            with socket.create_connection(address, timeout=1) as sock:
                sock.sendall(request)
                with sock.makefile("rb") as replies:
                    return replies.readline()
        except ConnectionResetError:
            continue
    raise ConnectionError(f"gave up after {attempts} attempts")


def test_fault_quick_look(tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")
    tcp_server.fault(faults.Reset(), connections=[1, 2])  # the first two connects are reset

    assert fetch(tcp_server.address) == b"VALUE 42\n"  # the third attempt succeeds
    assert len(tcp_server.connections) == 3


def test_what_a_fault_did_is_recorded(tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")
    tcp_server.fault(faults.Truncate(3))

    with socket.create_connection(tcp_server.address, timeout=1) as sock:
        sock.sendall(b"GET\n")
        assert sock.recv(100) == b"VAL"
        assert sock.recv(100) == b""  # then EOF

    tcp_server.wait_until(lambda s: s.connections[0].closed)
    conn = tcp_server.connections[0]
    assert conn.sent == b"VAL"
    [event] = [e for e in conn.events if e.kind == "fault"]
    assert event.note == "Truncate(3): truncated after 3 bytes (6 bytes not sent)"


def test_latency(tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")
    tcp_server.fault(faults.Latency(0.1, jitter=0.02))  # each reply waits 0.08 to 0.12 s

    started = time.monotonic()
    assert fetch(tcp_server.address) == b"VALUE 42\n"
    assert time.monotonic() - started >= 0.08


def test_partial_sends(tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")
    tcp_server.fault(faults.Chunked(1, delay=0.001))  # one byte per send

    assert fetch(tcp_server.address) == b"VALUE 42\n"  # a correct client reassembles
    tcp_server.wait_until(lambda s: len(s.connections[0].sent) == 9)
    outs = [e.data for e in tcp_server.connections[0].events if e.kind == "out"]
    assert outs == [b"V", b"A", b"L", b"U", b"E", b" ", b"4", b"2", b"\n"]


def test_corrupt(tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")
    tcp_server.fault(faults.Corrupt(1.0))  # every byte changed, the length kept

    with socket.create_connection(tcp_server.address, timeout=1) as sock:
        sock.sendall(b"GET\n")
        with sock.makefile("rb") as replies:
            reply = replies.read(9)
    assert len(reply) == 9
    assert reply != b"VALUE 42\n"


def test_garbage(tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")
    tcp_server.fault(faults.Garbage(4))  # 4 random bytes instead of the reply, then EOF

    with socket.create_connection(tcp_server.address, timeout=1) as sock:
        sock.sendall(b"GET\n")
        with sock.makefile("rb") as replies:
            assert len(replies.read()) == 4


def test_hang(tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")
    tcp_server.fault(faults.Hang())  # reads and records, never answers, never closes

    with pytest.raises(TimeoutError):
        fetch(tcp_server.address)
    assert tcp_server.connections[0].received == b"GET\n"


def test_timeout(tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")
    tcp_server.fault(faults.Timeout(0.2))  # silent for 0.2 s, then closes

    with socket.create_connection(tcp_server.address, timeout=1) as sock:
        sock.sendall(b"GET\n")
        assert sock.recv(100) == b""  # EOF, no answer


def test_half_close(tcp_server):
    tcp_server.expect(b"GET\n")  # the reply could not be sent anyway
    tcp_server.fault(faults.HalfClose())

    with socket.create_connection(tcp_server.address, timeout=1) as sock:
        assert sock.recv(100) == b""  # the server's FIN...
        sock.sendall(b"GET\n")  # ...yet it still reads
    tcp_server.wait_until(lambda s: s.connections[0].received == b"GET\n")


def test_refuse_and_resume(tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")

    tcp_server.refuse()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(tcp_server.address, timeout=1)
    tcp_server.resume()  # same port
    assert fetch(tcp_server.address) == b"VALUE 42\n"
    assert len(tcp_server.connections) == 1  # refused attempts are not connections


def test_probability():
    with sockfix.TCPServer(seed=1234) as server:
        server.expect(b"GET\n").respond(b"VALUE 42\n")
        server.fault(faults.Reset(probability=0.5))  # about half the connections

        results = []
        for _ in range(10):
            try:
                results.append(fetch(server.address, attempts=1))
            except ConnectionError:
                results.append(None)
    # With seed=1234 the same connections are reset on every run.
    assert 0 < results.count(None) < 10


def test_fail_twice_then_succeed_with_rules(tcp_server):
    tcp_server.expect(b"GET\n").reset().times(2)
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")

    assert fetch(tcp_server.address) == b"VALUE 42\n"


def test_fail_twice_then_succeed_with_a_fault(tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")
    tcp_server.fault(faults.Reset(), connections=[1, 2])

    assert fetch(tcp_server.address) == b"VALUE 42\n"


def test_client_timeout_is_honoured(tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")
    tcp_server.fault(faults.Latency(5))  # far longer than the client waits

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        fetch(tcp_server.address, attempts=1)  # the client's own 1 s timeout
    assert time.monotonic() - started >= 1
    # Leaving the test stops the server at once, pending delay or not.


def test_reproduce_from_a_seed():
    def run(seed):
        with sockfix.TCPServer(seed=seed) as server:
            server.expect(b"GET\n").respond(b"VALUE 42\n")
            server.fault(faults.Corrupt(0.5))
            with socket.create_connection(server.address, timeout=1) as sock:
                sock.sendall(b"GET\n")
                server.wait_until(lambda s: s.connections[0].sent)
            return server.connections[0].sent

    assert run(7) == run(7) != b"VALUE 42\n"  # the same seed corrupts the same bytes


def test_build_by_name():
    assert faults.build("latency", 0.05, jitter=0.01) == faults.Latency(0.05, jitter=0.01)
    assert "reset" in faults.REGISTRY
