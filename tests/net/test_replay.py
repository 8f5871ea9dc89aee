"""Record -> replay: TCPProxy.save_scenario, then TCPServer.from_scenario serves the same bytes.

And scenario files served over real sockets: every key does on the wire what the rule builder
does in code.
"""

from __future__ import annotations

import http.client
import http.server
import socket
import socketserver
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from _nethelp import connect, recv_all, recv_exactly, recv_until

import sockfix
from sockfix.framing import fixed, length_prefixed

Client = Callable[[tuple[str, int]], None]


def all_closed(peer: sockfix.TCPServer | sockfix.TCPProxy) -> bool:
    return all(c.closed for c in peer.connections)


def record(upstream: tuple[str, int], client: Client, path: Path, **options) -> sockfix.TCPProxy:
    """Run ``client`` through a proxy in front of ``upstream``; save what it saw to ``path``."""
    with sockfix.TCPProxy(upstream=upstream, **options) as proxy:
        client(proxy.address)
        proxy.wait_until(all_closed)
    proxy.save_scenario(path)
    return proxy


def replay(path: Path, client: Client) -> sockfix.TCPServer:
    """Run ``client`` against the scenario at ``path`` (strict: raises on any difference)."""
    with sockfix.TCPServer.from_scenario(path) as server:
        client(server.address)
        server.wait_until(all_closed)
    return server


def assert_same_traffic(proxy: sockfix.TCPProxy, server: sockfix.TCPServer) -> None:
    assert len(server.connections) == len(proxy.connections)
    for recorded, replayed in zip(proxy.connections, server.connections, strict=True):
        assert replayed.received == recorded.received
        assert replayed.sent == recorded.sent


# ----------------------------------------------------------------------------- real upstreams


class _Upper(socketserver.StreamRequestHandler):
    """The classic socketserver example: answer each line upper-cased."""

    def handle(self) -> None:
        for line in self.rfile:
            self.wfile.write(line.upper())


@contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[tuple[str, int]]:
    thread = threading.Thread(target=server.serve_forever, name="stdlib upstream")
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield (str(host), int(port))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def upper_server() -> socketserver.ThreadingTCPServer:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Upper)
    server.daemon_threads = True
    return server


def lockstep(*conversations: list[bytes]) -> Client:
    """A client: one connection per conversation, each line sent after the last reply came."""

    def run(address: tuple[str, int]) -> None:
        for lines in conversations:
            with socket.create_connection(address, timeout=5) as sock:
                for line in lines:
                    sock.sendall(line)
                    recv_until(sock, b"\n")

    return run


