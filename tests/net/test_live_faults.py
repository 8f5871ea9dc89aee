"""Faults attached while a connection is open act on it from its next send (docs/faults.md):
on a TCPServer as in a TCPProxy.

Each server test opens a connection, makes one round trip without faults, attaches the fault,
then sends the next request: what the client sees and what the server records must be what
the fault promises. Timing is asserted as lower bounds only.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from _nethelp import connect, kinds, recv_all, recv_exactly

import sockfix
from sockfix import faults

SHORT = 0.3  # a client timeout for "no answer": far above a loopback round trip
DELAY = 0.2  # Latency / Timeout under test
SLOW_CLOSE = 0.3


def fault_notes(conn: sockfix.Connection) -> list[str]:
    return [e.note for e in conn.events if e.kind == "fault"]


@pytest.fixture
def server() -> Iterator[sockfix.TCPServer]:
    """Answers every line upper-cased."""
    with sockfix.TCPServer(handler=sockfix.echo(bytes.upper)) as server:
        yield server


def _first_round_trip(server: sockfix.TCPServer, client: socket.socket) -> None:
    """One request answered without faults: the connection is open and in use."""
    client.sendall(b"one\n")
    assert recv_exactly(client, 4) == b"ONE\n"
    assert server.connections[0].sent == b"ONE\n"
    assert fault_notes(server.connections[0]) == []


def _read_a_new_connection(server: sockfix.TCPServer) -> bytes:
    with connect(server, timeout=2) as sock:
        return recv_all(sock)


# -- TCPServer ----------------------------------------------------------------------------------


def test_hang_attached_live_withholds_the_next_answer(server: sockfix.TCPServer) -> None:
    with connect(server, timeout=SHORT) as client:
        _first_round_trip(server, client)
        server.fault(faults.Hang())
        client.sendall(b"two\n")
        with pytest.raises(TimeoutError):
            client.recv(100)
        client.sendall(b"three\n")  # still read and recorded, never answered
        server.wait_until(lambda s: s.connections[0].received == b"one\ntwo\nthree\n", timeout=2)
        with pytest.raises(TimeoutError):
            client.recv(100)
        conn = server.connections[0]
        assert conn.messages == [b"one\n", b"two\n", b"three\n"]
        assert conn.sent == b"ONE\n"
        assert not conn.closed  # a hang never closes
        notes = fault_notes(conn)
        assert len(notes) == 1, notes
        assert notes[0].startswith("Hang()"), notes
    assert server.problems == []


def test_timeout_attached_live_is_silence_then_eof(server: sockfix.TCPServer) -> None:
    with connect(server, timeout=2) as client:
        _first_round_trip(server, client)
        server.fault(faults.Timeout(DELAY))
        started = time.monotonic()
        client.sendall(b"two\n")
        assert recv_all(client) == b""  # no answer at all, then the server's FIN
        assert time.monotonic() - started >= DELAY
    server.wait_until(lambda s: s.connections[0].closed, timeout=2)
    conn = server.connections[0]
    assert conn.messages == [b"one\n", b"two\n"]
    assert conn.sent == b"ONE\n"
    notes = fault_notes(conn)
    assert len(notes) == 1, notes
    assert notes[0].startswith(f"Timeout({DELAY})"), notes
    assert kinds(conn)[-1] == "close"
    assert "reset" not in kinds(conn)


def test_reset_attached_live_resets_instead_of_answering(server: sockfix.TCPServer) -> None:
    with connect(server, timeout=2) as client:
        _first_round_trip(server, client)
        server.fault(faults.Reset())
        client.sendall(b"two\n")
        with pytest.raises(ConnectionResetError):
            recv_all(client)
    server.wait_until(lambda s: s.connections[0].closed, timeout=2)
    conn = server.connections[0]
    assert conn.messages == [b"one\n", b"two\n"]
    assert conn.sent == b"ONE\n"
    assert kinds(conn).count("reset") == 1, kinds(conn)
    assert kinds(conn)[-1] == "reset"
    assert "close" not in kinds(conn)
    notes = fault_notes(conn)
    assert len(notes) == 1, notes
    assert notes[0].startswith("Reset()"), notes


def test_latency_attached_live_delays_the_next_answer(server: sockfix.TCPServer) -> None:
    with connect(server, timeout=2) as client:
        _first_round_trip(server, client)
        server.fault(faults.Latency(DELAY))
        started = time.monotonic()
        client.sendall(b"two\n")
        assert recv_exactly(client, 4) == b"TWO\n"
        assert time.monotonic() - started >= DELAY
    conn = server.connections[0]
    assert conn.sent == b"ONE\nTWO\n"
    notes = fault_notes(conn)
    assert len(notes) == 1, notes
    assert notes[0].startswith(f"Latency({DELAY}): delayed 4 bytes"), notes
    fault_event = next(e for e in conn.events if e.kind == "fault")
    two = next(e for e in conn.events if e.kind == "out" and e.data == b"TWO\n")
    assert two.time - fault_event.time >= DELAY


def test_a_fault_for_connection_2_leaves_open_connection_1_alone(
    server: sockfix.TCPServer,
) -> None:
    with connect(server, timeout=2) as first:
        _first_round_trip(server, first)
        server.fault(faults.Reset(), connections=[2])
        first.sendall(b"two\n")
        assert recv_exactly(first, 4) == b"TWO\n"
        # Connection 2 is reset as it opens: the RST may even fail the client's connect().
        with pytest.raises(ConnectionResetError):
            _read_a_new_connection(server)
        server.wait_until(lambda s: len(s.connections) == 2 and s.connections[1].closed)
        first.sendall(b"three\n")
        assert recv_exactly(first, 6) == b"THREE\n"
        conn1, conn2 = server.connections[:2]
        assert conn1.sent == b"ONE\nTWO\nTHREE\n"
        assert fault_notes(conn1) == []
        assert "reset" not in kinds(conn1)
        assert not conn1.closed
        assert kinds(conn2)[-1] == "reset"
        assert [n.split(":")[0] for n in fault_notes(conn2)] == ["Reset()"]


def test_a_rule_answer_is_withheld_by_a_live_hang() -> None:
    """The same with a rule answering each line instead of a handler."""
    with sockfix.TCPServer() as server:
        server.expect(sockfix.ANY).respond(b"ok\n").times(3)
        with connect(server, timeout=SHORT) as client:
            client.sendall(b"a\n")
            assert recv_exactly(client, 3) == b"ok\n"
            server.fault(faults.Hang())
            client.sendall(b"b\nc\n")
            with pytest.raises(TimeoutError):
                client.recv(100)
            server.wait_until(lambda s: s.connections[0].messages == [b"a\n", b"b\n", b"c\n"])
            assert server.connections[0].sent == b"ok\n"
            assert [n.split(":")[0] for n in fault_notes(server.connections[0])] == ["Hang()"]


# -- TCPProxy -----------------------------------------------------------------------------------


@pytest.fixture
def proxy(server: sockfix.TCPServer) -> Iterator[sockfix.TCPProxy]:
    with sockfix.TCPProxy(upstream=server.address) as proxy:
        yield proxy


def _closed(proxy: sockfix.TCPProxy) -> None:
    proxy.wait_until(
        lambda p: p.connections[0].closed and p.connections[0].upstream.closed, timeout=3
    )


def test_proxy_slow_close_downstream_passes_the_fin_late(
    proxy: sockfix.TCPProxy, server: sockfix.TCPServer
) -> None:
    server.expect(b"quit\n").respond(b"bye\n").close()
    with connect(proxy, timeout=2) as client:
        client.sendall(b"one\n")
        assert recv_exactly(client, 4) == b"ONE\n"
        proxy.fault(faults.SlowClose(SLOW_CLOSE), direction="downstream")
        started = time.monotonic()
        client.sendall(b"quit\n")
        assert recv_exactly(client, 4) == b"bye\n"
        assert client.recv(100) == b""  # the FIN, passed on late
        assert time.monotonic() - started >= SLOW_CLOSE
    _closed(proxy)
    conn = proxy.connections[0]
    assert conn.sent == b"ONE\nbye\n"
    assert "eof" in kinds(conn.upstream)  # the real server closed
    notes = fault_notes(conn)
    assert len(notes) == 1, notes
    assert "SlowClose(0.3)" in notes[0]
    assert "downstream" in notes[0]
    assert "upstream:" not in notes[0]


def test_proxy_slow_close_upstream_passes_the_client_fin_late(
    proxy: sockfix.TCPProxy, server: sockfix.TCPServer
) -> None:
    with connect(proxy, timeout=2) as client:
        client.sendall(b"one\n")
        assert recv_exactly(client, 4) == b"ONE\n"
        proxy.fault(faults.SlowClose(SLOW_CLOSE), direction="upstream")
        started = time.monotonic()
        client.shutdown(socket.SHUT_WR)
        server.wait_until(lambda s: "eof" in kinds(s.connections[0]), timeout=3)
        assert time.monotonic() - started >= SLOW_CLOSE
        assert recv_all(client) == b""  # the server closes in turn; that FIN is not delayed
    _closed(proxy)
    conn = proxy.connections[0]
    assert "eof" in kinds(conn)  # the proxy saw the client's FIN, and passed it on late
    assert server.connections[0].received == b"one\n"
    notes = fault_notes(conn)
    assert len(notes) == 1, notes
    assert "SlowClose(0.3)" in notes[0]
    assert notes[0].startswith("upstream:")
    assert "downstream" not in notes[0]
