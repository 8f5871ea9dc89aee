"""AF_UNIX stream servers: paths, real clients, and every TCP fault on a Unix socket.

Every client socket has a timeout; nothing sleeps to synchronise. Where only the order of two
threads decides what the client sees (a reset while the client's bytes are still unread), the
server's thread is held on an Event until the client has sent: in a response callable, or in an
``on_event`` callback for ``"connect"`` (called on the thread that accepted, before the
connection's faults run). A Unix ``send`` returns once the bytes are in the peer's receive
queue, so after ``sendall`` they are unread until the server reads them.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import shutil
import socket
import ssl
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis
from _nethelp import TIMEOUT, kinds, recv_exactly
from redis.backoff import NoBackoff
from redis.retry import Retry

import sockfix
from sockfix import faults
from sockfix.net.unix import SUN_PATH_MAX

EOF_NOTE = "a Unix socket has no RST and nothing was unread: closed, the peer sees EOF"


def reset_note(unread: int) -> str:
    return f"a Unix socket, closed with {unread} bytes unread: the peer sees ECONNRESET"


# -- helpers ------------------------------------------------------------------------------------


def unix_connect(path: str, timeout: float = TIMEOUT) -> socket.socket:
    """A plain AF_UNIX stream client connected to ``path``, with a timeout on every call."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return sock


def read_to_end(sock: socket.socket) -> tuple[bytes, str]:
    """Read until the stream ends: the bytes, and ``"EOF"`` or the class of the error."""
    out = bytearray()
    try:
        for _ in range(1 << 16):
            chunk = sock.recv(65536)
            if not chunk:
                return bytes(out), "EOF"
            out += chunk
    except OSError as exc:
        return bytes(out), type(exc).__name__
    raise AssertionError(f"no end after {len(out)} bytes")


def tcp_read_to_end(address: tuple[str, int]) -> tuple[bytes, str]:
    """Connect over TCP and read until the stream ends (see :func:`read_to_end`)."""
    try:
        sock = socket.create_connection(address, timeout=TIMEOUT)
    except ConnectionResetError:  # the RST came before connect() returned
        return b"", "ConnectionResetError"
    with sock:
        return read_to_end(sock)


def notes(conn: sockfix.Connection) -> list[tuple[str, str]]:
    """(kind, note) of every event but the bytes."""
    return [(e.kind, e.note) for e in conn.events if e.kind not in ("in", "out")]


def ended(server: sockfix.TCPServer, number: int = 1) -> sockfix.Connection:
    """Connection ``number``, once it is closed."""
    server.wait_until(lambda s: len(s.connections) >= number and s.connections[number - 1].closed)
    return server.connections[number - 1]


def proxied(proxy: sockfix.TCPProxy) -> sockfix.ProxyConnection:
    """The proxy's first connection, once the client's side of it is closed."""
    proxy.wait_until(lambda p: len(p.connections) >= 1 and p.connections[0].closed)
    return proxy.connections[0]


def all_ended(server: sockfix.TCPServer, n: int) -> list[sockfix.Connection]:
    """The ``n`` connections, once every one is closed."""
    server.wait_until(lambda s: len(s.connections) == n and all(c.closed for c in s.connections))
    return server.connections


def stale_socket(path: str) -> None:
    """Leave a socket file at ``path`` as a crashed run does: bound, closed, never unlinked."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(path)


def held_on_connect(gate: threading.Event) -> Callable[[sockfix.Connection, sockfix.Event], None]:
    """An ``on_event`` that holds the accepting thread at each "connect" until ``gate`` is set:
    the client's first bytes are then unread when the connection's faults run."""

    def hold(conn: sockfix.Connection, event: sockfix.Event) -> None:
        if event.kind == "connect":
            gate.wait(TIMEOUT)

    return hold


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a Unix socket, as Docker's clients talk to /var/run/docker.sock."""

    def __init__(self, socket_path: str, timeout: float = TIMEOUT) -> None:
        super().__init__("localhost", timeout=timeout)  # the host only names the Host header
        self.socket_path = socket_path
        self.unix_timeout = timeout

    def connect(self) -> None:
        self.sock = unix_connect(self.socket_path, self.unix_timeout)


@pytest.fixture
def folder() -> Iterator[str]:
    """A short folder of the test's own under /tmp (pytest's tmp_path is too long for sun_path)."""
    path = tempfile.mkdtemp(prefix="sfx-", dir="/tmp")
    yield path
    shutil.rmtree(path)


# -- paths: unix=True ---------------------------------------------------------------------------


def test_unix_true_listens_on_a_short_fresh_path():
    with sockfix.TCPServer(unix=True) as server, sockfix.TCPServer(unix=True) as other:
        path = server.path
        folder = os.path.dirname(path)
        assert isinstance(path, str)
        assert os.path.basename(path) == "s"
        assert os.path.dirname(folder) == "/tmp"
        assert os.path.basename(folder).startswith("sockfix-")
        assert len(os.fsencode(path)) < SUN_PATH_MAX
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700  # mkdtemp: the user's alone
        assert os.listdir(folder) == ["s"]
        assert other.path != path
        assert os.path.dirname(other.path) != folder


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux value")
def test_sun_path_max_is_linux_sockaddr_un():
    assert SUN_PATH_MAX == 108


def test_address_is_the_path_and_port_raises_naming_it():
    with sockfix.TCPServer(unix=True) as server:
        assert server.address == server.path
        with pytest.raises(RuntimeError, match=r"not a port: use server\.path"):
            server.port  # noqa: B018
        with unix_connect(server.address) as sock:
            assert sock.getpeername() == server.path


def test_path_before_start_and_on_a_tcp_server():
    server = sockfix.TCPServer(unix=True)
    with pytest.raises(RuntimeError, match=r"not started: call start\(\)"):
        server.path  # noqa: B018
    with sockfix.TCPServer() as tcp:
        with pytest.raises(RuntimeError, match="not on a socket file: pass unix=True"):
            tcp.path  # noqa: B018
        assert tcp.address == ("127.0.0.1", tcp.port)


