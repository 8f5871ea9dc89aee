"""The examples of docs/unix.md: fake servers on AF_UNIX stream sockets, and recipes with real
clients (http.client the Docker way, httpx, redis-py, asyncio) and a proxy in front of a socket.

Every client has a timeout; nothing sleeps. The last tests check the tables "What differs on a
Unix socket" and "What clients raise" of docs/unix.md, row by row.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import shutil
import socket
import tempfile
import threading

import httpx
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import sockfix
from sockfix import faults


def unix_client(path, timeout=2.0):
    """A plain AF_UNIX stream client with a timeout on every call."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock


def test_quick_look():
    with sockfix.TCPServer(unix=True) as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        with unix_client(server.path) as sock, sock.makefile("rb") as replies:
            sock.sendall(b"PING\n")
            assert replies.readline() == b"PONG\n"

    assert server.connections[0].received == b"PING\n"
    assert server.connections[0].peer == ("unix client", 0)


# -- where it listens ----------------------------------------------------------------------------


def test_where_it_listens():
    with sockfix.TCPServer(unix=True) as server:
        assert server.path.startswith("/tmp/sockfix-")  # a fresh folder of its own
        assert server.path.endswith("/s")
        assert server.address == server.path  # socket.socket(AF_UNIX).connect(server.address)
        with pytest.raises(RuntimeError, match=r"not a port: use server\.path"):
            server.port  # noqa: B018

    assert not os.path.exists(os.path.dirname(server.path))  # removed at stop()


@pytest.fixture
def short_folder():
    """A folder of the test's own, short enough for a socket path (pytest's tmp_path is not)."""
    folder = tempfile.mkdtemp(dir="/tmp")
    yield folder
    shutil.rmtree(folder)


def test_an_explicit_path(short_folder):
    path = os.path.join(short_folder, "api.sock")
    with sockfix.TCPServer(unix=path) as server:
        assert server.path == path

    assert not os.path.exists(path)  # the socket file is removed; the folder is yours


def test_a_stale_socket_file_is_replaced(short_folder):
    path = os.path.join(short_folder, "api.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as crashed:
        crashed.bind(path)  # a run that crashed left its socket file behind

    with sockfix.TCPServer(unix=path) as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        with unix_client(path) as sock, sock.makefile("rb") as replies:
            sock.sendall(b"PING\n")
            assert replies.readline() == b"PONG\n"


def test_what_is_never_replaced(short_folder):
    path = os.path.join(short_folder, "api.sock")
    with open(path, "w") as f:
        f.write("not a socket")
    with pytest.raises(FileExistsError, match="a file that is not a socket is in the way"):
        sockfix.TCPServer(unix=path).start()
    os.unlink(path)

    with (
        sockfix.TCPServer(unix=path),
        pytest.raises(OSError, match="another server is listening on that socket file"),
    ):
        sockfix.TCPServer(unix=path).start()


def test_a_path_too_long_for_sun_path(tmp_path):
    with pytest.raises(ValueError, match=r"a Unix socket path must be under 10[48] bytes"):
        sockfix.TCPServer(unix=tmp_path / ("x" * 100))


# -- recipes -------------------------------------------------------------------------------------


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a Unix socket, as Docker's clients reach /var/run/docker.sock."""

    def __init__(self, socket_path, timeout=2.0):
        super().__init__("localhost", timeout=timeout)  # "localhost" only fills in Host:
        self.socket_path = socket_path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def running_containers(socket_path):
    """The code under test: the names of the running containers, asked of the Docker API."""
    conn = UnixHTTPConnection(socket_path)
    try:
        conn.request("GET", "/v1.43/containers/json")
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"docker answered {response.status}")
        return [c["Names"][0].lstrip("/") for c in json.loads(response.read())]
    finally:
        conn.close()


def test_a_docker_style_http_api(make_http_server):
    docker = make_http_server(unix=True)
    docker.expect("GET", "/v1.43/containers/json").respond(
        200, json=[{"Id": "4f2a", "Names": ["/web"]}, {"Id": "9c1e", "Names": ["/db"]}]
    )

    assert running_containers(docker.path) == ["web", "db"]
    assert docker.requests[0].headers["Host"] == "localhost"


