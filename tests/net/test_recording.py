"""The recording: exact bytes both ways, messages, events in order with monotonic times."""

from __future__ import annotations

import contextlib
import os
import random
import socket

from _nethelp import connect, kinds, recv_all, recv_exactly, recv_until, rst_close

import sockfix


def _check_consistent(conn: sockfix.Connection) -> None:
    assert b"".join(e.data for e in conn.events if e.kind == "in") == conn.received
    assert b"".join(e.data for e in conn.events if e.kind == "out") == conn.sent
    assert conn.received.startswith(b"".join(conn.messages))
    times = [e.time for e in conn.events]
    assert times == sorted(times)
    assert all(t >= 0 for t in times)
    assert conn.bytes_received == len(conn.received)
    assert conn.bytes_sent == len(conn.sent)


def test_received_and_sent_are_the_exact_bytes() -> None:
    rng = random.Random(7)
    lines = [
        bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300))).replace(b"\n", b"") + b"\n"
        for _ in range(50)
    ]
    with sockfix.TCPServer(handler=sockfix.echo(lambda m: m[::-1])) as server:
        got = b""
        with connect(server) as client:
            for line in lines:
                client.sendall(line)
                got += recv_exactly(client, len(line))
    conn = server.connections[0]
    assert conn.received == b"".join(lines)
    assert conn.sent == got == b"".join(line[::-1] for line in lines)
    assert conn.messages == lines
    _check_consistent(conn)


def test_event_kinds_for_a_client_that_half_closes() -> None:
    with sockfix.TCPServer() as server:
        server.expect(b"hi\n").respond(b"yo\n")
        with connect(server) as client:
            client.sendall(b"hi\n")
            assert recv_until(client, b"\n") == b"yo\n"
            client.shutdown(socket.SHUT_WR)
            assert recv_all(client) == b""  # the server closes once the client is done
        server.wait_until(lambda s: s.connections and s.connections[0].closed)
    conn = server.connections[0]
    assert kinds(conn) == ["connect", "in", "out", "eof", "close"]
    assert conn.events[0].note.startswith("from 127.0.0.1:")
    assert conn.events[2].note == "rule 1"  # which rule sent it
    _check_consistent(conn)


def test_client_close_is_recorded_as_eof() -> None:
    with sockfix.TCPServer() as server:
        with connect(server):
            server.wait_for_connections(1)
        server.wait_until(lambda s: s.connections and s.connections[0].closed)
    assert kinds(server.connections[0]) == ["connect", "eof", "close"]


def test_client_rst_is_recorded_as_reset_by_peer() -> None:
    with sockfix.TCPServer() as server:
        server.expect(b"hi\n").respond(b"yo\n")
        client = connect(server)
        try:
            client.sendall(b"hi\n")
            assert recv_until(client, b"\n") == b"yo\n"
        finally:
            rst_close(client)
        server.wait_until(lambda s: s.connections and s.connections[0].closed)
    conn = server.connections[0]
    assert kinds(conn) == ["connect", "in", "out", "reset"]
    assert "peer" in conn.events[-1].note
    assert conn.closed


def test_server_close_and_reset_events() -> None:
    with sockfix.TCPServer() as server:
        server.expect(b"close\n").respond(b"bye\n").close()
        server.expect(b"reset\n").respond(b"boom\n").reset()
        with connect(server) as a:
            a.sendall(b"close\n")
            assert recv_all(a) == b"bye\n"
        with connect(server) as b:
            b.sendall(b"reset\n")
            with contextlib.suppress(ConnectionResetError):
                recv_all(b)
        server.wait_until(lambda s: len(s.connections) == 2 and s.connections[1].closed)
    first, second = server.connections
    assert kinds(first) == ["connect", "in", "out", "close"]
    assert kinds(second) == ["connect", "in", "out", "reset"]
    assert second.events[-1].note == "rule 2"
    for conn in (first, second):
        _check_consistent(conn)


def test_connection_peer_is_the_client_address() -> None:
    with sockfix.TCPServer() as server, connect(server) as client:
        conn = server.wait_for_connections(1)[0]
        assert conn.peer == client.getsockname()
        assert conn.number == 1
        assert not conn.closed


def test_server_received_concatenates_in_accept_order() -> None:
    with sockfix.TCPServer(strict=False) as server, connect(server) as a:
        server.wait_for_connections(1)
        with connect(server) as b:
            server.wait_for_connections(2)
            b.sendall(b"from b\n")
            server.wait_until(lambda s: s.connections[1].bytes_received == 7)
            a.sendall(b"from a\n")
            server.wait_until(lambda s: s.connections and s.connections[0].bytes_received == 7)
    assert [c.number for c in server.connections] == [1, 2]
    assert server.connections[0].received == b"from a\n"
    assert server.connections[1].received == b"from b\n"
    assert server.received == b"from a\nfrom b\n"


def test_times_are_monotonic_across_many_events() -> None:
    with sockfix.TCPServer(handler=sockfix.echo()) as server:
        with connect(server) as client:
            for i in range(200):
                client.sendall(b"%d\n" % i)
                recv_until(client, b"\n")
        server.wait_until(lambda s: s.connections and s.connections[0].closed)
    conn = server.connections[0]
    _check_consistent(conn)
    assert len(conn.messages) == 200
    assert kinds(conn)[-2:] == ["eof", "close"]


def test_binary_payload_large_one_direction() -> None:
    blob = os.urandom(3 * 1024 * 1024)
    with sockfix.TCPServer(framing=sockfix.framing.raw(), handler=lambda m: None) as server:
        with connect(server) as client:
            client.sendall(blob)
            client.shutdown(socket.SHUT_WR)
            assert recv_all(client) == b""
        server.wait_until(lambda s: s.connections and s.connections[0].closed)
    conn = server.connections[0]
    assert conn.received == blob
    assert b"".join(conn.messages) == blob
    _check_consistent(conn)


def test_events_are_frozen_with_direction() -> None:
    with sockfix.TCPServer(handler=sockfix.echo()) as server:
        with connect(server) as client:
            client.sendall(b"x\n")
            recv_until(client, b"\n")
        server.wait_until(lambda s: s.connections and s.connections[0].closed)
    events = server.connections[0].events
    assert [e.direction for e in events] == [None, "in", "out", None, None]
    try:
        events[0].kind = "in"  # type: ignore[misc]
    except AttributeError:
        pass
    else:  # pragma: no cover
        raise AssertionError("events must be frozen")


def test_on_event_callback_sees_every_event() -> None:
    seen: list[tuple[int, str]] = []
    with sockfix.TCPServer(
        handler=sockfix.echo(), on_event=lambda c, e: seen.append((c.number, e.kind))
    ) as server:
        with connect(server) as client:
            client.sendall(b"x\n")
            recv_until(client, b"\n")
        server.wait_until(lambda s: s.connections and s.connections[0].closed)
    assert seen == [(1, k) for k in kinds(server.connections[0])]