def test_unix_false_and_none_are_tcp():
    with sockfix.TCPServer(unix=False) as a, sockfix.TCPServer(unix=None) as b:
        assert a.address == ("127.0.0.1", a.port)
        assert b.address == ("127.0.0.1", b.port)


def test_stop_removes_the_file_and_its_folder():
    server = sockfix.TCPServer(unix=True).start()
    path = server.path
    server.stop()
    assert not os.path.exists(path)
    assert not os.path.exists(os.path.dirname(path))
    server.stop()  # idempotent


def test_stop_removes_them_with_a_client_still_connected():
    server = sockfix.TCPServer(unix=True).start()
    path = server.path
    with unix_connect(path) as sock:
        server.wait_for_connections(1)
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 0.5
        assert not os.path.exists(os.path.dirname(path))
        assert sock.recv(10) == b""  # stop() shut the connection down
    assert notes(server.connections[0]) == [
        ("connect", "from unix client"),
        ("close", "server stopped"),
    ]


def test_stop_removes_them_after_a_strict_failure():
    with (  # noqa: PT012
        pytest.raises(sockfix.StrictError) as failure,
        sockfix.TCPServer(unix=True) as server,
    ):
        path = server.path
        with unix_connect(path) as sock:
            sock.sendall(b"NOPE\n")
            assert sock.recv(10) == b""  # on_unmatched="close", the strict default
    assert f"TCPServer unix:{path} (strict" in str(failure.value)
    assert "no rule matched message 1: b'NOPE\\n'" in str(failure.value)
    assert not os.path.exists(os.path.dirname(path))


# -- paths: unix=PATH ---------------------------------------------------------------------------


def test_an_explicit_path(folder):
    path = os.path.join(folder, "api.sock")
    with sockfix.TCPServer(unix=path) as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        assert server.path == path
        assert server.address == path
        with unix_connect(path) as sock:
            sock.sendall(b"PING\n")
            assert recv_exactly(sock, 5) == b"PONG\n"
    assert not os.path.exists(path)
    assert os.listdir(folder) == []  # the socket file is gone; the folder is the test's: kept


def test_an_explicit_path_may_be_a_pathlib_path(folder):
    with sockfix.TCPServer(unix=Path(folder) / "s") as server:
        assert server.path == os.path.join(folder, "s")
        assert isinstance(server.path, str)


def test_a_stale_socket_file_is_replaced(folder):
    path = os.path.join(folder, "api.sock")
    stale_socket(path)
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    with pytest.raises(ConnectionRefusedError):
        unix_connect(path)  # nothing listens on it
    with sockfix.TCPServer(unix=path) as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        with unix_connect(path) as sock:
            sock.sendall(b"PING\n")
            assert recv_exactly(sock, 5) == b"PONG\n"
    assert not os.path.exists(path)


def test_a_regular_file_at_the_path_is_never_touched(folder):
    path = os.path.join(folder, "api.sock")
    Path(path).write_text("my data")
    server = sockfix.TCPServer(unix=path)
    with pytest.raises(FileExistsError, match="a file that is not a socket is in the way"):
        server.start()
    server.stop()
    assert Path(path).read_text() == "my data"


def test_a_live_server_at_the_path_is_an_error_naming_it(folder):
    path = os.path.join(folder, "api.sock")
    with sockfix.TCPServer(unix=path) as first:
        first.expect(b"PING\n").respond(b"PONG\n")
        second = sockfix.TCPServer(unix=path)
        with pytest.raises(OSError, match=re.escape(f"unix={path!r}: another server is listening")):
            second.start()
        second.stop()
        with unix_connect(path) as sock:  # the first one still serves
            sock.sendall(b"PING\n")
            assert recv_exactly(sock, 5) == b"PONG\n"
    assert not os.path.exists(path)


def test_a_too_long_path_is_a_value_error_naming_the_limit(tmp_path):
    path = tmp_path / ("x" * 100)  # pytest's tmp_path: too long for sun_path
    with pytest.raises(ValueError, match=rf"must be under {SUN_PATH_MAX} bytes on this platform"):
        sockfix.TCPServer(unix=path)
    with pytest.raises(ValueError, match=r"not pytest's tmp_path: it is too long"):
        sockfix.HTTPServer(unix=str(path))


def test_the_longest_path_that_fits(folder):
    longest = os.path.join(folder, "")
    longest += "x" * (SUN_PATH_MAX - 1 - len(os.fsencode(longest)))
    assert len(os.fsencode(longest)) == SUN_PATH_MAX - 1  # and its NUL makes sun_path full
    with sockfix.TCPServer(unix=longest) as server, unix_connect(server.path):
        server.wait_for_connections(1)
    with pytest.raises(ValueError, match=rf"is {SUN_PATH_MAX} bytes"):
        sockfix.TCPServer(unix=longest + "x")


def test_a_missing_folder_is_a_file_not_found_error(folder):
    path = os.path.join(folder, "missing", "s")
    with pytest.raises(FileNotFoundError, match=r"its folder .*missing' does not exist"):
        sockfix.RedisServer(unix=path)


def test_unix_with_host_or_port_is_a_value_error():
    with pytest.raises(ValueError, match=r"drop host= and port="):
        sockfix.TCPServer(unix=True, host="::1")
    with pytest.raises(ValueError, match=r"drop host= and port="):
        sockfix.HTTPServer(unix=True, port=8080)


def test_bad_unix_values():
    with pytest.raises(TypeError, match=r"unix= takes True .* or a path as a str, got b'/tmp/x'"):
        sockfix.TCPServer(unix=b"/tmp/x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got 5"):
        sockfix.TCPServer(unix=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"unix='' is no path"):
        sockfix.TCPServer(unix="")


# -- plain sockets: rules, framings, recording, strict mode, transcripts --------------------------


