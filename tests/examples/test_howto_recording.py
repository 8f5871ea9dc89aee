"""The examples of docs/recording.md: connections, events, waiting, transcripts."""

from __future__ import annotations

import asyncio
import itertools
import socket

import pytest

import sockfix


def test_connection_record(tcp_server):
    tcp_server.on_connect().respond(b"220 ready\r\n")
    tcp_server.expect(b"PING\r\n").respond(b"+PONG\r\n")
    tcp_server.expect(b"QUIT\r\n").respond(b"BYE\r\n").close()

    with (
        socket.create_connection(tcp_server.address, timeout=2) as sock,
        sock.makefile("rb") as replies,
    ):
        assert replies.readline() == b"220 ready\r\n"
        sock.sendall(b"PI")
        sock.sendall(b"NG\r\nQU")
        sock.sendall(b"IT\r\n")
        assert replies.read() == b"+PONG\r\nBYE\r\n"  # read until the server closes
    tcp_server.wait_until(lambda s: s.connections[0].closed)

    conn = tcp_server.connections[0]
    assert conn.number == 1
    assert conn.peer[0] == "127.0.0.1"
    assert conn.received == b"PING\r\nQUIT\r\n"  # exactly what crossed the socket
    assert conn.sent == b"220 ready\r\n+PONG\r\nBYE\r\n"
    assert conn.messages == [b"PING\r\n", b"QUIT\r\n"]  # cut by the framing
    assert (conn.bytes_received, conn.bytes_sent) == (12, 23)
    assert conn.closed
    assert b"".join(e.data for e in conn.events if e.kind == "in") == conn.received
    kinds = [e.kind for e in conn.events if e.kind != "in"]  # one "in" per read: 1 to 3 here
    assert kinds == ["connect", "out", "out", "out", "close"]


def test_events():
    with sockfix.TCPServer() as server:
        server.expect(b"BYE\n").respond(b"bye\n").close()
        with socket.create_connection(server.address, timeout=2) as sock:
            sock.sendall(b"BYE\n")
            assert sock.recv(100) == b"bye\n"
        server.wait_until(lambda s: s.connections[0].closed)

    events = server.connections[0].events
    assert [(e.kind, e.data, e.note) for e in events[1:]] == [
        ("in", b"BYE\n", ""),
        ("out", b"bye\n", "rule 1"),
        ("close", b"", "rule 1"),
    ]
    assert events[0].kind == "connect"
    assert all(a.time <= b.time for a, b in itertools.pairwise(events))
    assert events[1].direction == "in"
    assert events[0].direction is None


def test_server_received():
    with sockfix.TCPServer(strict=False) as server:
        for word in (b"one\n", b"two\n"):
            with socket.create_connection(server.address, timeout=2) as sock:
                sock.sendall(word)
            server.wait_until(lambda s, n=word: s.received.endswith(n))
    assert server.received == b"one\ntwo\n"  # all connections, in accept order


def test_waiting(tcp_server):
    clients = [socket.create_connection(tcp_server.address, timeout=2) for _ in range(3)]
    try:
        conns = tcp_server.wait_for_connections(3, timeout=5.0)
        assert [c.number for c in conns] == [1, 2, 3]
        with pytest.raises(TimeoutError, match=r"timed out after 0\.1 s"):
            tcp_server.wait_until(lambda s: len(s.connections) > 3, timeout=0.1)
    finally:
        for client in clients:
            client.close()
    tcp_server.wait_until(lambda s: all(c.closed for c in s.connections))


def test_waiting_async(tcp_server):
    tcp_server.expect(b"PING\n").respond(b"PONG\n")

    async def client() -> bytes:
        reader, writer = await asyncio.open_connection(*tcp_server.address)
        writer.write(b"PING\n")
        await tcp_server.wait_for_connections_async(1)
        reply = await reader.readline()
        writer.close()
        await writer.wait_closed()
        await tcp_server.wait_until_async(lambda s: s.connections[0].closed)
        return reply

    assert asyncio.run(client()) == b"PONG\n"


def test_transcript():
    with sockfix.TCPServer() as server:
        server.expect(b"PING\r\n").respond(b"+PONG\r\n")
        with socket.create_connection(server.address, timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            assert sock.recv(100) == b"+PONG\r\n"
        server.wait_until(lambda s: s.connections[0].closed)
        text = server.transcript()
    assert "expect(b'PING\\r\\n').respond(b'+PONG\\r\\n')  [used 1]" in text
    assert "<< in      6 B  PING\\r\\n" in text
    assert "00000000  50 49 4e 47 0d 0a" in text


def test_nothing_is_lost():
    payload = bytes(200_000)
    with sockfix.TCPServer(strict=False) as server:
        with socket.create_connection(server.address, timeout=2) as sock:
            sock.sendall(payload)
        server.wait_until(lambda s: s.connections and s.connections[0].closed)
    assert server.connections[0].received == payload  # every byte is kept
    text = server.transcript(limit=1024)  # only the text is cut
    assert "the recording keeps them all" in text
