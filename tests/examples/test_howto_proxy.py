"""The examples of docs/proxy.md: a recording, fault-injecting proxy in front of a real server.

In these tests a sockfix ``tcp_server`` (or ``RedisServer``) stands in for the real server;
tests/net/test_proxy_upstream.py runs the same proxy in front of a real Redis and a stdlib HTTP
server.
"""

from __future__ import annotations

import socket
import time

import pytest
import redis

import sockfix
from sockfix import faults


def ask(address, request):
    """The client under test: one request, one line back."""
    with socket.create_connection(address, timeout=2) as sock:
        sock.sendall(request)
        with sock.makefile("rb") as replies:
            return replies.readline()


def test_proxy_quick_look(tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")  # stands in for the real server

    with sockfix.TCPProxy(upstream=tcp_server.address) as proxy:
        proxy.fault(faults.Latency(0.05), direction="downstream")
        assert ask(proxy.address, b"GET\n") == b"VALUE 42\n"  # 50 ms late
        proxy.wait_until(lambda p: p.connections[0].upstream.closed)

    conn = proxy.connections[0]
    assert conn.received == b"GET\n"  # what the client sent
    assert conn.sent == b"VALUE 42\n"  # what the client was sent
    assert conn.upstream.sent == tcp_server.connections[0].received


def test_proxy_start_and_stop(tcp_server):
    proxy = sockfix.TCPProxy(upstream=tcp_server.address, seed=1).start()
    try:
        assert proxy.upstream == tcp_server.address
        assert proxy.address == ("127.0.0.1", proxy.port)  # point the client here
    finally:
        proxy.stop()
    proxy.stop()  # idempotent


def test_recording_both_sides(tcp_server):
    tcp_server.on_connect().respond(b"+HELLO\r\n")
    tcp_server.expect(b"PING\r\n").respond(b"+PONG\r\n")
    with sockfix.TCPProxy(upstream=tcp_server.address) as proxy:
        with (
            socket.create_connection(proxy.address, timeout=2) as sock,
            sock.makefile("rb") as replies,
        ):
            assert replies.readline() == b"+HELLO\r\n"
            sock.sendall(b"PING\r\n")
            assert replies.readline() == b"+PONG\r\n"
        proxy.wait_until(lambda p: p.connections[0].upstream.closed)

    conn = proxy.connections[0]  # a sockfix.ProxyConnection
    assert conn.received == b"PING\r\n"  # what the client sent
    assert conn.sent == b"+HELLO\r\n+PONG\r\n"  # what the client was sent
    assert conn.upstream.sent == b"PING\r\n"  # what the real server got
    assert conn.upstream.received == b"+HELLO\r\n+PONG\r\n"  # what it answered
    assert [e.kind for e in conn.events] == ["connect", "out", "in", "out", "eof", "close"]


def test_faults_per_direction(tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")
    with sockfix.TCPProxy(upstream=tcp_server.address, seed=1) as proxy:
        proxy.fault(faults.Latency(0.05), direction="upstream")  # requests arrive late
        proxy.fault(faults.Chunked(1), direction="downstream")  # replies trickle, byte by byte
        proxy.fault(faults.Reset(), connections=[2])  # both ways, on the second connection only

        assert ask(proxy.address, b"GET\n") == b"VALUE 42\n"
        with pytest.raises(ConnectionResetError):
            ask(proxy.address, b"GET\n")
        assert ask(proxy.address, b"GET\n") == b"VALUE 42\n"
        proxy.wait_until(lambda p: all(c.upstream.closed for c in p.connections))

    first = proxy.connections[0]
    assert [e.data for e in first.events if e.kind == "out"] == [bytes([b]) for b in b"VALUE 42\n"]
    assert [e.note for e in first.events if e.kind == "fault"] == [
        "upstream: Latency(0.05): delayed 4 bytes by 0.050000 s",
        "downstream: Chunked(1): 9 bytes as 9 sends",
    ]


def test_a_fault_changes_one_side_only(tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")
    with sockfix.TCPProxy(upstream=tcp_server.address, seed=1) as proxy:
        proxy.fault(faults.Corrupt(1.0), direction="downstream")
        with socket.create_connection(proxy.address, timeout=2) as sock:
            sock.sendall(b"GET\n")
            with sock.makefile("rb") as replies:
                reply = replies.read(9)
        proxy.wait_until(lambda p: p.connections[0].upstream.closed)

    conn = proxy.connections[0]
    assert conn.upstream.received == b"VALUE 42\n"  # the real answer
    assert conn.sent == reply  # what the client got: same length, every byte changed
    assert all(a != b for a, b in zip(reply, b"VALUE 42\n", strict=True))


def test_refused_upstream_resets_the_client():
    with socket.socket() as placeholder:  # find a port with nothing listening on it
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]

    with sockfix.TCPProxy(upstream=("127.0.0.1", port)) as proxy:
        with pytest.raises(ConnectionResetError):
            ask(proxy.address, b"GET\n")
        proxy.wait_until(lambda p: p.connections[0].closed)

    conn = proxy.connections[0]
    assert [e.kind for e in conn.events] == ["connect", "error", "reset"]
    assert "upstream unreachable" in conn.events[1].note


def test_upstream_reset_resets_the_client(tcp_server):
    tcp_server.expect(b"GET\n").reset()  # the real server aborts the connection
    with (
        sockfix.TCPProxy(upstream=tcp_server.address) as proxy,
        pytest.raises(ConnectionResetError),
    ):
        ask(proxy.address, b"GET\n")


def test_upstream_close_passes_every_byte_then_eof(tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\nBYE\n").close()
    with (
        sockfix.TCPProxy(upstream=tcp_server.address) as proxy,
        socket.create_connection(proxy.address, timeout=2) as sock,
        sock.makefile("rb") as replies,
    ):
        sock.sendall(b"GET\n")
        assert replies.read() == b"VALUE 42\nBYE\n"  # read() returns at EOF


def test_survive_a_slow_upstream(tcp_server):
    tcp_server.expect(b"GET\n").respond(b"VALUE 42\n")
    with sockfix.TCPProxy(upstream=tcp_server.address) as proxy:
        proxy.fault(faults.Latency(0.5), direction="downstream")
        with socket.create_connection(proxy.address, timeout=0.1) as sock:
            sock.sendall(b"GET\n")
            with pytest.raises(TimeoutError):
                sock.recv(100)  # slower than the client's 0.1 s timeout

            proxy.clear_faults()  # live: this open connection is fast from its next reply on
            sock.settimeout(2)
            assert sock.recv(100) == b"VALUE 42\n"  # the reply already delayed still comes

            start = time.monotonic()
            sock.sendall(b"GET\n")
            assert sock.recv(100) == b"VALUE 42\n"
            assert time.monotonic() - start < 0.5  # fast again, on the same connection
    assert len(proxy.connections) == 1


def test_record_redis_then_replay_in_any_order(tmp_path):
    real = sockfix.RedisServer()  # stands in for a real redis-server
    real.expect("SET", "greeting", "hello").reply("OK")
    real.expect("GET", "greeting").reply(b"hello")
    real.expect("INCRBY", "hits", "1").reply(1).times(1)  # redis-py's incr() is INCRBY hits 1
    real.expect("INCRBY", "hits", "1").reply(2)

    resp = sockfix.framing.resp()  # one rule per command, not one per RESP line
    with real, sockfix.TCPProxy(upstream=real.address, framing=resp) as proxy:
        with redis.Redis(*proxy.address, socket_timeout=2) as client:
            assert client.set("greeting", "hello") is True
            assert client.get("greeting") == b"hello"
            assert client.incr("hits") == 1
            assert client.incr("hits") == 2
        proxy.wait_until(lambda p: all(c.upstream.closed for c in p.connections))
    path = proxy.save_scenario(tmp_path / "redis.toml")

    # Offline: each command is matched by its bytes, in any order; identical ones in order.
    with sockfix.TCPServer.from_scenario(path) as replay:
        with redis.Redis(*replay.address, socket_timeout=2) as client:
            assert client.incr("hits") == 1
            assert client.get("greeting") == b"hello"
            assert client.incr("hits") == 2
            assert client.set("greeting", "hello") is True
        replay.wait_until(lambda s: all(c.closed for c in s.connections))