def test_rules_over_a_unix_socket():
    with sockfix.TCPServer(unix=True) as server:
        server.on_connect().respond(b"220 ready\r\n")
        server.expect(b"PING\r\n").respond(b"+PONG\r\n")
        server.expect(re.compile(rb"GET (\w+)\r\n")).respond(lambda msg: b"VALUE " + msg[4:])
        server.expect(b"ONCE\r\n").respond(b"1\r\n").times(1)
        server.expect(b"ONCE\r\n").respond(b"again\r\n")
        server.expect(b"BIG\r\n").respond(b"x" * 10).chunked(3)
        server.expect(lambda msg: msg.startswith(b"QUIT")).respond(b"BYE\r\n").close()
        with unix_connect(server.path) as sock, sock.makefile("rb") as replies:
            assert replies.readline() == b"220 ready\r\n"
            for request, reply in [
                (b"PING\r\n", b"+PONG\r\n"),
                (b"GET key\r\n", b"VALUE key\r\n"),
                (b"ONCE\r\n", b"1\r\n"),
                (b"ONCE\r\n", b"again\r\n"),
                (b"BIG\r\n", b"x" * 10),
            ]:
                sock.sendall(request)
                assert replies.read(len(reply)) == reply
            sock.sendall(b"QUIT\r\n")
            assert replies.read() == b"BYE\r\n"  # then EOF
    conn = server.connections[0]
    assert [e.data for e in conn.events if e.kind == "out"][-5:] == [
        b"xxx",
        b"xxx",
        b"xxx",
        b"x",
        b"BYE\r\n",
    ]
    assert notes(conn)[-1] == ("close", "rule 6")  # on_connect rules are numbered apart


def test_a_handler_over_a_unix_socket():
    with (
        sockfix.TCPServer(unix=True, handler=sockfix.echo(bytes.upper)) as server,
        unix_connect(server.path) as sock,
    ):
        sock.sendall(b"hello\nworld\n")
        assert recv_exactly(sock, 12) == b"HELLO\nWORLD\n"


def test_ordered_steps_over_a_unix_socket():
    with sockfix.TCPServer(unix=True, ordered=True, strict=False, on_unmatched="close") as server:
        server.expect(b"HELLO\n").respond(b"hi\n")
        server.expect(b"BYE\n").respond(b"bye\n")
        with unix_connect(server.path) as sock:
            sock.sendall(b"BYE\n")  # out of order: unmatched, so closed
            assert read_to_end(sock) == (b"", "EOF")
        with unix_connect(server.path) as sock:
            sock.sendall(b"HELLO\nBYE\n")
            assert recv_exactly(sock, 7) == b"hi\nbye\n"
        all_ended(server, 2)
    assert [c.messages for c in server.connections] == [[b"BYE\n"], [b"HELLO\n", b"BYE\n"]]


def test_framings_do_not_depend_on_how_the_client_split_its_sends():
    framing = sockfix.framing.length_prefixed("!H")
    with sockfix.TCPServer(unix=True, framing=framing) as server:
        server.expect(b"\x00\x03abc").respond(b"\x00\x02ok")
        with unix_connect(server.path) as sock:
            for byte in b"\x00\x03abc\x00\x03abc":
                sock.sendall(bytes([byte]))
            assert recv_exactly(sock, 8) == b"\x00\x02ok" * 2
    assert server.connections[0].messages == [b"\x00\x03abc", b"\x00\x03abc"]


def test_what_is_recorded():
    with sockfix.TCPServer(unix=True) as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        for _ in range(2):
            with unix_connect(server.path) as sock:
                sock.sendall(b"PING\n")
                assert recv_exactly(sock, 5) == b"PONG\n"
        first, second = all_ended(server, 2)
    assert first.peer == ("unix client", 0)  # a client that bound no path of its own
    assert (first.received, first.sent, first.messages) == (b"PING\n", b"PONG\n", [b"PING\n"])
    assert kinds(first) == ["connect", "in", "out", "eof", "close"]
    assert notes(first) == [
        ("connect", "from unix client"),
        ("eof", "peer closed its side"),
        ("close", ""),
    ]
    assert server.received == b"PING\nPING\n"
    assert second.number == 2


def test_a_client_that_bound_a_path_is_recorded_by_it(folder):
    client_path = os.path.join(folder, "client")
    with sockfix.TCPServer(unix=True) as server:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.bind(client_path)
            sock.connect(server.path)
            [conn] = server.wait_for_connections(1)
        assert conn.peer == (client_path, 0)
        assert conn.events[0].note == f"from {client_path}"


def test_many_clients_at_once_are_recorded_exactly():
    with sockfix.TCPServer(unix=True, handler=sockfix.echo()) as server:
        replies: dict[int, bytes] = {}

        def client(i: int) -> None:
            lines = b"".join(b"%d:%d\n" % (i, n) for n in range(50))
            with unix_connect(server.path) as sock:
                sock.sendall(lines)
                replies[i] = recv_exactly(sock, len(lines))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT)
        all_ended(server, 8)
    assert sorted(replies) == list(range(8))
    for conn in server.connections:
        assert conn.received == conn.sent
        i = int(conn.messages[0].split(b":")[0])
        assert conn.received == replies[i]


def test_strict_mode_fails_on_an_unmatched_message():
    with (  # noqa: PT012
        pytest.raises(sockfix.StrictError) as failure,
        sockfix.TCPServer(unix=True, name="daemon") as server,
    ):
        server.expect(b"PING\n").respond(b"PONG\n")
        with unix_connect(server.path) as sock:
            sock.sendall(b"PING\nHELO\n")
            assert read_to_end(sock) == (b"PONG\n", "EOF")
    message = str(failure.value)
    assert f"sockfix TCPServer 'daemon' unix:{server.path} (strict" in message
    assert "connection 1: no rule matched message 2: b'HELO\\n'" in message


def test_the_transcript_names_the_path_and_the_unix_client():
    with sockfix.TCPServer(unix=True, seed=7) as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        with unix_connect(server.path) as sock:
            sock.sendall(b"PING\n")
            assert recv_exactly(sock, 5) == b"PONG\n"
        ended(server)
        lines = server.transcript().splitlines()
    assert lines[0] == (
        f"TCPServer unix:{server.path} (strict, framing lines(), no handler, seed=7)"
    )
    assert "connection 1 from unix client (closed): 5 B in, 5 B out, 1 message" in lines
    assert any(line.endswith("-- connect  (from unix client)") for line in lines)
    assert repr(server).startswith(f"<sockfix TCPServer unix:{server.path} stopped")