def test_replay_of_a_socketserver_upstream(tmp_path):
    path = tmp_path / "upper.toml"
    client = lockstep([b"hello\n", b"hello\n", b"sockfix\n"], [b"again\n"])
    with serving(upper_server()) as upstream:
        proxy = record(upstream, client, path)
    assert proxy.connections[0].sent == b"HELLO\nHELLO\nSOCKFIX\n"
    text = path.read_text()
    assert text.count("[[rules]]") == 4
    assert 'expect = "hello\\n"\nrespond = "HELLO\\n"\ntimes = 1' in text
    assert "on_connect" not in text  # the server never spoke first
    server = replay(path, client)  # upstream gone: the scenario answers offline
    assert_same_traffic(proxy, server)


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello from {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def http_get(*paths: str) -> Client:
    """http.client GETs, one connection each. The Host header is fixed: with the default one
    the port would be part of the request, and the replay listens on another port."""

    def run(address: tuple[str, int]) -> None:
        for path in paths:
            conn = http.client.HTTPConnection(*address, timeout=5)
            try:
                conn.request("GET", path, headers={"Host": "example.test"})
                response = conn.getresponse()
                assert response.status == 200
                assert response.read() == f"hello from {path}\n".encode()
            finally:
                conn.close()

    return run


def test_replay_of_an_http_server_upstream(tmp_path):
    path = tmp_path / "http.toml"
    upstream_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    upstream_server.daemon_threads = True
    client = http_get("/a", "/b")
    with serving(upstream_server) as upstream:
        proxy = record(upstream, client, path)
    text = path.read_text()
    assert 'expect = "GET /a HTTP/1.1\\r\\n"' in text
    assert "close = true" in text  # HTTP/1.0: the server closed after answering
    server = replay(path, client)
    assert_same_traffic(proxy, server)
    assert server.connections[0].sent.startswith(b"HTTP/1.0 200 OK\r\n")


def keep_alive_client(address: tuple[str, int]) -> None:
    """http.client on one keep-alive connection: a GET, a POST with a body, a GET again."""
    conn = http.client.HTTPConnection(*address, timeout=5)
    try:
        for method, path, body in (
            ("GET", "/a", None),
            ("POST", "/b", b"x=1"),
            ("GET", "/a", None),
        ):
            conn.request(method, path, body=body, headers={"Host": "example.test"})
            response = conn.getresponse()
            assert response.status == 200
            assert response.read() == f"{method} {path}".encode()
    finally:
        conn.close()


def test_replay_of_http_with_the_http_framing_is_one_rule_per_request(tmp_path):
    path = tmp_path / "http.toml"
    with sockfix.HTTPServer() as upstream:
        upstream.expect("GET", "/a").respond(200, text="GET /a")
        upstream.expect("POST", "/b", body=b"x=1").respond(200, text="POST /b")
        proxy = record(upstream.address, keep_alive_client, path, framing=sockfix.framing.http())
    text = path.read_text()
    assert 'framing = "http"' in text
    assert text.count("[[rules]]") == 3  # one per request, not one per header line
    assert 'expect = "POST /b HTTP/1.1\\r\\n' in text
    assert 'Host: example.test\\r\\n\\r\\nx=1"' in text  # the body is in its request
    server = replay(path, keep_alive_client)
    assert_same_traffic(proxy, server)
    assert len(server.connections) == 1
    assert [len(c.messages) for c in server.connections] == [3]


# ----------------------------------------------------------------------------- sockfix upstream


def redis_like() -> sockfix.TCPServer:
    upstream = sockfix.TCPServer()
    upstream.on_connect().respond(b"220 ready\r\n")
    upstream.expect(b"PING\r\n").respond(b"+PONG\r\n")
    upstream.expect(b"INCR\r\n").respond(b":1\r\n").times(1)
    upstream.expect(b"INCR\r\n").respond(b":2\r\n")
    upstream.expect(b"BIN\r\n").respond(b"\x00\xff\x1b\r\n")
    upstream.expect(b"QUIT\r\n").respond(b"+BYE\r\n").close()
    return upstream


def redis_client(*conversations: list[bytes]) -> Client:
    def run(address: tuple[str, int]) -> None:
        for requests in conversations:
            with socket.create_connection(address, timeout=5) as sock:
                assert recv_until(sock, b"\r\n") == b"220 ready\r\n"
                for request in requests:
                    sock.sendall(request)
                    if request == b"QUIT\r\n":
                        recv_all(sock)
                    else:
                        recv_until(sock, b"\r\n")

    return run


def test_replay_of_a_scripted_upstream(tmp_path):
    path = tmp_path / "redis.toml"
    client = redis_client(
        [b"PING\r\n", b"INCR\r\n", b"INCR\r\n", b"BIN\r\n", b"QUIT\r\n"],
        [b"INCR\r\n", b"PING\r\n"],
    )
    with redis_like() as upstream:
        proxy = record(upstream.address, client, path)
    text = path.read_text()
    assert text.count("on_connect = true") == 2  # one greeting per connection
    assert 'respond_hex = "00ff1b0d0a"' in text
    server = replay(path, client)
    assert_same_traffic(proxy, server)
    assert server.connections[0].sent.endswith(b":1\r\n:2\r\n\x00\xff\x1b\r\n+BYE\r\n")
    assert server.connections[1].sent == b"220 ready\r\n:2\r\n+PONG\r\n"  # INCR said 2 again


def test_replay_of_a_binary_protocol(tmp_path):
    path = tmp_path / "binary.toml"

    def frame(payload: bytes) -> bytes:
        return struct.pack("!H", len(payload)) + payload

    def client(address: tuple[str, int]) -> None:
        with socket.create_connection(address, timeout=5) as sock:
            for payload in (b"\x00\x01", b"\n\n", b"\xff" * 3):
                sock.sendall(frame(payload))
                recv_exactly(sock, 2 + len(payload) * 2)

    with sockfix.TCPServer(framing=length_prefixed("!H")) as upstream:
        upstream.expect(sockfix.ANY).respond(lambda m: frame(m[2:] * 2))
        proxy = record(upstream.address, client, path, framing=length_prefixed("!H"))
    scenario_text = path.read_text()
    assert 'framing = "length_prefixed:!H"' in scenario_text
    assert scenario_text.count("expect_hex") == 3
    server = replay(path, client)
    assert_same_traffic(proxy, server)
    assert server.connections[0].messages == [
        frame(b"\x00\x01"),
        frame(b"\n\n"),
        frame(b"\xff" * 3),
    ]


def test_a_different_client_run_fails_the_replay(tmp_path):
    path = tmp_path / "redis.toml"
    with redis_like() as upstream:
        record(upstream.address, redis_client([b"PING\r\n", b"INCR\r\n"]), path)
    with (  # noqa: PT012 - the error comes from the server's exit
        pytest.raises(sockfix.StrictError) as info,
        sockfix.TCPServer.from_scenario(path) as server,
    ):
        with connect(server) as sock:
            recv_until(sock, b"\r\n")
            sock.sendall(b"PING\r\n")
            recv_until(sock, b"+PONG\r\n")
            sock.sendall(b"DEL\r\n")  # never recorded (and INCR never sent)
        server.wait_until(all_closed)
    text = str(info.value)
    assert "no rule matched message 2: b'DEL\\r\\n'" in text
    assert "expect(b'INCR\\r\\n').respond(b':1\\r\\n').times(1)" in text  # never used


def test_an_unreachable_upstream_replays_as_a_reset(tmp_path):
    path = tmp_path / "down.toml"
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        down = probe.getsockname()[1]

    def client(address: tuple[str, int]) -> None:
        with (  # the reset may come at connect or at the first read
            pytest.raises(ConnectionResetError),
            socket.create_connection(address, timeout=5) as sock,
        ):
            recv_all(sock)

    proxy = record(("127.0.0.1", down), client, path)
    assert "on_connect = true\ntimes = 1\nreset = true" in path.read_text()
    server = replay(path, client)
    assert_same_traffic(proxy, server)


def test_saving_a_framing_written_as_code_fails(tmp_path):
    def tlv(buffer: bytes) -> int | None:
        return 1 if buffer else None

    with sockfix.TCPProxy(upstream=("127.0.0.1", 9), framing=tlv) as proxy:
        pass
    with pytest.raises(sockfix.ScenarioError, match="cannot be written to a scenario file"):
        proxy.save_scenario(tmp_path / "x.toml")
    assert not (tmp_path / "x.toml").exists()


# ----------------------------------------------------------------------------- from_scenario


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_from_scenario_returns_a_configured_server_not_yet_started(tmp_path):
    path = write(tmp_path, 'framing = "fixed:4"\nseed = 7\nstrict = false\nport = 1\n')
    server = sockfix.TCPServer.from_scenario(path, port=0)
    assert repr(server.framing) == "fixed(4)"
    assert (server.seed, server.strict) == (7, False)
    with pytest.raises(RuntimeError, match="not started"):
        server.port  # noqa: B018
    with server:
        assert server.port != 1  # port=0 won over the file's port
        with connect(server) as sock:
            sock.sendall(b"abcdefgh")
        server.wait_until(lambda s: len(s.connections[0].messages) == 2)
    assert server.connections[0].messages == [b"abcd", b"efgh"]


def test_overrides_win_over_the_file(tmp_path):
    path = write(tmp_path, 'framing = "fixed:4"\nseed = 7\nstrict = false\nhost = "::1"\n')
    server = sockfix.TCPServer.from_scenario(
        path, framing=fixed(2), seed=8, strict=True, host="127.0.0.1"
    )
    assert (repr(server.framing), server.seed, server.strict, server.host) == (
        "fixed(2)",
        8,
        True,
        "127.0.0.1",
    )


def test_the_file_host_and_port_are_used(tmp_path):
    with socket.socket() as probe:  # a port that is free right now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = write(tmp_path, f'host = "127.0.0.1"\nport = {port}\n')
    with sockfix.TCPServer.from_scenario(path) as server:
        assert server.address == ("127.0.0.1", port)


def test_from_scenario_errors_before_making_a_server(tmp_path):
    path = write(tmp_path, '[[rules]]\nexpect = "a\\n"\nrespond = 42\n')
    with pytest.raises(sockfix.ScenarioError, match=r"scenario.toml: rules\[0\]\.respond: "):
        sockfix.TCPServer.from_scenario(path)
    with pytest.raises(sockfix.ScenarioError, match="cannot read the scenario file"):
        sockfix.TCPServer.from_scenario(tmp_path / "nope.toml")


SERVED = """\
[[rules]]
on_connect = true
respond = "220 ready\\r\\n"
times = 1

[[rules]]
expect = "PING\\r\\n"
respond_hex = "2b504f4e470d0a"
delay = 0.01
chunked = 1
chunk_delay = 0.001
times = 2

[[rules]]
expect_regex = 'GET (\\w+)\\r\\n'
respond = ["VALUE ", "x\\r\\n"]
chunked = [2, 2, 100]

[[rules]]
expect_hex = "424f4f4d0d0a"
reset = true

[[rules]]
expect = "QUIT\\r\\n"
respond = "BYE\\r\\n"
close = true

[[rules]]
expect = "STALL\\r\\n"
hang = true

[[rules]]
expect_any = true
respond = "?\\r\\n"
"""


def test_every_rule_key_on_the_wire(tmp_path):
    path = write(tmp_path, SERVED)
    with sockfix.TCPServer.from_scenario(path) as server:
        with connect(server) as sock:
            assert recv_until(sock, b"\r\n") == b"220 ready\r\n"
            for _ in range(2):
                sock.sendall(b"PING\r\n")
                assert recv_until(sock, b"\r\n") == b"+PONG\r\n"
            sock.sendall(b"GET k\r\n")
            assert recv_until(sock, b"\r\n") == b"VALUE x\r\n"
            sock.sendall(b"PING\r\n")  # used up: falls through to expect_any
            assert recv_until(sock, b"\r\n") == b"?\r\n"
            sock.sendall(b"QUIT\r\n")
            assert recv_all(sock) == b"BYE\r\n"
        with connect(server) as sock:
            sock.sendall(b"BOOM\r\n")
            with pytest.raises(ConnectionResetError):
                recv_all(sock)
        with connect(server) as sock:
            sock.sendall(b"STALL\r\n")
            sock.sendall(b"anything\r\n")
            server.wait_until(lambda s: len(s.connections[2].messages) == 2)
            sock.settimeout(0.05)
            with pytest.raises(TimeoutError):
                sock.recv(10)  # hanging: no answer, no close
    first = server.connections[0]
    out = [e.data for e in first.events if e.kind == "out"]
    assert out[1:8] == [b"+", b"P", b"O", b"N", b"G", b"\r", b"\n"]  # chunked = 1
    assert b"VA" in out  # chunked = [2, 2, 100]
    assert b"LU" in out


def test_faults_of_a_scenario_are_attached(tmp_path):
    path = write(
        tmp_path,
        '[[rules]]\nexpect = "hi\\n"\nrespond = "hello there\\n"\n\n'
        '[[faults]]\nname = "truncate"\nargs = [5]\nconnections = [2]\n\n'
        '[[faults]]\nname = "latency"\nargs = [0.0]\njitter = 0.0\n',
    )
    with sockfix.TCPServer.from_scenario(path) as server:
        assert server.faults == [
            "Truncate(5) on connections [2]",
            "Latency(0.0) on all connections",
        ]
        with connect(server) as sock:
            sock.sendall(b"hi\n")
            assert recv_until(sock, b"\n") == b"hello there\n"
        with connect(server) as sock:  # connection 2: truncated after 5 bytes
            sock.sendall(b"hi\n")
            assert recv_all(sock) == b"hello"
        server.wait_until(all_closed)