def test_when_the_daemon_misbehaves(make_http_server):
    docker = make_http_server(unix=True)
    docker.expect("GET", "/v1.43/containers/json").respond(500, json={"message": "boom"}).times(1)
    docker.expect("GET", "/v1.43/containers/json").reset().times(1)

    with pytest.raises(RuntimeError, match="docker answered 500"):
        running_containers(docker.path)
    with pytest.raises(http.client.RemoteDisconnected):  # an EOF on a Unix socket, see below
        running_containers(docker.path)
    docker.refuse()  # the daemon is down: its socket file is there, nothing listens on it
    with pytest.raises(ConnectionRefusedError):
        running_containers(docker.path)


@pytest.fixture
def docker(make_http_server):
    """A fake Docker daemon on a socket file of its own, stopped (and removed) at teardown."""
    return make_http_server(unix=True)


def test_a_fixture_of_your_own(docker):
    docker.expect("GET", "/v1.43/containers/json").respond(200, json=[])

    assert running_containers(docker.path) == []


def test_httpx_over_a_unix_socket(make_http_server):
    server = make_http_server(unix=True)
    server.expect("GET", "/_ping").respond(200, text="OK")

    transport = httpx.HTTPTransport(uds=server.path)
    with httpx.Client(transport=transport, base_url="http://localhost", timeout=2) as client:
        assert client.get("/_ping").text == "OK"


def test_redis_py_over_a_unix_socket(make_redis_server):
    server = make_redis_server(unix=True)
    server.expect("GET", "user:1").reply(b'{"id": 1}')

    with redis.Redis(unix_socket_path=server.path, socket_timeout=2) as r:
        assert r.get("user:1") == b'{"id": 1}'
    with redis.Redis.from_url(server.url(), socket_timeout=2) as r:  # unix:///tmp/.../s?db=0
        assert r.get("user:1") == b'{"id": 1}'

    assert server.commands == [[b"GET", b"user:1"], [b"GET", b"user:1"]]


def test_asyncio_open_unix_connection(make_tcp_server):
    server = make_tcp_server(unix=True)
    server.expect(b"PING\n").respond(b"PONG\n")

    async def ping(path):
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(path), 2)
        try:
            writer.write(b"PING\n")
            await writer.drain()
            return await asyncio.wait_for(reader.readline(), 2)
        finally:
            writer.close()
            await writer.wait_closed()

    assert asyncio.run(ping(server.path)) == b"PONG\n"


def test_a_proxy_in_front_of_a_local_daemon(make_tcp_server, make_tcp_proxy):
    daemon = make_tcp_server(unix=True)  # stands in for a real daemon's /run/app.sock
    daemon.expect(b"STATUS\n").respond(b"OK\n")

    proxy = make_tcp_proxy(upstream=daemon.path)  # TCP in front, the socket file behind
    proxy.fault(faults.Latency(0.05), direction="downstream")
    with socket.create_connection(proxy.address, timeout=2) as sock, sock.makefile("rb") as f:
        sock.sendall(b"STATUS\n")
        assert f.readline() == b"OK\n"  # 50 ms late
    proxy.wait_until(lambda p: p.connections[0].upstream.closed)

    conn = proxy.connections[0]
    assert (conn.received, conn.sent) == (b"STATUS\n", b"OK\n")  # on the client's socket
    assert (conn.upstream.sent, conn.upstream.received) == (b"STATUS\n", b"OK\n")  # the file's
    assert conn.upstream.peer == (daemon.path, 0)


def test_a_string_upstream_is_a_path():
    with pytest.raises(TypeError, match=r"pass a pair, upstream=\('127.0.0.1', 6379\)"):
        sockfix.TCPProxy(upstream="127.0.0.1:6379")


# -- resets on a Unix socket ---------------------------------------------------------------------


def test_a_reset_is_an_eof_when_nothing_is_unread(make_tcp_server):
    server = make_tcp_server(unix=True)
    server.expect(b"BOOM\n").reset()

    with unix_client(server.path) as sock:
        sock.sendall(b"BOOM\n")
        assert sock.recv(10) == b""  # an EOF: the server had read all the client sent
    server.wait_until(lambda s: s.connections[0].closed)

    event = server.connections[0].events[-1]
    assert event.kind == "close"
    assert event.note == (
        "rule 1: a Unix socket has no RST and nothing was unread: closed, the peer sees EOF"
    )