def test_settle_and_async_waits_over_a_unix_socket():
    with sockfix.TCPServer(unix=True) as server:
        server.expect(b"PING\n").respond(b"PONG\n")

        async def main() -> bytes:
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(server.path), 2)
            try:
                writer.write(b"PING\n")
                await writer.drain()
                line = await asyncio.wait_for(reader.readline(), 2)
            finally:
                writer.close()
                await writer.wait_closed()
            await server.wait_until_async(lambda s: s.connections[0].closed, timeout=2)
            return line

        assert asyncio.run(main()) == b"PONG\n"
        assert server.settle()
    assert kinds(server.connections[0]) == ["connect", "in", "out", "eof", "close"]


# -- real clients: redis-py, http.client, httpx ---------------------------------------------------


def test_redis_py_over_unix_socket_path():
    with sockfix.RedisServer(unix=True) as server:
        server.expect("GET", "user:1").reply(b'{"id": 1}')
        server.expect("SET", "k", sockfix.ANY).reply("OK")
        with redis.Redis(unix_socket_path=server.path, socket_timeout=2) as r:
            assert r.get("user:1") == b'{"id": 1}'
            assert r.set("k", "v") is True
    assert server.commands == [[b"GET", b"user:1"], [b"SET", b"k", b"v"]]
    assert server.connections[0].peer == ("unix client", 0)


def test_redis_py_from_url():
    with sockfix.RedisServer(unix=True) as server:
        server.expect("GET", "k").reply(b"v")
        assert server.url() == f"unix://{server.path}?db=0"
        assert server.url(3) == f"unix://{server.path}?db=3"
        with redis.Redis.from_url(server.url(3), socket_timeout=2) as r:
            assert r.get("k") == b"v"
    assert [b"SELECT", b"3"] in server.handshake_commands
    assert server.commands == [[b"GET", b"k"]]


def test_redis_py_sees_a_reset_rule_as_a_closed_connection():
    with sockfix.RedisServer(unix=True) as server:
        server.expect("GET", "k").reset()
        with (
            redis.Redis(
                unix_socket_path=server.path, socket_timeout=2, retry=Retry(NoBackoff(), 0)
            ) as r,
            pytest.raises(redis.ConnectionError, match=r"^Connection closed by server\.$"),
        ):
            r.get("k")
    assert notes(server.connections[0])[-1] == ("close", f"rule 1: {EOF_NOTE}")


def test_http_client_over_a_unix_socket_docker_style():
    with sockfix.HTTPServer(unix=True) as server:
        server.expect("GET", "/v1.43/containers/json").respond(200, json=[{"Id": "abc"}])
        server.expect("POST", "/v1.43/containers/create", json={"Image": "alpine"}).respond(
            201, json={"Id": "def"}
        )
        conn = UnixHTTPConnection(server.path)
        try:
            conn.request("GET", "/v1.43/containers/json")
            with conn.getresponse() as response:
                assert response.status == 200
                assert response.read() == b'[{"Id": "abc"}]'
            conn.request(
                "POST",
                "/v1.43/containers/create",
                body=b'{"Image": "alpine"}',
                headers={"Content-Type": "application/json"},
            )
            with conn.getresponse() as response:
                assert (response.status, response.read()) == (201, b'{"Id": "def"}')
        finally:
            conn.close()
    assert [(r.method, r.path) for r in server.requests] == [
        ("GET", "/v1.43/containers/json"),
        ("POST", "/v1.43/containers/create"),
    ]
    assert server.requests[0].headers["Host"] == "localhost"
    assert len(server.connections) == 1  # keep-alive on the one socket


def test_http_url_is_the_http_unix_form():
    with sockfix.HTTPServer(unix=True) as server:
        quoted = server.path.replace("/", "%2F")
        assert server.url() == f"http+unix://{quoted}/"
        assert server.url("/v1/ping") == f"http+unix://{quoted}/v1/ping"
    with sockfix.HTTPServer(unix=True, tls=True) as server:
        assert server.url("/x") == f"https+unix://{server.path.replace('/', '%2F')}/x"


def test_httpx_over_a_unix_socket():
    with sockfix.HTTPServer(unix=True) as server:
        server.expect("GET", "/_ping").respond(200, text="OK")
        transport = httpx.HTTPTransport(uds=server.path)
        with httpx.Client(transport=transport, base_url="http://localhost", timeout=2) as client:
            assert client.get("/_ping").text == "OK"
    assert server.requests[0].path == "/_ping"


def test_tls_over_a_unix_socket():
    with sockfix.TCPServer(unix=True, tls=True) as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        context = server.client_context()
        with (
            unix_connect(server.path) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as sock,
        ):
            sock.sendall(b"PING\n")
            assert recv_exactly(sock, 5) == b"PONG\n"
            assert sock.version() is not None
        conn = ended(server)
    assert (conn.received, conn.sent) == (b"PING\n", b"PONG\n")  # the plaintext


def test_tls_presets_fail_a_client_over_a_unix_socket_as_on_tcp():
    with sockfix.TCPServer(unix=True, tls="expired", strict=False) as server:
        context = server.client_context()
        with (
            unix_connect(server.path) as raw,
            pytest.raises(ssl.SSLCertVerificationError, match="certificate has expired"),
        ):
            context.wrap_socket(raw, server_hostname="localhost")
        conn = ended(server)
    assert notes(conn)[1][0] == "error"
    assert "TLS handshake" in notes(conn)[1][1]


# -- fixtures -----------------------------------------------------------------------------------


def test_make_tcp_server_unix(make_tcp_server):
    server = make_tcp_server(unix=True)
    server.expect(b"PING\n").respond(b"PONG\n")
    with unix_connect(server.path) as sock:
        sock.sendall(b"PING\n")
        assert recv_exactly(sock, 5) == b"PONG\n"


def test_make_http_server_unix(make_http_server):
    server = make_http_server(unix=True)
    server.expect("GET", "/info").respond(200, json={"ok": True})
    conn = UnixHTTPConnection(server.path)
    try:
        conn.request("GET", "/info")
        with conn.getresponse() as response:
            assert response.read() == b'{"ok": true}'
    finally:
        conn.close()


