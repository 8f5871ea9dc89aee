"""TCPProxy: where it listens, start/stop, prompt stop with hung peers, exact recording."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from _nethelp import connect, kinds, recv_all, recv_exactly, recv_until

import sockfix

LIMIT = 0.5  # stop(): the contract says well under 50 ms; this bound only catches a hang


def _sockfix_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sockfix")]


def _proxy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sockfix TCPProxy")]


def _timed_stop(peer: sockfix.TCPProxy | sockfix.TCPServer) -> float:
    t0 = time.perf_counter()
    peer.stop()
    return time.perf_counter() - t0


def _sees_end(client: socket.socket, within: float = 5.0) -> bytes:
    """Read until EOF or a reset; returns what was read (bounded in time and count)."""
    client.settimeout(2.0)
    deadline = time.monotonic() + within
    out = bytearray()
    try:
        for _ in range(100_000):
            chunk = client.recv(1 << 20)
            if not chunk:
                return bytes(out)
            out += chunk
            if time.monotonic() > deadline:
                break
    except (ConnectionResetError, BrokenPipeError):
        return bytes(out)
    raise AssertionError(f"no EOF or reset within {within} s ({len(out)} bytes read)")


@pytest.fixture
def redis_like() -> Iterator[sockfix.TCPServer]:
    """A strict upstream that greets and answers a few commands."""
    with sockfix.TCPServer() as server:
        server.on_connect().respond(b"+HELLO\r\n")
        server.expect(b"PING\r\n").respond(b"+PONG\r\n")
        server.expect(b"GET k\r\n").respond(b"$1\r\nv\r\n")
        yield server


# -- where it listens, start and stop --------------------------------------------------------


def test_address_and_upstream(redis_like: sockfix.TCPServer) -> None:
    proxy = sockfix.TCPProxy(upstream=redis_like.address)
    assert proxy.upstream == redis_like.address
    with pytest.raises(RuntimeError, match="not started"):
        _ = proxy.address
    assert proxy.start() is proxy
    try:
        assert proxy.host == "127.0.0.1"
        assert proxy.address == ("127.0.0.1", proxy.port)
        assert proxy.port not in (0, redis_like.port)
        assert proxy.connections == []
    finally:
        proxy.stop()
    proxy.stop()  # idempotent
    with pytest.raises(RuntimeError, match="already"):
        proxy.start()


def test_with_block_round_trip(redis_like: sockfix.TCPServer) -> None:
    with sockfix.TCPProxy(upstream=redis_like.address) as proxy, connect(proxy) as client:
        assert recv_exactly(client, 8) == b"+HELLO\r\n"
        client.sendall(b"PING\r\n")
        assert recv_exactly(client, 7) == b"+PONG\r\n"
    assert not _proxy_threads()
    assert proxy.connections[0].closed


def test_upstream_may_be_a_list() -> None:
    proxy = sockfix.TCPProxy(upstream=["127.0.0.1", 9])  # type: ignore[arg-type]
    assert proxy.upstream == ("127.0.0.1", 9)
    proxy.stop()  # never started: a no-op


@pytest.mark.parametrize(
    ("upstream", "error"),
    [
        ("127.0.0.1:6379", TypeError),
        (("127.0.0.1",), TypeError),
        ((6379, "127.0.0.1"), TypeError),
        (("127.0.0.1", 70000), ValueError),
        (("127.0.0.1", "6379"), ValueError),
    ],
)
def test_bad_upstream_fails_at_the_constructor(upstream: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"upstream|host|port"):
        sockfix.TCPProxy(upstream=upstream)  # type: ignore[arg-type]


def test_strict_is_not_an_option() -> None:
    with pytest.raises(TypeError):
        sockfix.TCPProxy(upstream=("127.0.0.1", 9), strict=True)  # type: ignore[call-arg]
    proxy = sockfix.TCPProxy(upstream=("127.0.0.1", 9), seed=5)
    assert proxy.strict is False
    assert proxy.seed == 5


def test_save_scenario_exists() -> None:
    proxy = sockfix.TCPProxy(upstream=("127.0.0.1", 9))
    assert callable(proxy.save_scenario)


# -- stop() with hung peers on either side ---------------------------------------------------


def test_stop_with_a_client_that_never_sends(redis_like: sockfix.TCPServer) -> None:
    proxy = sockfix.TCPProxy(upstream=redis_like.address).start()
    try:
        with connect(proxy) as client:
            assert recv_exactly(client, 8) == b"+HELLO\r\n"
            proxy.wait_until(
                lambda p: p.connections and p.connections[0].upstream.bytes_received == 8
            )
            assert _timed_stop(proxy) < LIMIT
            assert _sees_end(client) == b""
    finally:
        proxy.stop()
    conn = proxy.connections[0]
    assert conn.closed
    assert conn.upstream.closed
    assert conn.events[-1].kind == "close"
    assert conn.events[-1].note == "proxy stopped"
    assert conn.upstream.events[-1].kind == "close"
    redis_like.wait_until(lambda s: s.connections and s.connections[0].closed)
    assert kinds(redis_like.connections[0])[-2:] == ["eof", "close"]
    assert not _proxy_threads()


def test_stop_with_a_hung_upstream() -> None:
    with sockfix.TCPServer() as upstream:
        upstream.expect(b"STALL\n").hang()
        proxy = sockfix.TCPProxy(upstream=upstream.address).start()
        try:
            with connect(proxy) as client:
                client.sendall(b"STALL\n")
                upstream.wait_until(lambda s: s.connections and s.connections[0].messages)
                assert _timed_stop(proxy) < LIMIT
                assert _sees_end(client) == b""
        finally:
            proxy.stop()
        upstream.wait_until(lambda s: s.connections and s.connections[0].closed)
    assert proxy.connections[0].received == b"STALL\n"
    assert proxy.connections[0].upstream.sent == b"STALL\n"
    assert proxy.connections[0].sent == b""


def test_stop_while_the_upstream_floods_a_client_that_does_not_read() -> None:
    size = 32 << 20
    with sockfix.TCPServer(strict=False) as upstream:
        upstream.expect(b"FLOOD\n").respond(b"x" * size)
        proxy = sockfix.TCPProxy(upstream=upstream.address).start()
        try:
            with connect(proxy) as client:
                client.sendall(b"FLOOD\n")
                proxy.wait_until(
                    lambda p: p.connections and p.connections[0].upstream.bytes_received >= 1 << 20
                )
                conn = proxy.connections[0]
                assert conn.bytes_sent < size  # the client reads nothing: the proxy is stuck
                assert _timed_stop(proxy) < LIMIT
                got = _sees_end(client)
        finally:
            proxy.stop()
        assert _timed_stop(upstream) < LIMIT
    assert got == conn.sent  # what the proxy sent before stopping, all of it, nothing more
    assert got == b"x" * len(got)
    assert conn.upstream.received == b"x" * conn.upstream.bytes_received
    assert "reset" not in kinds(conn)  # stopping is not the client's doing


def test_stop_while_a_client_keeps_sending() -> None:
    with sockfix.TCPServer(framing=sockfix.framing.raw(), strict=False) as upstream:
        upstream.expect(sockfix.ANY).hang()
        proxy = sockfix.TCPProxy(upstream=upstream.address).start()
        stop_sending = threading.Event()
        errors: list[BaseException] = []

        def send_forever(sock: socket.socket) -> None:
            block = b"y" * 65536
            for _ in range(100_000):
                if stop_sending.is_set():
                    return
                try:
                    sock.sendall(block)
                except OSError as exc:
                    errors.append(exc)
                    return

        try:
            with connect(proxy) as client:
                sender = threading.Thread(target=send_forever, args=(client,))
                sender.start()
                try:
                    proxy.wait_until(
                        lambda p: p.connections and p.connections[0].bytes_received >= 1 << 20
                    )
                    assert _timed_stop(proxy) < LIMIT
                finally:
                    stop_sending.set()
                    sender.join(10)
                assert not sender.is_alive()
        finally:
            proxy.stop()
    conn = proxy.connections[0]
    assert conn.received == b"y" * conn.bytes_received
    # What the proxy passed on is a prefix of what it read, and the upstream got a prefix of that.
    assert conn.received.startswith(conn.upstream.sent)
    assert conn.upstream.sent.startswith(upstream.connections[0].received)


def test_stop_with_many_clients_and_both_sides_hung() -> None:
    with sockfix.TCPServer(strict=False) as upstream:
        upstream.expect(b"STALL\n").hang()
        proxy = sockfix.TCPProxy(upstream=upstream.address).start()
        clients = [connect(proxy) for _ in range(8)]
        try:
            for c in clients[::2]:
                c.sendall(b"STALL\n")
            proxy.wait_until(lambda p: sum(len(c.upstream.sent) for c in p.connections) == 24)
            upstream.wait_for_connections(8)
            assert _timed_stop(proxy) < LIMIT
            assert all(_sees_end(c) == b"" for c in clients)
        finally:
            for c in clients:
                c.close()
            proxy.stop()
    assert len(proxy.connections) == 8
    assert all(c.closed and c.upstream.closed for c in proxy.connections)
    assert not _sockfix_threads()


def test_stop_before_any_client_and_repeatedly() -> None:
    proxy = sockfix.TCPProxy(upstream=("127.0.0.1", 9)).start()
    assert _timed_stop(proxy) < LIMIT
    assert _timed_stop(proxy) < LIMIT
    assert not _sockfix_threads()


def test_connecting_after_stop_is_refused() -> None:
    proxy = sockfix.TCPProxy(upstream=("127.0.0.1", 9)).start()
    address = proxy.address
    proxy.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=2).close()


# -- exact recording, both ways ----------------------------------------------------------------


def test_recording_matches_both_peers(redis_like: sockfix.TCPServer) -> None:
    with sockfix.TCPProxy(upstream=redis_like.address) as proxy:
        with connect(proxy) as client:
            read = recv_exactly(client, 8)
            client.sendall(b"PI")
            client.sendall(b"NG\r\nGET k\r\n")
            read += recv_exactly(client, 7 + 7)
            client.sendall(b"PING\r\n")
            read += recv_exactly(client, 7)
            mine = client.getsockname()
            client.shutdown(socket.SHUT_WR)
            read += recv_all(client)
        proxy.wait_until(lambda p: p.connections and p.connections[0].upstream.closed)
    assert read == b"+HELLO\r\n+PONG\r\n$1\r\nv\r\n+PONG\r\n"
    conn = proxy.connections[0]
    assert conn.received == b"PING\r\nGET k\r\nPING\r\n"  # what the client sent
    assert conn.sent == read  # what the client read
    assert conn.upstream.sent == conn.received  # no faults: passed on as is
    assert conn.upstream.received == conn.sent
    real = redis_like.connections[0]
    assert conn.upstream.sent == real.received  # the upstream server's own recording
    assert conn.upstream.received == real.sent
    assert conn.peer == (mine[0], mine[1])
    assert conn.upstream.peer == redis_like.address
    assert conn.number == conn.upstream.number == 1


def test_events_have_kinds_data_and_time(redis_like: sockfix.TCPServer) -> None:
    t0 = time.perf_counter()
    with sockfix.TCPProxy(upstream=redis_like.address) as proxy:
        with connect(proxy) as client:
            recv_exactly(client, 8)
            client.sendall(b"PING\r\n")
            recv_exactly(client, 7)
            client.shutdown(socket.SHUT_WR)
            assert recv_all(client) == b""
        proxy.wait_until(lambda p: p.connections and p.connections[0].upstream.closed)
    elapsed = time.perf_counter() - t0
    conn = proxy.connections[0]
    assert kinds(conn) == ["connect", "out", "in", "out", "eof", "close"]
    assert kinds(conn.upstream) == ["connect", "in", "out", "in", "eof", "close"]
    for c in (conn, conn.upstream):
        times = [e.time for e in c.events]
        assert times == sorted(times)
        assert times[0] >= 0
        assert times[-1] <= elapsed
        assert all(isinstance(e, sockfix.Event) for e in c.events)
        assert b"".join(e.data for e in c.events if e.kind == "in") == c.received
        assert b"".join(e.data for e in c.events if e.kind == "out") == c.sent
        assert all(e.data == b"" for e in c.events if e.kind not in ("in", "out"))
    assert conn.events[0].note.startswith("from 127.0.0.1:")
    assert conn.upstream.events[0].note == f"to 127.0.0.1:{redis_like.port}"
    # The reply reached the client after the upstream sent it, the request went the other way.
    up_in = [e for e in conn.upstream.events if e.kind == "in"]
    out = [e for e in conn.events if e.kind == "out"]
    assert all(a.time <= b.time for a, b in zip(up_in, out, strict=True))


def test_connections_in_accept_order_each_recorded_apart() -> None:
    with (
        sockfix.TCPServer(handler=sockfix.echo(bytes.upper)) as upstream,
        sockfix.TCPProxy(upstream=upstream.address) as proxy,
    ):
        clients = []
        try:
            for i in range(5):
                clients.append(connect(proxy))
                proxy.wait_for_connections(i + 1)
            for i, c in reversed(list(enumerate(clients))):
                c.sendall(b"hello %d\n" % i)
                assert recv_until(c, b"\n") == b"HELLO %d\n" % i
        finally:
            for c in clients:
                c.close()
        proxy.wait_until(lambda p: all(c.closed for c in p.connections))
    assert [c.number for c in proxy.connections] == [1, 2, 3, 4, 5]
    for i, conn in enumerate(proxy.connections):
        assert conn.received == conn.upstream.sent == b"hello %d\n" % i
        assert conn.sent == conn.upstream.received == b"HELLO %d\n" % i
    assert proxy.received == b"".join(b"hello %d\n" % i for i in range(5))


def test_large_transfer_both_ways_is_exact() -> None:
    size = 8 << 20
    payload = random.Random(8).randbytes(size)
    with (
        sockfix.TCPServer(
            framing=sockfix.framing.raw(), handler=sockfix.echo(), strict=False
        ) as upstream,
        sockfix.TCPProxy(upstream=upstream.address) as proxy,
        connect(proxy, timeout=30) as client,
    ):
        errors: list[BaseException] = []

        def send_all() -> None:
            try:
                view = memoryview(payload)
                for i in range(0, size, 1 << 16):
                    client.sendall(view[i : i + (1 << 16)])
                client.shutdown(socket.SHUT_WR)
            except OSError as exc:  # pragma: no cover - shown by the assertion below
                errors.append(exc)

        sender = threading.Thread(target=send_all)
        sender.start()
        try:
            echoed = recv_exactly(client, size, timeout=60)
            assert recv_all(client) == b""  # the upstream closed after our EOF
        finally:
            sender.join(60)
        assert not errors
        proxy.wait_until(lambda p: p.connections and p.connections[0].closed, timeout=10)
    assert echoed == payload
    conn = proxy.connections[0]
    assert conn.received == payload
    assert conn.sent == payload
    assert conn.upstream.sent == payload
    assert conn.upstream.received == payload
    assert upstream.connections[0].received == payload
    assert upstream.connections[0].sent == payload


def test_client_half_close_reaches_the_upstream(redis_like: sockfix.TCPServer) -> None:
    with sockfix.TCPProxy(upstream=redis_like.address) as proxy, connect(proxy) as client:
        client.sendall(b"PING\r\n")
        client.shutdown(socket.SHUT_WR)
        assert recv_all(client) == b"+HELLO\r\n+PONG\r\n"
        redis_like.wait_until(lambda s: s.connections and s.connections[0].closed)
    assert kinds(redis_like.connections[0])[-2:] == ["eof", "close"]
    assert "eof" in kinds(proxy.connections[0])


def test_repr_and_transcript_name_the_upstream(redis_like: sockfix.TCPServer) -> None:
    with sockfix.TCPProxy(upstream=redis_like.address, seed=3) as proxy, connect(proxy) as client:
        recv_exactly(client, 8)
        client.sendall(b"PING\r\n")
        recv_exactly(client, 7)
    assert "TCPProxy" in repr(proxy)
    text = proxy.transcript()
    assert f"upstream 127.0.0.1:{redis_like.port}" in text
    assert "seed=3" in text
    assert "PING" in text


def test_on_event_sees_both_sides(redis_like: sockfix.TCPServer) -> None:
    seen: list[tuple[int, str]] = []
    lock = threading.Lock()

    def listen(conn: sockfix.Connection, event: sockfix.Event) -> None:
        with lock:
            seen.append((id(conn), event.kind))

    with sockfix.TCPProxy(upstream=redis_like.address, on_event=listen) as proxy:
        with connect(proxy) as client:
            recv_exactly(client, 8)
        proxy.wait_until(lambda p: p.connections and p.connections[0].upstream.closed)
    conn = proxy.connections[0]
    assert (id(conn), "connect") in seen
    assert (id(conn.upstream), "connect") in seen
