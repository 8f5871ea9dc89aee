"""TCPProxy when the upstream fails (refuses, resets, closes), and in front of real servers."""

from __future__ import annotations

import http.client
import http.server
import selectors
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _nethelp import connect, kinds, recv_all, recv_exactly, rst_close

import sockfix
from sockfix import faults


def _free_port() -> int:
    """A loopback port with nothing listening (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _expect_reset(proxy: sockfix.TCPProxy) -> None:
    """Connect and read: a reset, seen by connect() itself when it comes that fast."""
    with pytest.raises(ConnectionResetError), connect(proxy) as client:
        recv_all(client)


def _both_closed(proxy: sockfix.TCPProxy, n: int = 1) -> None:
    proxy.wait_until(lambda p: len(p.connections) >= n and p.connections[n - 1].upstream.closed)


# -- upstream failures ---------------------------------------------------------------------------


def test_refusing_upstream_resets_the_client() -> None:
    port = _free_port()
    with sockfix.TCPProxy(upstream=("127.0.0.1", port)) as proxy:
        _expect_reset(proxy)
        proxy.wait_until(lambda p: p.connections and p.connections[0].closed)
    conn = proxy.connections[0]
    assert kinds(conn) == ["connect", "error", "reset"]
    error = conn.events[1]
    assert "upstream unreachable" in error.note
    assert "refused" in error.note.lower()
    assert conn.events[2].note == "by proxy"
    assert kinds(conn.upstream) == ["error"]
    assert f"127.0.0.1:{port}" in conn.upstream.events[0].note
    assert conn.received == conn.sent == b""


def test_refusing_upstream_every_connection_and_the_proxy_stays_up() -> None:
    with sockfix.TCPProxy(upstream=("127.0.0.1", _free_port())) as proxy:
        for _ in range(3):
            _expect_reset(proxy)
        proxy.wait_until(lambda p: len(p.connections) == 3 and p.connections[2].closed)
    assert all("error" in kinds(c) for c in proxy.connections)


def test_upstream_that_comes_up_later_is_used_by_new_connections() -> None:
    port = _free_port()
    with sockfix.TCPProxy(upstream=("127.0.0.1", port)) as proxy:
        _expect_reset(proxy)
        with sockfix.TCPServer(port=port) as upstream:
            upstream.expect(b"PING\n").respond(b"PONG\n")
            with connect(proxy) as client:
                client.sendall(b"PING\n")
                assert recv_exactly(client, 5) == b"PONG\n"
    assert proxy.connections[1].sent == b"PONG\n"


def test_upstream_reset_mid_connection_resets_the_client() -> None:
    with sockfix.TCPServer() as upstream:
        upstream.expect(b"PING\n").respond(b"PONG\n")
        upstream.expect(b"BOOM\n").reset()
        with sockfix.TCPProxy(upstream=upstream.address) as proxy:
            with connect(proxy) as client:
                client.sendall(b"PING\n")
                assert recv_exactly(client, 5) == b"PONG\n"
                client.sendall(b"BOOM\n")
                with pytest.raises(ConnectionResetError):
                    recv_all(client)
            _both_closed(proxy)
    conn = proxy.connections[0]
    assert conn.received == b"PING\nBOOM\n"
    assert conn.sent == b"PONG\n"
    assert ("reset", "by peer") in [(e.kind, e.note) for e in conn.upstream.events]
    assert (conn.events[-1].kind, conn.events[-1].note) == ("reset", "by proxy")
    assert upstream.connections[0].received == conn.upstream.sent


def test_upstream_close_gives_the_client_every_byte_then_eof() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB
    with sockfix.TCPServer() as upstream:
        upstream.expect(b"GET\n").respond(body).close()
        with sockfix.TCPProxy(upstream=upstream.address) as proxy:
            with connect(proxy) as client:
                client.sendall(b"GET\n")
                assert recv_all(client) == body
            _both_closed(proxy)
    conn = proxy.connections[0]
    assert conn.sent == conn.upstream.received == body
    up_kinds = kinds(conn.upstream)
    assert up_kinds.index("eof") > max(i for i, k in enumerate(up_kinds) if k == "in")
    assert "reset" not in kinds(conn)


def test_upstream_close_is_a_half_close_the_client_can_still_send() -> None:
    with sockfix.TCPServer(strict=False) as upstream:
        upstream.on_connect().respond(b"bye\n").close()
        with sockfix.TCPProxy(upstream=upstream.address) as proxy:
            with connect(proxy) as client:
                assert recv_all(client) == b"bye\n"
                proxy.wait_until(lambda p: "eof" in kinds(p.connections[0].upstream))
                assert not proxy.connections[0].closed  # the client's side is still open
            _both_closed(proxy)
    assert kinds(proxy.connections[0])[-2:] == ["eof", "close"]


def test_client_reset_resets_the_upstream() -> None:
    with sockfix.TCPServer() as upstream:
        upstream.expect(b"PING\n").respond(b"PONG\n")
        with sockfix.TCPProxy(upstream=upstream.address) as proxy:
            client = connect(proxy)
            client.sendall(b"PING\n")
            assert recv_exactly(client, 5) == b"PONG\n"
            rst_close(client)
            upstream.wait_until(lambda s: s.connections and s.connections[0].closed)
            _both_closed(proxy)
    assert "reset" in kinds(upstream.connections[0])
    assert ("reset", "by peer") in [(e.kind, e.note) for e in proxy.connections[0].events]
    up = proxy.connections[0].upstream
    assert (up.events[-1].kind, up.events[-1].note) == ("reset", "by proxy")


# -- real peers ------------------------------------------------------------------------------------


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello from " + self.path.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_proxy_in_front_of_a_stdlib_http_server(
    http_server: http.server.ThreadingHTTPServer,
) -> None:
    host, port = http_server.server_address[:2]
    with sockfix.TCPProxy(upstream=(str(host), int(port))) as proxy:
        client = http.client.HTTPConnection(proxy.host, proxy.port, timeout=5)
        try:
            client.request("GET", "/hello")
            response = client.getresponse()
            assert response.status == 200
            assert response.read() == b"hello from /hello"
        finally:
            client.close()
        _both_closed(proxy)
    conn = proxy.connections[0]
    assert conn.received.startswith(b"GET /hello HTTP/1.1\r\n")
    assert conn.sent.startswith(b"HTTP/1.0 200 OK\r\n")
    assert conn.sent.endswith(b"\r\n\r\nhello from /hello")
    assert conn.upstream.sent == conn.received
    assert conn.upstream.received == conn.sent


def test_stdlib_http_client_through_a_slow_chunked_proxy(
    http_server: http.server.ThreadingHTTPServer,
) -> None:
    host, port = http_server.server_address[:2]
    with sockfix.TCPProxy(upstream=(str(host), int(port))) as proxy:
        proxy.fault(faults.Chunked(3), direction="downstream")
        client = http.client.HTTPConnection(proxy.host, proxy.port, timeout=5)
        try:
            client.request("GET", "/split")
            assert client.getresponse().read() == b"hello from /split"
        finally:
            client.close()
        _both_closed(proxy)
    outs = [e.data for e in proxy.connections[0].events if e.kind == "out"]
    assert max(len(d) for d in outs) <= 3


@pytest.fixture
def redis_address(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A real redis-server on a free loopback port, killed at teardown."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server not installed: apt-get install redis-server")
    port = _free_port()
    cmd = [
        exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", str(tmp_path), "--daemonize", "no", "--loglevel", "notice",
    ]  # fmt: skip
    # bufsize=0: readline() must not pull lines past the marker into a buffer select() ignores
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0) as proc:
        try:
            _wait_for_line(proc, b"Ready to accept connections", timeout=20)
            yield ("127.0.0.1", port)
        finally:
            proc.kill()
            proc.wait(10)


def _wait_for_line(proc: subprocess.Popen[bytes], marker: bytes, timeout: float) -> None:
    """Read the process output until a line contains ``marker`` (bounded in time and lines)."""
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        for _ in range(10_000):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                break
            line = proc.stdout.readline()
            if not line:
                break
            seen += line
            if marker in line:
                return
    raise AssertionError(f"redis-server did not get ready: {seen[-2000:]!r}")


def _resp(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def test_proxy_in_front_of_a_real_redis(redis_address: tuple[str, int]) -> None:
    with sockfix.TCPProxy(upstream=redis_address) as proxy:
        with connect(proxy) as client:
            client.sendall(b"*1\r\n$4\r\nPING\r\n")
            assert recv_exactly(client, 7) == b"+PONG\r\n"
            client.sendall(_resp(b"SET", b"sockfix", b"v1"))
            assert recv_exactly(client, 5) == b"+OK\r\n"
            client.sendall(_resp(b"GET", b"sockfix"))
            assert recv_exactly(client, 8) == b"$2\r\nv1\r\n"
        _both_closed(proxy)
    conn = proxy.connections[0]
    assert conn.received == (
        b"*1\r\n$4\r\nPING\r\n" + _resp(b"SET", b"sockfix", b"v1") + _resp(b"GET", b"sockfix")
    )
    assert conn.sent == b"+PONG\r\n+OK\r\n$2\r\nv1\r\n"
    assert conn.upstream.sent == conn.received
    assert conn.upstream.received == conn.sent


def test_real_redis_behind_upstream_latency_and_one_byte_replies(
    redis_address: tuple[str, int],
) -> None:
    with sockfix.TCPProxy(upstream=redis_address) as proxy:
        proxy.fault(faults.Latency(0.05), direction="upstream")
        proxy.fault(faults.Chunked(1), direction="downstream")
        with connect(proxy) as client:
            t0 = time.monotonic()
            client.sendall(b"*1\r\n$4\r\nPING\r\n")
            assert recv_exactly(client, 7) == b"+PONG\r\n"
            assert time.monotonic() - t0 >= 0.05
        _both_closed(proxy)
    outs = [e.data for e in proxy.connections[0].events if e.kind == "out"]
    assert outs == [bytes([b]) for b in b"+PONG\r\n"]