def test_make_redis_server_and_make_tcp_proxy(make_redis_server, make_tcp_proxy):
    server = make_redis_server(unix=True)
    server.expect("GET", "k").reply(b"v")
    proxy = make_tcp_proxy(upstream=server.path, framing=sockfix.framing.resp())
    host, port = proxy.address
    with redis.Redis(host=host, port=port, socket_timeout=2, retry=Retry(NoBackoff(), 0)) as r:
        assert r.get("k") == b"v"
    assert server.commands == [[b"GET", b"k"]]


@pytest.mark.leaks_ok  # pytester runs a pytest session in this one
def test_the_fixtures_remove_the_socket_at_teardown_and_the_report_names_it(pytester):
    pytester.makepyfile(
        """
        import os
        import socket

        SEEN = {}


        def test_uses_it(make_tcp_server):
            server = make_tcp_server(unix=True)
            SEEN["path"] = server.path
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(5)
                sock.connect(server.path)
                sock.sendall(b"NOPE\\n")
                assert sock.recv(10) == b""


        def test_it_is_gone():
            assert not os.path.exists(os.path.dirname(SEEN["path"]))
        """
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
        "--timeout=20", "--timeout-method=thread",
    )  # fmt: skip
    result.assert_outcomes(passed=1, failed=1)  # the strict failure fails the test
    result.stdout.fnmatch_lines(
        [
            "*sockfix TCPServer unix:/tmp/sockfix-*/s (strict*saw 1 problem*",
            "*connection 1 from unix client (*): 5 B in, 0 B out, 1 message",
        ]
    )


# -- faults: Reset ------------------------------------------------------------------------------


def test_a_reset_rule_with_nothing_unread_is_an_eof_and_says_so():
    with sockfix.TCPServer(unix=True) as server:
        server.expect(b"BOOM\n").respond(b"bye\n").reset()
        with unix_connect(server.path) as sock:
            sock.sendall(b"BOOM\n")
            assert read_to_end(sock) == (b"bye\n", "EOF")  # no ECONNRESET: nothing was unread
        conn = ended(server)
    assert notes(conn)[-1] == ("close", f"rule 1: {EOF_NOTE}")
    assert "reset" not in kinds(conn)


def test_a_reset_rule_with_the_clients_bytes_unread_is_econnreset():
    gate = threading.Event()

    def answer(message: bytes) -> bytes:
        gate.wait(TIMEOUT)  # the server's thread waits here: nothing more is read
        return b"bye\n"

    with sockfix.TCPServer(unix=True) as server:
        server.expect(b"BOOM\n").respond(answer).reset()
        with unix_connect(server.path) as sock:
            sock.sendall(b"BOOM\n")
            server.wait_until(lambda s: s.connections[0].received == b"BOOM\n")
            sock.sendall(b"unread\n")  # in the server's receive queue, never read
            gate.set()
            assert read_to_end(sock) == (b"bye\n", "ConnectionResetError")
        conn = ended(server)
    assert notes(conn)[-1] == ("reset", f"rule 1; {reset_note(7)}")
    assert conn.received == b"BOOM\n"  # the unread bytes never crossed into sockfix


def test_the_reset_fault_at_connect_with_nothing_unread_is_an_eof():
    with sockfix.TCPServer(unix=True, strict=False) as server:
        server.fault(faults.Reset())
        with unix_connect(server.path) as sock:
            assert read_to_end(sock) == (b"", "EOF")
        conn = ended(server)
    assert notes(conn) == [
        ("connect", "from unix client"),
        ("fault", "Reset(): reset on connect"),
        ("close", f"fault: {EOF_NOTE}"),
    ]


def test_the_reset_fault_at_connect_after_the_client_sent_is_econnreset():
    gate = threading.Event()
    with sockfix.TCPServer(unix=True, strict=False, on_event=held_on_connect(gate)) as server:
        server.fault(faults.Reset())
        with unix_connect(server.path) as sock:
            sock.sendall(b"hello\n")
            gate.set()
            assert read_to_end(sock) == (b"", "ConnectionResetError")
        conn = ended(server)
    assert notes(conn) == [
        ("connect", "from unix client"),
        ("fault", "Reset(): reset on connect"),
        ("reset", f"fault; {reset_note(6)}"),
    ]


def test_reset_after_bytes_with_the_clients_bytes_unread_is_econnreset():
    gate = threading.Event()

    def answer(message: bytes) -> bytes:
        gate.wait(TIMEOUT)
        return b"VALUE 42\n"

    with sockfix.TCPServer(unix=True) as server:
        server.expect(b"GET\n").respond(answer)
        server.fault(faults.Reset(after_bytes=6))
        with unix_connect(server.path) as sock:
            sock.sendall(b"GET\n")
            server.wait_until(lambda s: s.connections[0].received == b"GET\n")
            sock.sendall(b"GET\n")
            gate.set()
            assert read_to_end(sock) == (b"VALUE ", "ConnectionResetError")
        conn = ended(server)
    assert notes(conn)[-2:] == [
        ("fault", "Reset(after_bytes=6): reset after 6 bytes (3 bytes not sent)"),
        ("reset", f"fault; {reset_note(4)}"),
    ]


def test_reset_after_bytes_with_nothing_unread_is_an_eof():
    with sockfix.TCPServer(unix=True, strict=False) as server:
        server.on_connect().respond(b"220 ready\r\n")
        server.fault(faults.Reset(after_bytes=3))
        with unix_connect(server.path) as sock:
            assert read_to_end(sock) == (b"220", "EOF")
        conn = ended(server)
    assert notes(conn)[-1] == ("close", f"fault: {EOF_NOTE}")


def test_reset_twice_then_the_reply_a_client_retrying_on_any_end():
    with sockfix.TCPServer(unix=True) as server:
        server.expect(b"GET\n").reset().times(2)
        server.expect(b"GET\n").respond(b"VALUE 42\n")
        seen = []
        for _ in range(3):
            with unix_connect(server.path) as sock, sock.makefile("rb") as replies:
                sock.sendall(b"GET\n")
                seen.append(replies.readline())  # b"" at EOF
            if seen[-1]:
                break
        ended(server, 3)
    # A client that retries only on ConnectionResetError would not retry here: it sees EOFs.
    assert seen == [b"", b"", b"VALUE 42\n"]