def test_a_reset_with_bytes_unread_is_econnreset(make_tcp_server):
    server = make_tcp_server(unix=True)
    unread = threading.Event()

    def slow_reply(message):
        unread.wait(2)  # the server's thread waits here: what the client sends now is unread
        return b"bye\n"

    server.expect(b"BOOM\n").respond(slow_reply).reset()

    with unix_client(server.path) as sock:
        sock.sendall(b"BOOM\n")
        server.wait_until(lambda s: s.connections[0].received == b"BOOM\n")
        sock.sendall(b"more\n")
        unread.set()
        assert sock.recv(10) == b"bye\n"
        with pytest.raises(ConnectionResetError):
            sock.recv(10)
    server.wait_until(lambda s: s.connections[0].closed)

    event = server.connections[0].events[-1]
    assert event.kind == "reset"
    assert event.note == (
        "rule 1; a Unix socket, closed with 5 bytes unread: the peer sees ECONNRESET"
    )


# -- the tables of docs/unix.md ------------------------------------------------------------------

EOF_NOTE = "a Unix socket has no RST and nothing was unread: closed, the peer sees EOF"


def _silent_second_client(server):
    with unix_client(server.path):
        server.wait_for_connections(1)
        with unix_client(server.path) as second:
            return second.recv(10)


# row: (server options, how to script it, what the client does, what it gets, the last event of
# the connection that ended)
DIFFERENCES = {
    "rule .reset()": (
        {},
        lambda s: s.expect(b"GET\n").reset(),
        b"GET\n",
        b"",
        ("close", f"rule 1: {EOF_NOTE}"),
    ),
    "faults.Reset()": (
        {},
        lambda s: s.fault(faults.Reset()),
        None,
        b"",
        ("close", f"fault: {EOF_NOTE}"),
    ),
    "faults.Reset(after_bytes=3)": (
        {},
        lambda s: (s.on_connect().respond(b"220 ready\n"), s.fault(faults.Reset(after_bytes=3))),
        None,
        b"220",
        ("close", f"fault: {EOF_NOTE}"),
    ),
    'on_unmatched="reset"': (
        {"on_unmatched": "reset"},
        lambda s: None,
        b"NOPE\n",
        b"",
        ("close", f"on_unmatched: {EOF_NOTE}"),
    ),
    "max_connections=1": (
        {"max_connections": 1},
        lambda s: None,
        _silent_second_client,
        b"",
        ("close", f"max_connections=1; {EOF_NOTE}"),
    ),
}


@pytest.mark.parametrize("row", DIFFERENCES, ids=list(DIFFERENCES))
def test_the_differences_table(row):
    options, script, request, expected, last = DIFFERENCES[row]
    with sockfix.TCPServer(unix=True, strict=False, **options) as server:
        script(server)
        if callable(request):
            got = request(server)
        else:
            with unix_client(server.path) as sock:
                if request:
                    sock.sendall(request)
                got = b""
                while chunk := sock.recv(64):
                    got += chunk
        server.wait_until(lambda s: all(c.closed for c in s.connections))
    assert got == expected
    ended = server.connections[-1]
    assert (ended.events[-1].kind, ended.events[-1].note) == last


def _http_client(server):
    conn = UnixHTTPConnection(server.path)
    try:
        conn.request("GET", "/x")
        conn.getresponse().read()
    finally:
        conn.close()


def _httpx(server):
    transport = httpx.HTTPTransport(uds=server.path)
    with httpx.Client(transport=transport, base_url="http://localhost", timeout=2) as client:
        client.get("/x")


def _redis_py(server):
    retry = Retry(NoBackoff(), 0)
    with redis.Redis(unix_socket_path=server.path, socket_timeout=2, retry=retry) as r:
        r.get("x")


# row: (client, the class it raises on a reset rule over a Unix socket, its message)
CLIENTS = {
    "http.client": (_http_client, http.client.RemoteDisconnected, "Remote end closed connection"),
    "httpx": (_httpx, httpx.RemoteProtocolError, "Server disconnected without sending"),
    "redis-py": (_redis_py, redis.ConnectionError, "Connection closed by server."),
}


@pytest.mark.parametrize("client", CLIENTS, ids=list(CLIENTS))
def test_what_clients_raise(client):
    call, error, message = CLIENTS[client]
    kind = sockfix.RedisServer if client == "redis-py" else sockfix.HTTPServer
    with kind(unix=True) as server:
        if kind is sockfix.RedisServer:
            server.expect("GET", "x").reset()
        else:
            server.expect("GET", "/x").reset()
        with pytest.raises(error, match=message):
            call(server)