def test_on_unmatched_reset_with_nothing_unread_is_an_eof():
    with sockfix.TCPServer(unix=True, strict=False, on_unmatched="reset") as server:
        with unix_connect(server.path) as sock:
            sock.sendall(b"NOPE\n")
            assert read_to_end(sock) == (b"", "EOF")
        conn = ended(server)
    assert notes(conn)[-1] == ("close", f"on_unmatched: {EOF_NOTE}")


# -- faults: the others -------------------------------------------------------------------------


def test_close_at_connect_is_an_eof():
    with sockfix.TCPServer(unix=True, strict=False) as server:
        server.fault(faults.Close())
        with unix_connect(server.path) as sock:
            assert read_to_end(sock) == (b"", "EOF")
        conn = ended(server)
    assert notes(conn)[1:] == [("fault", "Close(): closed on connect"), ("close", "fault")]


def test_close_after_bytes_of_the_greeting():
    with sockfix.TCPServer(unix=True, strict=False) as server:
        server.on_connect().respond(b"220 ready\r\n")
        server.fault(faults.Close(after_bytes=5))
        with unix_connect(server.path) as sock:
            assert read_to_end(sock) == (b"220 r", "EOF")
        conn = ended(server)
    assert conn.sent == b"220 r"
    assert notes(conn)[1:] == [
        ("fault", "Close(after_bytes=5): closed after 5 bytes (6 bytes not sent)"),
        ("close", "fault"),
    ]


def test_close_with_the_clients_bytes_unread_is_an_eof_or_says_it_is_not():
    gate = threading.Event()
    with sockfix.TCPServer(unix=True, strict=False, on_event=held_on_connect(gate)) as server:
        server.fault(faults.Close())
        with unix_connect(server.path) as sock:
            sock.sendall(b"hello\n")
            gate.set()
            conn = ended(server)  # read once the close is done: no race with its shutdown()
            seen = read_to_end(sock)
    close = conn.events[-1]
    assert close.kind == "close"
    assert seen == (b"", "EOF") or "ECONNRESET" in close.note, (seen, close.note)


def test_truncate():
    with sockfix.TCPServer(unix=True) as server:
        server.expect(b"GET\n").respond(b"VALUE 42\n")
        server.fault(faults.Truncate(5))
        with unix_connect(server.path) as sock:
            sock.sendall(b"GET\n")
            assert read_to_end(sock) == (b"VALUE", "EOF")
        conn = ended(server)
    assert notes(conn)[-2:] == [
        ("fault", "Truncate(5): truncated after 5 bytes (4 bytes not sent)"),
        ("close", "fault"),
    ]


def test_garbage():
    with sockfix.TCPServer(unix=True, seed=1) as server:
        server.expect(b"GET\n").respond(b"VALUE 42\n")
        server.fault(faults.Garbage(4))
        with unix_connect(server.path) as sock:
            sock.sendall(b"GET\n")
            got, end = read_to_end(sock)
        conn = ended(server)
    assert (len(got), end) == (4, "EOF")
    assert conn.sent == got
    assert notes(conn)[-2:] == [
        ("fault", "Garbage(4): 4 random bytes instead of 9, then close"),
        ("close", "fault"),
    ]


def test_corrupt_changes_every_byte_not_the_length():
    with sockfix.TCPServer(unix=True) as server:
        server.expect(b"GET\n").respond(b"VALUE 42\n")
        server.fault(faults.Corrupt(1.0))
        with unix_connect(server.path) as sock:
            sock.sendall(b"GET\n")
            got = recv_exactly(sock, 9)
        conn = ended(server)
    assert all(a != b for a, b in zip(got, b"VALUE 42\n", strict=True))
    assert conn.sent == got


def test_hang_then_a_prompt_stop():
    server = sockfix.TCPServer(unix=True).start()
    server.fault(faults.Hang())
    try:
        with unix_connect(server.path, timeout=0.2) as sock:
            sock.sendall(b"GET\n")
            server.wait_until(lambda s: s.connections[0].received == b"GET\n")
            with pytest.raises(TimeoutError):
                sock.recv(10)
            started = time.monotonic()
            server.stop()
            assert time.monotonic() - started < 0.5
            assert sock.recv(10) == b""
    finally:
        server.stop()
    assert notes(server.connections[0]) == [
        ("connect", "from unix client"),
        ("fault", "Hang(): hanging: no answer, no close"),
        ("close", "server stopped"),
    ]
    assert not os.path.exists(os.path.dirname(server.path))


def test_timeout_stalls_reading_then_closes():
    with sockfix.TCPServer(unix=True, strict=False) as server:
        server.expect(b"GET\n").respond(b"VALUE 42\n")
        server.fault(faults.Timeout(0.2))
        with unix_connect(server.path) as sock:
            started = time.monotonic()
            sock.sendall(b"GET\n")
            server.wait_until(lambda s: s.connections[0].received == b"GET\n")  # read, unanswered
            assert read_to_end(sock) == (b"", "EOF")
            assert time.monotonic() - started >= 0.2
        conn = ended(server)
    assert notes(conn)[1:] == [
        ("fault", "Timeout(0.2): stalling 0.2 s, then closing"),
        ("close", "fault"),
    ]
    assert conn.sent == b""


def test_latency():
    with sockfix.TCPServer(unix=True) as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        server.fault(faults.Latency(0.05))
        with unix_connect(server.path) as sock:
            started = time.monotonic()
            sock.sendall(b"PING\n")
            assert recv_exactly(sock, 5) == b"PONG\n"
            assert time.monotonic() - started >= 0.05
    assert notes(server.connections[0])[1] == (
        "fault",
        "Latency(0.05): delayed 5 bytes by 0.050000 s",
    )


def test_chunked():
    with sockfix.TCPServer(unix=True) as server:
        server.expect(b"GET\n").respond(b"hello world\n")
        server.fault(faults.Chunked(3, delay=0.001))
        with unix_connect(server.path) as sock:
            sock.sendall(b"GET\n")
            assert recv_exactly(sock, 12) == b"hello world\n"
        conn = ended(server)
    assert [e.data for e in conn.events if e.kind == "out"] == [b"hel", b"lo ", b"wor", b"ld\n"]
    assert ("fault", "Chunked(3, delay=0.001): 12 bytes as 4 sends") in notes(conn)


def test_bandwidth():
    with sockfix.TCPServer(unix=True) as server:
        server.expect(b"GET\n").respond(b"x" * 50)
        server.fault(faults.Bandwidth(1000))  # 10-byte sends, 10 ms apart
        with unix_connect(server.path) as sock:
            started = time.monotonic()
            sock.sendall(b"GET\n")
            assert recv_exactly(sock, 50) == b"x" * 50
            assert time.monotonic() - started >= 0.04
        conn = ended(server)
    assert [e.data for e in conn.events if e.kind == "out"] == [b"x" * 10] * 5


def test_half_close_sends_eof_and_keeps_reading():
    with sockfix.TCPServer(unix=True) as server:
        server.expect(b"GET\n").respond(b"VALUE 42\n")
        server.fault(faults.HalfClose())
        with unix_connect(server.path) as sock:
            assert sock.recv(10) == b""  # the server's write side is closed
            sock.sendall(b"GET\n")  # its read side is not
            server.wait_until(lambda s: s.connections[0].received == b"GET\n")
        conn = ended(server)
    assert conn.sent == b""
    assert notes(conn) == [
        ("connect", "from unix client"),
        ("fault", "HalfClose(): FIN sent on connect, still reading"),
        ("fault", "HalfClose(): FIN after 0 bytes (9 bytes not sent)"),
        ("eof", "peer closed its side"),
        ("close", ""),
    ]


def test_slow_close_delays_the_eof():
    with sockfix.TCPServer(unix=True) as server:
        server.expect(b"BYE\n").respond(b"bye\n").close()
        server.fault(faults.SlowClose(0.1))
        with unix_connect(server.path) as sock:
            sock.sendall(b"BYE\n")
            assert recv_exactly(sock, 4) == b"bye\n"
            assert sock.recv(10) == b""  # the EOF, 0.1 s after the reply
        conn = ended(server)
    assert notes(conn)[-2:] == [("fault", "SlowClose(0.1): FIN delayed 0.1 s"), ("close", "rule 1")]
    reply, close = conn.events[-3], conn.events[-1]
    assert reply.kind == "out"
    assert close.time - reply.time >= 0.1


def test_udp_faults_are_refused_on_a_unix_stream_server():
    with (
        sockfix.TCPServer(unix=True) as server,
        pytest.raises(TypeError, match=r"Drop\(0\.5\) is not a TCP fault"),
    ):
        server.fault(faults.Drop(0.5))


def test_handshake_hang_over_a_unix_socket():
    with sockfix.TCPServer(unix=True, tls=True, strict=False) as server:
        server.fault(faults.HandshakeHang())
        context = server.client_context()
        with unix_connect(server.path, timeout=0.2) as raw, pytest.raises(TimeoutError):
            context.wrap_socket(raw, server_hostname="localhost")
        server.wait_until(lambda s: s.connections and len(s.connections[0].events) >= 3)
    conn = server.connections[0]
    assert notes(conn)[:3] == [
        ("connect", "from unix client"),
        ("fault", "HandshakeHang(): TLS handshake left unanswered"),
        ("fault", f"TLS ClientHello ({len(conn.events[2].data)} bytes), not answered"),
    ]


def test_handshake_reset_over_a_unix_socket_is_a_reset():
    with sockfix.TCPServer(unix=True, tls=True, strict=False) as server:
        server.fault(faults.HandshakeReset())
        context = server.client_context()
        with unix_connect(server.path) as raw, pytest.raises(ConnectionResetError):
            context.wrap_socket(raw, server_hostname="localhost")
        conn = ended(server)
    assert conn.events[-1].kind == "reset"


def test_refuse_and_resume_on_the_same_path():
    with sockfix.TCPServer(unix=True) as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        path = server.path
        server.refuse()
        assert stat.S_ISSOCK(os.lstat(path).st_mode)  # the file stays; nothing listens on it
        with pytest.raises(ConnectionRefusedError):
            unix_connect(path)
        server.resume()
        assert server.path == path
        with unix_connect(path) as sock:
            sock.sendall(b"PING\n")
            assert recv_exactly(sock, 5) == b"PONG\n"
        assert len(server.connections) == 1  # a refused attempt is no connection


def test_stop_while_refusing_removes_the_file_and_folder():
    server = sockfix.TCPServer(unix=True).start()
    server.refuse()
    server.stop()
    assert not os.path.exists(os.path.dirname(server.path))


def test_stop_leaves_another_servers_socket_file_alone(folder):
    path = os.path.join(folder, "s")
    first = sockfix.TCPServer(unix=path).start()
    first.refuse()
    with sockfix.TCPServer(unix=path) as second:  # the refused one's file is stale: replaced
        second.expect(b"PING\n").respond(b"PONG\n")
        first.stop()
        with unix_connect(path) as sock:
            sock.sendall(b"PING\n")
            assert recv_exactly(sock, 5) == b"PONG\n"


def test_max_connections_closes_the_next_with_an_eof():
    with (  # noqa: PT012
        pytest.raises(sockfix.StrictError, match=r"connection 2: reset on accept, past"),
        sockfix.TCPServer(unix=True, max_connections=1) as server,
        unix_connect(server.path) as first,
    ):
        server.wait_for_connections(1)
        with unix_connect(server.path) as second:
            assert read_to_end(second) == (b"", "EOF")
        conn = ended(server, 2)
        assert first.getpeername() == server.path
    assert notes(conn) == [
        ("connect", "from unix client"),
        ("close", f"max_connections=1; {EOF_NOTE}"),
    ]


def test_max_connections_resets_the_next_if_it_sent_first():
    gate = threading.Event()

    def hold_the_second(conn: sockfix.Connection, event: sockfix.Event) -> None:
        if event.kind == "connect" and conn.number == 2:
            gate.wait(TIMEOUT)

    with (
        sockfix.TCPServer(
            unix=True, strict=False, max_connections=1, on_event=hold_the_second
        ) as server,
        unix_connect(server.path),
    ):
        server.wait_for_connections(1)
        with unix_connect(server.path) as second:
            second.sendall(b"hi\n")
            gate.set()
            assert read_to_end(second) == (b"", "ConnectionResetError")
        conn = ended(server, 2)
    assert notes(conn)[-1] == ("reset", f"max_connections=1; {reset_note(3)}")


# -- TCPProxy(upstream=PATH) ----------------------------------------------------------------------


def test_a_proxy_in_front_of_a_socket_file_records_both_ways():
    with sockfix.TCPServer(unix=True) as daemon:
        daemon.expect(b"PING\n").respond(b"PONG\n")
        with sockfix.TCPProxy(upstream=daemon.path) as proxy:
            assert proxy.upstream == (daemon.path, 0)
            with socket.create_connection(proxy.address, timeout=TIMEOUT) as sock:
                sock.sendall(b"PING\n")
                assert recv_exactly(sock, 5) == b"PONG\n"
            conn = proxied(proxy)
            proxy.wait_until(lambda p: p.connections[0].upstream.closed)
            title = proxy.transcript().splitlines()[0]
    assert (conn.received, conn.sent) == (b"PING\n", b"PONG\n")
    assert (conn.upstream.sent, conn.upstream.received) == (b"PING\n", b"PONG\n")
    assert conn.upstream.peer == (daemon.path, 0)
    assert notes(conn.upstream)[0] == ("connect", f"to unix:{daemon.path}")
    assert f"upstream unix:{daemon.path}" in title
    assert daemon.connections[0].received == b"PING\n"


def test_proxy_faults_toward_a_socket_file():
    with sockfix.TCPServer(unix=True) as daemon:
        daemon.expect(b"PING\n").respond(b"PONG\n")
        with sockfix.TCPProxy(upstream=daemon.path) as proxy:
            proxy.fault(faults.Latency(0.05), direction="upstream")
            proxy.fault(faults.Chunked(2), direction="downstream")
            with socket.create_connection(proxy.address, timeout=TIMEOUT) as sock:
                started = time.monotonic()
                sock.sendall(b"PING\n")
                assert recv_exactly(sock, 5) == b"PONG\n"
                assert time.monotonic() - started >= 0.05
            conn = proxied(proxy)
    assert [e.data for e in conn.events if e.kind == "out"] == [b"PO", b"NG", b"\n"]
    assert conn.upstream.received == b"PONG\n"
    assert [n for k, n in notes(conn) if k == "fault"] == [
        "upstream: Latency(0.05): delayed 5 bytes by 0.050000 s",
        "downstream: Chunked(2): 5 bytes as 3 sends",
    ]


def test_a_proxy_reset_resets_the_tcp_client_and_closes_the_socket_file():
    with sockfix.TCPServer(unix=True, strict=False) as daemon:
        with sockfix.TCPProxy(upstream=daemon.path) as proxy:
            proxy.fault(faults.Reset(), direction="downstream")
            assert tcp_read_to_end(proxy.address) == (b"", "ConnectionResetError")  # a RST
            conn = proxied(proxy)
            proxy.wait_until(lambda p: p.connections[0].upstream.closed)
        served = ended(daemon)
    assert notes(conn)[1:] == [
        ("fault", "downstream: Reset(): reset on connect"),
        ("reset", "by proxy"),
    ]
    assert notes(conn.upstream) == [
        ("connect", f"to unix:{daemon.path}"),
        ("close", f"by proxy: {EOF_NOTE}"),
    ]
    assert notes(served) == [
        ("connect", "from unix client"),
        ("eof", "peer closed its side"),
        ("close", ""),
    ]


def test_a_proxy_truncate_toward_the_client():
    with sockfix.TCPServer(unix=True) as daemon:
        daemon.expect(b"PING\n").respond(b"PONG\n")
        with sockfix.TCPProxy(upstream=daemon.path) as proxy:
            proxy.fault(faults.Truncate(3), direction="downstream")
            with socket.create_connection(proxy.address, timeout=TIMEOUT) as sock:
                sock.sendall(b"PING\n")
                assert read_to_end(sock) == (b"PON", "EOF")
            conn = proxied(proxy)
    assert (conn.sent, conn.upstream.received) == (b"PON", b"PONG\n")


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        (lambda path: None, "[Errno 2] No such file or directory"),
        (stale_socket, "[Errno 111] Connection refused"),
    ],
    ids=["no-file", "stale-socket-file"],
)
def test_a_proxy_to_a_socket_file_nobody_listens_on(folder, setup, error):
    path = os.path.join(folder, "daemon.sock")
    setup(path)
    with sockfix.TCPProxy(upstream=path) as proxy:
        assert tcp_read_to_end(proxy.address) == (b"", "ConnectionResetError")
        conn = proxied(proxy)
    assert notes(conn)[1:] == [
        ("error", f"upstream unreachable ({error}); resetting the client"),
        ("reset", "by proxy"),
    ]
    assert notes(conn.upstream) == [("error", f"upstream unix:{path}: {error}")]


def test_proxy_upstream_strings():
    with pytest.raises(TypeError, match=re.escape("pass a pair, upstream=('127.0.0.1', 6379)")):
        sockfix.TCPProxy(upstream="127.0.0.1:6379")
    with pytest.raises(TypeError, match=re.escape("pass a pair, upstream=('::1', 6379)")):
        sockfix.TCPProxy(upstream="[::1]:6379")
    with pytest.raises(ValueError, match=rf"must be under {SUN_PATH_MAX} bytes"):
        sockfix.TCPProxy(upstream="/tmp/" + "x" * SUN_PATH_MAX)
    assert sockfix.TCPProxy(upstream="app.sock").upstream == ("./app.sock", 0)  # relative
    assert sockfix.TCPProxy(upstream=Path("/run/app.sock")).upstream == ("/run/app.sock", 0)
