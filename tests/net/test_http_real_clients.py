"""Real HTTP clients against HTTPServer: requests, httpx (sync and async), urllib.request and
http.client, through the common exchanges and under faults, each failure checked with the
exception the client really raises (its class, its cause chain, and its text where stable)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import h11
import httpcore
import httpx
import pytest
import requests
import requests.adapters
import urllib3
from _nethelp import kinds
from urllib3.util import Retry

import sockfix
from sockfix import faults

CLIENTS = ("requests", "httpx", "httpx-async", "urllib", "http.client")
KEEP_ALIVE = ("requests", "httpx", "httpx-async", "http.client")  # urllib sends Connection: close
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
RESET = ConnectionResetError(errno.ECONNRESET, os.strerror(errno.ECONNRESET))


@dataclass(frozen=True)
class Call:
    """One request of a client session."""

    method: str = "GET"
    path: str = "/"
    json: Any = None
    chunks: tuple[bytes, ...] | None = None  # sent as a streamed (chunked) body
    headers: dict[str, str] = field(default_factory=dict)
    # the streamed body waits for this to hold before its first chunk
    gate: Callable[[sockfix.HTTPServer], bool] | None = None
    # the request waits for this to hold before it is sent
    wait: Callable[[sockfix.HTTPServer], bool] | None = None


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes
    url: str


def _lower(items: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in items}


def _wait(server: sockfix.HTTPServer, call: Call) -> None:
    if call.wait is not None:
        server.wait_until(call.wait)


def _sync_chunks(server: sockfix.HTTPServer, call: Call) -> Iterator[bytes]:
    if call.gate is not None:
        server.wait_until(call.gate)
    yield from call.chunks or ()


async def _async_chunks(server: sockfix.HTTPServer, call: Call) -> AsyncIterator[bytes]:
    if call.gate is not None:
        await server.wait_until_async(call.gate)
    for chunk in call.chunks or ():
        yield chunk


def _run_requests(
    server: sockfix.HTTPServer, calls: tuple[Call, ...], timeout: float, follow: bool
) -> list[Reply]:
    out = []
    with requests.Session() as session:
        session.trust_env = False  # no proxy or netrc from the environment
        for call in calls:
            _wait(server, call)
            url = server.url(call.path)
            kwargs: dict[str, Any] = {"headers": call.headers, "timeout": timeout}
            if call.json is not None:
                kwargs["json"] = call.json
            if call.chunks is not None:
                kwargs["data"] = _sync_chunks(server, call)
            if call.method == "HEAD":
                r = session.head(url, **kwargs)
            else:
                r = session.request(call.method, url, allow_redirects=follow, **kwargs)
            out.append(Reply(r.status_code, _lower(r.headers.items()), r.content, r.url))
    return out


def _httpx_kwargs(call: Call) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"headers": call.headers}
    if call.json is not None:
        kwargs["json"] = call.json
    return kwargs


def _run_httpx(
    server: sockfix.HTTPServer, calls: tuple[Call, ...], timeout: float, follow: bool
) -> list[Reply]:
    out = []
    with httpx.Client(timeout=timeout, follow_redirects=follow, trust_env=False) as client:
        for call in calls:
            _wait(server, call)
            kwargs = _httpx_kwargs(call)
            if call.chunks is not None:
                kwargs["content"] = _sync_chunks(server, call)
            r = client.request(call.method, server.url(call.path), **kwargs)
            out.append(Reply(r.status_code, _lower(r.headers.items()), r.content, str(r.url)))
    return out


def _run_httpx_async(
    server: sockfix.HTTPServer, calls: tuple[Call, ...], timeout: float, follow: bool
) -> list[Reply]:
    async def main() -> list[Reply]:
        out = []
        async with httpx.AsyncClient(
            timeout=timeout, follow_redirects=follow, trust_env=False
        ) as client:
            for call in calls:
                if call.wait is not None:
                    await server.wait_until_async(call.wait)
                kwargs = _httpx_kwargs(call)
                if call.chunks is not None:
                    kwargs["content"] = _async_chunks(server, call)
                r = await client.request(call.method, server.url(call.path), **kwargs)
                out.append(Reply(r.status_code, _lower(r.headers.items()), r.content, str(r.url)))
        return out

    return asyncio.run(main())


def _body_and_headers(server: sockfix.HTTPServer, call: Call) -> tuple[Any, dict[str, str]]:
    headers = dict(call.headers)
    if call.json is not None:
        headers["Content-Type"] = "application/json"
        return json.dumps(call.json).encode(), headers
    if call.chunks is not None:
        return _sync_chunks(server, call), headers
    return None, headers


def _run_urllib(
    server: sockfix.HTTPServer, calls: tuple[Call, ...], timeout: float, follow: bool
) -> list[Reply]:
    assert follow, "urllib.request always follows redirects"
    out = []
    for call in calls:
        _wait(server, call)
        data, headers = _body_and_headers(server, call)
        request = urllib.request.Request(
            server.url(call.path), data=data, headers=headers, method=call.method
        )
        with urllib.request.urlopen(request, timeout=timeout) as r:
            out.append(Reply(r.status, _lower(r.headers.items()), r.read(), r.url))
    return out


def _run_http_client(
    server: sockfix.HTTPServer, calls: tuple[Call, ...], timeout: float, follow: bool
) -> list[Reply]:
    out = []
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        for call in calls:
            _wait(server, call)
            body, headers = _body_and_headers(server, call)
            conn.request(
                call.method, call.path, body, headers, encode_chunked=call.chunks is not None
            )
            r = conn.getresponse()
            out.append(Reply(r.status, _lower(r.getheaders()), r.read(), server.url(call.path)))
    finally:
        conn.close()
    return out


_RUNNERS = {
    "requests": _run_requests,
    "httpx": _run_httpx,
    "httpx-async": _run_httpx_async,
    "urllib": _run_urllib,
    "http.client": _run_http_client,
}


def run(
    client: str,
    server: sockfix.HTTPServer,
    *calls: Call,
    timeout: float = 5.0,
    follow: bool = True,
) -> list[Reply]:
    """Make ``calls`` in order with one session (one client object) of ``client``."""
    return _RUNNERS[client](server, calls or (Call(),), timeout, follow)


def chain(exc: BaseException) -> list[type[BaseException]]:
    """The exception's type, then its causes' (``__cause__``, else ``__context__``)."""
    out: list[type[BaseException]] = []
    seen: BaseException | None = exc
    while seen is not None and len(out) < 10:
        out.append(type(seen))
        seen = seen.__cause__ or seen.__context__
    return out


def root(exc: BaseException) -> BaseException:
    while (exc.__cause__ or exc.__context__) is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return exc


def out_events(conn: sockfix.Connection) -> list[sockfix.Event]:
    return [e for e in conn.events if e.kind == "out"]


# -- the common exchanges -------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_json_get(client: str) -> None:
    with sockfix.HTTPServer() as server:
        server.expect("GET", "/users/1").respond(200, json={"id": 1, "tags": ["a", "b"]})
        [reply] = run(client, server, Call("GET", "/users/1"))
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["content-length"] == str(len(reply.body))
    assert json.loads(reply.body) == {"id": 1, "tags": ["a", "b"]}
    [request] = server.requests
    assert (request.method, request.target, request.body) == ("GET", "/users/1", b"")
    assert request.headers["host"] == f"127.0.0.1:{server.port}"


@pytest.mark.parametrize("client", CLIENTS)
def test_post_json_body_is_matched_by_expect_json(client: str) -> None:
    with sockfix.HTTPServer() as server:
        server.expect("POST", "/users", json={"name": "ada", "admin": False}).respond(
            201, json={"id": 7}, headers={"Location": "/users/7"}
        )
        [reply] = run(client, server, Call("POST", "/users", json={"name": "ada", "admin": False}))
    assert (reply.status, reply.headers["location"], json.loads(reply.body)) == (
        201,
        "/users/7",
        {"id": 7},
    )
    [request] = server.requests
    assert request.headers["content-type"] == "application/json"
    assert request.headers["content-length"] == str(len(request.body))
    assert request.json() == {"name": "ada", "admin": False}


@pytest.mark.parametrize("client", CLIENTS)
def test_keep_alive_reuses_one_connection(client: str) -> None:
    with sockfix.HTTPServer() as server:
        server.expect("GET", "/n").respond(lambda r: (200, {}, r.query["i"][0].encode())).times(3)
        replies = run(client, server, *(Call("GET", f"/n?i={i}") for i in range(3)))
    assert [r.body for r in replies] == [b"0", b"1", b"2"]
    if client in KEEP_ALIVE:
        assert len(server.connections) == 1
        assert [r.connection for r in server.requests] == [1, 1, 1]
        assert server.connections[0].messages == [r.raw for r in server.requests]
    else:  # urllib.request asks to close after every response: one connection each
        assert [r.headers["connection"] for r in server.requests] == ["close"] * 3
        assert len(server.connections) == 3
        for conn in server.connections:
            assert conn.events[-1][1:] == ("close", b"", "rule 1: Connection: close")


@pytest.mark.parametrize("client", CLIENTS)
def test_chunked_transfer_response_is_decoded(client: str) -> None:
    chunks = [b"ab", b"cde", b"f" * 300]
    with sockfix.HTTPServer() as server:
        server.expect("GET", "/stream").respond(200, body=chunks, transfer="chunked")
        [reply] = run(client, server, Call("GET", "/stream"))
    assert reply.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in reply.headers
    assert reply.body == b"".join(chunks)
    coded = b"2\r\nab\r\n3\r\ncde\r\n12c\r\n" + b"f" * 300 + b"\r\n0\r\n\r\n"
    closing = b"Connection: close\r\n" if client == "urllib" else b""
    assert server.connections[0].sent == (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + closing + b"\r\n" + coded
    )


@pytest.mark.parametrize("client", CLIENTS)
def test_slow_body_in_small_sends_is_read_whole(client: str) -> None:
    body = bytes(range(256)) * 2
    with sockfix.HTTPServer() as server:
        server.expect("GET", "/slow").respond(200, body=body).chunked(16, delay=0.005)
        [reply] = run(client, server, Call("GET", "/slow"), timeout=2)
        server.wait_until(lambda s: s.connections[0].bytes_sent >= len(body))
    assert reply.body == body
    conn = server.connections[0]
    sent = conn.sent
    assert [e.data for e in out_events(conn)] == [sent[i : i + 16] for i in range(0, len(sent), 16)]


@pytest.mark.parametrize("client", CLIENTS)
def test_connection_close_response_then_the_client_reconnects(client: str) -> None:
    with sockfix.HTTPServer() as server:
        server.expect("GET", "/first").respond(200, text="one", headers={"Connection": "close"})
        server.expect("GET", "/second").respond(200, text="two")
        replies = run(client, server, Call("GET", "/first"), Call("GET", "/second"))
        server.wait_until(lambda s: s.connections[0].closed)
    assert (replies[0].headers["connection"], replies[0].body) == ("close", b"one")
    assert replies[1].body == b"two"
    assert len(server.connections) == 2
    assert [r.connection for r in server.requests] == [1, 2]
    assert server.connections[0].events[-1][1:] == ("close", b"", "rule 1: Connection: close")


@pytest.mark.parametrize("client", CLIENTS)
def test_server_closes_an_idle_keep_alive_connection(client: str) -> None:
    """``.close()`` after a response that did not say ``Connection: close``: the pooling
    clients see the pooled connection dropped and open another; http.client sends on it and
    reads EOF."""
    with sockfix.HTTPServer() as server:
        server.expect("GET", "/one").respond(200, text="one").close()
        server.expect("GET", "/two").respond(200, text="two")
        closed = Call("GET", "/two", wait=lambda s: s.connections[0].closed)
        if client == "http.client":
            with pytest.raises(http.client.RemoteDisconnected) as info:
                run(client, server, Call("GET", "/one"), closed)
            assert chain(info.value) == [http.client.RemoteDisconnected]
            assert str(info.value) == "Remote end closed connection without response"
            assert [r.path for r in server.requests] == ["/one"]
        else:
            replies = run(client, server, Call("GET", "/one"), closed)
            assert [r.body for r in replies] == [b"one", b"two"]
            assert [r.connection for r in server.requests] == [1, 2]
    if client in KEEP_ALIVE:  # (urllib asked to close anyway: one connection per request)
        assert b"Connection:" not in server.connections[0].sent
        assert server.connections[0].events[-1][1:] == ("close", b"", "rule 1")


@pytest.mark.parametrize("client", CLIENTS)
def test_head_then_get_on_the_same_session(client: str) -> None:
    with sockfix.HTTPServer() as server:
        server.expect("HEAD", "/file").respond(200, body=b"0123456789", headers={"ETag": '"v1"'})
        server.expect("GET", "/file").respond(200, body=b"0123456789", headers={"ETag": '"v1"'})
        head, get = run(client, server, Call("HEAD", "/file"), Call("GET", "/file"))
    assert (head.status, head.headers["content-length"], head.headers["etag"]) == (
        200,
        "10",
        '"v1"',
    )
    assert head.body == b""
    assert get.body == b"0123456789"
    assert [r.method for r in server.requests] == ["HEAD", "GET"]
    if client in KEEP_ALIVE:  # the client did not wait for a body after the HEAD
        assert len(server.connections) == 1
        assert server.connections[0].sent == (
            b'HTTP/1.1 200 OK\r\nETag: "v1"\r\nContent-Length: 10\r\n\r\n'
            b'HTTP/1.1 200 OK\r\nETag: "v1"\r\nContent-Length: 10\r\n\r\n0123456789'
        )


def test_requests_head_module_function() -> None:
    with sockfix.HTTPServer() as server:
        server.expect("HEAD", "/x").respond(200, text="not sent")
        r = requests.head(server.url("/x"), timeout=5)
    assert (r.status_code, r.headers["Content-Length"], r.content) == (200, "8", b"")
    assert server.connections[0].sent.endswith(b"Content-Length: 8\r\n\r\n")


@pytest.mark.parametrize("client", CLIENTS)
def test_redirect_chain(client: str) -> None:
    with sockfix.HTTPServer() as server:
        server.expect("GET", "/a").respond(301, headers={"Location": "/b"})
        server.expect("GET", "/b").respond(302, headers={"Location": server.url("/c")})
        server.expect("GET", "/c").respond(200, text="final")
        [reply] = run(client, server, Call("GET", "/a"))
    if client == "http.client":  # does not follow redirects
        assert (reply.status, reply.headers["location"]) == (301, "/b")
        assert [r.path for r in server.requests] == ["/a"]
        return
    assert (reply.status, reply.body, reply.url) == (200, b"final", server.url("/c"))
    assert [r.path for r in server.requests] == ["/a", "/b", "/c"]
    assert len(server.connections) == (3 if client == "urllib" else 1)


@pytest.mark.parametrize("client", CLIENTS)
def test_as_a_forward_proxy(client: str) -> None:
    """Pointed at as a proxy, the server gets absolute-form targets; ``expect()`` matches
    their path (and the Host header names the origin)."""
    origin = "http://api.example.test/users?page=2"
    with sockfix.HTTPServer() as server:
        server.expect(
            "GET", "/users", query={"page": "2"}, headers={"Host": "api.example.test"}
        ).respond(200, text="via proxy")
        proxy = server.url("/")
        if client == "requests":
            with requests.Session() as session:
                session.trust_env = False  # no proxy settings from the environment
                body = session.get(origin, proxies={"http": proxy}, timeout=5).content
        elif client == "httpx":
            with httpx.Client(proxy=proxy, trust_env=False, timeout=5) as c:
                body = c.get(origin).content
        elif client == "httpx-async":

            async def main() -> bytes:
                async with httpx.AsyncClient(proxy=proxy, trust_env=False, timeout=5) as c:
                    return (await c.get(origin)).content

            body = asyncio.run(main())
        elif client == "urllib":
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy}))
            with opener.open(origin, timeout=5) as r:
                body = r.read()
        else:
            conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
            try:
                conn.request("GET", origin, headers={"Host": "api.example.test"})
                body = conn.getresponse().read()
            finally:
                conn.close()
    assert body == b"via proxy"
    [request] = server.requests
    assert (request.target, request.path, request.query) == (origin, "/users", {"page": ["2"]})


@pytest.mark.parametrize("client", CLIENTS)
def test_streamed_upload_is_sent_chunked(client: str) -> None:
    chunks = (b"hello ", b"chunked ", b"world")
    with sockfix.HTTPServer() as server:
        server.expect("POST", "/upload", body=b"hello chunked world").respond(201)
        [reply] = run(client, server, Call("POST", "/upload", chunks=chunks))
    assert reply.status == 201
    [request] = server.requests
    assert request.body == b"".join(chunks)
    assert request.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in request.headers
    assert request.raw.endswith(b"\r\n\r\n6\r\nhello \r\n8\r\nchunked \r\n5\r\nworld\r\n0\r\n\r\n")


@pytest.mark.timeout(10)
@pytest.mark.parametrize("client", CLIENTS)
def test_expect_100_continue_body_sent_after_the_interim_response(client: str) -> None:
    """The streamed body waits until the server has sent ``100 Continue`` (so it came while
    only the head was in); each client then skips the interim response for the final one."""
    with sockfix.HTTPServer() as server:
        server.expect("PUT", "/big", body=b"x" * 100).respond(201, text="stored")
        call = Call(
            "PUT",
            "/big",
            chunks=(b"x" * 100,),
            headers={"Expect": "100-continue"},
            gate=lambda s: bool(s.connections) and s.connections[0].sent == CONTINUE,
        )
        [reply] = run(client, server, call)
    assert (reply.status, reply.body) == (201, b"stored")
    conn = server.connections[0]
    assert [e.note for e in out_events(conn)] == ["100-continue", "rule 1"]
    assert conn.sent.startswith(CONTINUE + b"HTTP/1.1 201 Created\r\n")
    assert server.requests[0].expects_continue


def test_http_client_waits_for_100_continue_by_hand() -> None:
    with sockfix.HTTPServer() as server:
        server.expect("PUT", "/big", body=b"y" * 50).respond(201)
        conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
        try:
            conn.putrequest("PUT", "/big")
            conn.putheader("Content-Length", "50")
            conn.putheader("Expect", "100-continue")
            conn.endheaders()
            server.wait_until(lambda s: s.connections[0].sent == CONTINUE)
            conn.send(b"y" * 50)
            resp = conn.getresponse()
            assert (resp.status, resp.read()) == (201, b"")
        finally:
            conn.close()
    assert server.connections[0].sent == (
        CONTINUE + b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
    )


@pytest.mark.parametrize("client", CLIENTS)
def test_unmatched_request_gets_a_500_and_stop_raises(client: str) -> None:
    server = sockfix.HTTPServer().start()
    try:
        server.expect("GET", "/known").respond(200)
        if client == "urllib":  # urllib raises HTTPError for a 500 (the error is the response)
            with pytest.raises(urllib.error.HTTPError) as info:
                run(client, server, Call("GET", "/unknown"))
            with info.value as error:
                status, headers, body = error.code, _lower(error.headers.items()), error.read()
        else:
            [reply] = run(client, server, Call("GET", "/unknown"))
            status, headers, body = reply.status, reply.headers, reply.body
    finally:
        with pytest.raises(sockfix.StrictError) as stopped:
            server.stop()
    assert (status, headers["connection"]) == (500, "close")
    assert body.decode().startswith(
        "sockfix: no rule matched request 1 on connection 1: GET /unknown HTTP/1.1\n"
    )
    assert "missed: path '/unknown' is not '/known'" in body.decode()
    assert "no rule matched request 1: GET /unknown HTTP/1.1" in str(stopped.value)
    assert server.connections[0].events[-1][1:] == ("close", b"", "unmatched")


# -- retries --------------------------------------------------------------------------------------


@contextlib.contextmanager
def retrying_session(retry: Any) -> Iterator[requests.Session]:
    """A requests Session whose http:// adapter retries with ``retry``.

    On exit every urllib3 pool is closed by hand before the session: urllib3 2.x's
    ``PoolManager.clear()`` (what ``Session.close()`` calls) forgets its pools without closing
    them, leaving their sockets to a finalizer, and after a retry the pool sits in a reference
    cycle (the caught errors' tracebacks), so its socket would stay open until the cyclic GC.
    """
    adapter = requests.adapters.HTTPAdapter(max_retries=retry)
    with requests.Session() as session:
        session.trust_env = False
        session.mount("http://", adapter)
        try:
            yield session
        finally:
            for key in list(adapter.poolmanager.pools.keys()):
                adapter.poolmanager.pools[key].close()


def _flaky(server: sockfix.HTTPServer) -> None:
    server.expect("GET", "/flaky").reset().times(2)
    server.expect("GET", "/flaky").respond(200, text="ok")


@pytest.mark.parametrize(
    "retry",
    [
        Retry(total=3, backoff_factor=0),  # read=None: read errors count on total
        Retry(total=3, connect=3, read=3, backoff_factor=0),
        3,  # max_retries=3 is Retry.from_int(3)
    ],
    ids=["total=3", "connect=3,read=3", "int 3"],
)
def test_requests_urllib3_retry_after_two_resets(retry: Any) -> None:
    with sockfix.HTTPServer() as server, retrying_session(retry) as session:
        _flaky(server)
        r = session.get(server.url("/flaky"), timeout=5)
        assert (r.status_code, r.text) == (200, "ok")
        server.wait_until(lambda s: s.connections[0].closed and s.connections[1].closed)
    assert len(server.connections) == 3
    assert [r.connection for r in server.requests] == [1, 2, 3]
    for conn in server.connections[:2]:
        assert conn.events[-1][1:] == ("reset", b"", "rule 1")
        assert conn.sent == b""


@pytest.mark.parametrize(
    ("retry", "connections"),
    [
        (Retry(total=3, connect=3, read=0, backoff_factor=0), 1),  # a read error
        (Retry(total=1, backoff_factor=0), 2),
        (0, 1),  # requests' default: max_retries=0
    ],
    ids=["read=0", "total=1", "default 0"],
)
def test_requests_urllib3_retry_gives_up(retry: Any, connections: int) -> None:
    """A reset after the request went out is a read error (not a connect one) to urllib3."""
    server = sockfix.HTTPServer(strict=False).start()  # the rules are not all used up
    try:
        _flaky(server)
        with (
            retrying_session(retry) as session,
            pytest.raises(requests.exceptions.ConnectionError) as info,
        ):
            session.get(server.url("/flaky"), timeout=5)
    finally:
        server.stop()
    exc = info.value
    if retry == 0:  # no MaxRetryError wrapping: the ProtocolError itself
        assert chain(exc) == [
            requests.exceptions.ConnectionError,
            urllib3.exceptions.ProtocolError,
            ConnectionResetError,
        ]
        assert str(exc) == str(("Connection aborted.", RESET))
    else:
        assert chain(exc) == [
            requests.exceptions.ConnectionError,
            urllib3.exceptions.MaxRetryError,
            urllib3.exceptions.ProtocolError,
        ]
        [max_retry] = exc.args
        assert type(max_retry) is urllib3.exceptions.MaxRetryError
        reason = max_retry.reason
        assert type(reason) is urllib3.exceptions.ProtocolError
        assert str(reason) == str(("Connection aborted.", RESET))
        assert str(exc) == (
            f"HTTPConnectionPool(host='127.0.0.1', port={server.port}): Max retries exceeded "
            f"with url: /flaky (Caused by ProtocolError('Connection aborted.', {RESET!r}))"
        )
    assert len(server.connections) == connections


@pytest.mark.timeout(10)
def test_requests_urllib3_retry_after_a_read_timeout() -> None:
    """A read timeout is a read error too: urllib3 retries the GET on a new connection."""
    with sockfix.HTTPServer() as server, retrying_session(Retry(total=2, backoff_factor=0)) as s:
        # (no .times(2): the hung connection's request uses no rule, see
        # test_a_hung_connections_requests_are_recorded_but_use_no_rule below)
        server.expect("GET", "/slow").respond(200, text="second try")
        server.fault(faults.Hang(), connections=[1])
        started = time.monotonic()
        r = s.get(server.url("/slow"), timeout=0.3)
        assert (r.status_code, r.text) == (200, "second try")
        assert time.monotonic() - started >= 0.3
        first, second = server.wait_for_connections(2)
    assert len(server.connections) == 2
    assert first.sent == b""
    assert [e.note for e in first.events if e.kind == "fault"] == [
        "Hang(): hanging: no answer, no close"
    ]
    assert second.sent.endswith(b"\r\n\r\nsecond try")
    assert [r.connection for r in server.requests] == [1, 2]


@pytest.mark.timeout(10)
def test_a_hung_connections_requests_are_recorded_but_use_no_rule() -> None:
    """docs/faults.md: a hung connection's messages are recorded (and parsed), but do not go
    through the rules: no rule use is counted and no strict problem is reported."""
    server = sockfix.HTTPServer().start()
    try:
        rule = server.expect("GET", "/known").respond(200)
        server.fault(faults.Hang())
        with requests.Session() as s:
            s.trust_env = False
            with pytest.raises(requests.exceptions.ReadTimeout):
                s.get(server.url("/unknown"), timeout=0.2)
        server.wait_until(lambda sv: len(sv.requests) == 1)
        assert server.settle()
        problems = server.problems
    finally:
        server.stop(check=False)
    assert [r.path for r in server.requests] == ["/unknown"]
    assert problems == []
    assert rule.used == 0


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_httpx_transport_retries_do_not_retry_a_reset_after_the_request(flavour: str) -> None:
    """``HTTPTransport(retries=3)`` retries connect errors only: a reset after the request went
    out reaches the caller at once, on one connection; the caller has to retry itself."""
    trace: list[str] = []

    def on_trace(name: str, info: Any) -> None:
        trace.append(name)

    async def on_trace_async(name: str, info: Any) -> None:
        trace.append(name)

    def attempts(url: str) -> list[object]:
        results: list[object] = []
        if flavour == "sync":
            transport = httpx.HTTPTransport(retries=3)
            with httpx.Client(transport=transport, trust_env=False, timeout=5) as client:
                for _ in range(3):
                    try:
                        ext = {"trace": on_trace}
                        results.append(client.get(url, extensions=ext).text)
                    except httpx.HTTPError as exc:
                        results.append(exc)
            return results

        async def main() -> None:
            transport = httpx.AsyncHTTPTransport(retries=3)
            async with httpx.AsyncClient(transport=transport, trust_env=False, timeout=5) as client:
                for _ in range(3):
                    try:
                        ext = {"trace": on_trace_async}
                        results.append((await client.get(url, extensions=ext)).text)
                    except httpx.HTTPError as exc:
                        results.append(exc)

        asyncio.run(main())
        return results

    with sockfix.HTTPServer() as server:
        _flaky(server)
        results = attempts(server.url("/flaky"))
        server.wait_until(lambda s: s.connections[0].closed and s.connections[1].closed)
    assert [type(r) for r in results] == [httpx.ReadError, httpx.ReadError, str]
    assert results[2] == "ok"
    assert "connection.retry.started" not in trace
    assert trace.count("connection.connect_tcp.started") == 3  # one per attempt
    assert trace.count("http11.receive_response_headers.failed") == 2
    assert len(server.connections) == 3
    assert [kinds(c)[-1] for c in server.connections[:2]] == ["reset", "reset"]


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_httpx_transport_retries_retry_a_refused_connect(flavour: str) -> None:
    trace: list[str] = []
    errors: list[BaseException] = []

    async def on_trace_async(name: str, info: Any) -> None:
        trace.append(name)

    with sockfix.HTTPServer() as server:
        server.expect("GET", "/").respond(200, text="back")
        server.refuse()
        url = server.url("/")
        if flavour == "sync":
            with httpx.Client(
                transport=httpx.HTTPTransport(retries=1), trust_env=False, timeout=5
            ) as client:
                with pytest.raises(httpx.ConnectError) as info:
                    client.get(url, extensions={"trace": lambda name, _: trace.append(name)})
                errors.append(info.value)
                server.resume()
                text = client.get(url).text
        else:

            async def main() -> str:
                transport = httpx.AsyncHTTPTransport(retries=1)
                async with httpx.AsyncClient(
                    transport=transport, trust_env=False, timeout=5
                ) as client:
                    with pytest.raises(httpx.ConnectError) as info:
                        await client.get(url, extensions={"trace": on_trace_async})
                    errors.append(info.value)
                    server.resume()
                    return (await client.get(url)).text

            text = asyncio.run(main())
    assert text == "back"
    assert trace == [
        "connection.connect_tcp.started",
        "connection.connect_tcp.failed",
        "connection.retry.started",  # retries=1: one more connect, after a 0 s backoff
        "connection.retry.complete",
        "connection.connect_tcp.started",
        "connection.connect_tcp.failed",
    ]
    [error] = errors
    refused = ConnectionRefusedError(errno.ECONNREFUSED, os.strerror(errno.ECONNREFUSED))
    if flavour == "sync":
        assert chain(error) == [httpx.ConnectError, httpcore.ConnectError, ConnectionRefusedError]
        assert str(error) == str(root(error)) == str(refused)
    else:  # anyio tries every address, then raises one OSError for them all
        assert chain(error) == [
            httpx.ConnectError,
            httpcore.ConnectError,
            OSError,
            ConnectionRefusedError,
        ]
        assert str(error) == "All connection attempts failed"
        assert str(root(error)) == (
            f"[Errno {errno.ECONNREFUSED}] Connect call failed ('127.0.0.1', {server.port})"
        )
    assert len(server.connections) == 1  # refused attempts are not connections


# -- timeouts and faults: the exception chain each client raises -----------------------------------
# chain(exc): the exception's type, then its causes'. The first is what the caller catches.

ERRORS: dict[str, dict[str, list[type[BaseException]]]] = {
    "timeout": {
        "requests": [
            requests.exceptions.ReadTimeout,
            urllib3.exceptions.ReadTimeoutError,
            TimeoutError,
        ],
        "httpx": [httpx.ReadTimeout, httpcore.ReadTimeout, TimeoutError],
        "httpx-async": [
            httpx.ReadTimeout,
            httpcore.ReadTimeout,
            TimeoutError,
            asyncio.CancelledError,  # anyio's cancel scope reached its deadline
        ],
        "urllib": [TimeoutError],  # socket.timeout; urlopen wraps only errors while sending
        "http.client": [TimeoutError],
    },
    "reset": {
        "requests": [
            requests.exceptions.ChunkedEncodingError,
            urllib3.exceptions.ProtocolError,
            ConnectionResetError,
        ],
        "httpx": [httpx.ReadError, httpcore.ReadError, ConnectionResetError],
        "httpx-async": [
            httpx.ReadError,
            httpcore.ReadError,
            anyio.BrokenResourceError,
            ConnectionResetError,
        ],
        "urllib": [ConnectionResetError],
        "http.client": [ConnectionResetError],
    },
    "truncate": {
        "requests": [
            requests.exceptions.ChunkedEncodingError,
            urllib3.exceptions.ProtocolError,
            urllib3.exceptions.IncompleteRead,
        ],
        "httpx": [httpx.RemoteProtocolError, httpcore.RemoteProtocolError, h11.RemoteProtocolError],
        "httpx-async": [
            httpx.RemoteProtocolError,
            httpcore.RemoteProtocolError,
            h11.RemoteProtocolError,
        ],
        "urllib": [http.client.IncompleteRead],
        "http.client": [http.client.IncompleteRead],
    },
    "eof": {  # the connection closed before any response
        "requests": [
            requests.exceptions.ConnectionError,
            urllib3.exceptions.ProtocolError,
            http.client.RemoteDisconnected,
        ],
        "httpx": [httpx.RemoteProtocolError, httpcore.RemoteProtocolError],
        "httpx-async": [httpx.RemoteProtocolError, httpcore.RemoteProtocolError],
        "urllib": [http.client.RemoteDisconnected],
        "http.client": [http.client.RemoteDisconnected],
    },
    "garbage": {
        "requests": [
            requests.exceptions.ConnectionError,
            urllib3.exceptions.ProtocolError,
            http.client.BadStatusLine,
        ],
        "httpx": [httpx.RemoteProtocolError, httpcore.RemoteProtocolError],
        "httpx-async": [httpx.RemoteProtocolError, httpcore.RemoteProtocolError],
        "urllib": [http.client.BadStatusLine],
        "http.client": [http.client.BadStatusLine],
    },
}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("shape", ["delay", "hang"])
@pytest.mark.parametrize("client", CLIENTS)
def test_client_read_timeout(client: str, shape: str) -> None:
    assert socket.timeout is TimeoutError
    expected = ERRORS["timeout"][client]
    started = time.monotonic()
    with sockfix.HTTPServer() as server:
        rule = server.expect("GET", "/slow")
        if shape == "delay":
            rule.respond(200, text="late").delay(5)
        else:
            rule.hang()
        with pytest.raises(expected[0]) as info:
            run(client, server, Call("GET", "/slow"), timeout=0.2)
        waited = time.monotonic() - started
    total = time.monotonic() - started
    assert chain(info.value) == expected
    texts = {
        "requests": f"HTTPConnectionPool(host='127.0.0.1', port={server.port}): "
        "Read timed out. (read timeout=0.2)",
        "httpx-async": "",
    }
    assert str(info.value) == texts.get(client, "timed out")
    assert waited >= 0.2
    assert total < 4.5, f"stop() waited out the 5 s delay ({total:.1f} s)"
    assert [r.path for r in server.requests] == ["/slow"]
    assert server.connections[0].sent == b""


BODY = bytes(range(200))


def _cut(sent: bytes) -> tuple[int, int]:
    """(body bytes received, body bytes missing) of a response to BODY cut after ``sent``."""
    got = len(sent) - (sent.index(b"\r\n\r\n") + 4)
    return got, len(BODY) - got


@pytest.mark.timeout(10)
@pytest.mark.parametrize("client", CLIENTS)
def test_reset_mid_body(client: str) -> None:
    expected = ERRORS["reset"][client]
    with sockfix.HTTPServer() as server:
        server.expect("GET", "/file").respond(200, body=BODY)
        server.fault(faults.Reset(after_bytes=60))
        with pytest.raises(expected[0]) as info:
            run(client, server, Call("GET", "/file"))
        server.wait_until(lambda s: s.connections[0].closed)
    assert chain(info.value) == expected
    texts = {
        "requests": str((f"Connection broken: {RESET!r}", RESET)),
        "httpx-async": "",  # anyio.BrokenResourceError has no text
    }
    assert str(info.value) == texts.get(client, str(RESET))
    conn = server.connections[0]
    assert len(conn.sent) == 60
    assert conn.sent.startswith(b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n")
    got, missing = _cut(conn.sent)
    assert got > 0  # the head went out whole, then part of the body
    [fault] = [e for e in conn.events if e.kind == "fault"]
    assert fault.note == f"Reset(after_bytes=60): reset after 60 bytes ({missing} bytes not sent)"
    assert kinds(conn)[-1] == "reset"


@pytest.mark.timeout(10)
@pytest.mark.parametrize("client", CLIENTS)
def test_truncated_body(client: str) -> None:
    expected = ERRORS["truncate"][client]
    with sockfix.HTTPServer() as server:
        server.expect("GET", "/file").respond(200, body=BODY)
        server.fault(faults.Truncate(60))
        with pytest.raises(expected[0]) as info:
            run(client, server, Call("GET", "/file"))
        server.wait_until(lambda s: s.connections[0].closed)
    assert chain(info.value) == expected
    conn = server.connections[0]
    got, missing = _cut(conn.sent)
    incomplete = f"IncompleteRead({got} bytes read, {missing} more expected)"
    httpx_text = (
        f"peer closed connection without sending complete message body (received {got} bytes, "
        "expected 200)"
    )
    texts = {
        "requests": str(
            (f"Connection broken: {incomplete}", urllib3.exceptions.IncompleteRead(got, missing))
        ),
        "httpx": httpx_text,
        "httpx-async": httpx_text,
    }
    assert str(info.value) == texts.get(client, incomplete)
    if isinstance(info.value, http.client.IncompleteRead):
        assert info.value.partial == conn.sent[-got:]
    assert len(conn.sent) == 60
    [fault] = [e for e in conn.events if e.kind == "fault"]
    assert fault.note == f"Truncate(60): truncated after 60 bytes ({missing} bytes not sent)"
    assert kinds(conn)[-1] == "close"


@pytest.mark.timeout(10)
@pytest.mark.parametrize("client", CLIENTS)
def test_silence_then_close(client: str) -> None:
    expected = ERRORS["eof"][client]
    started = time.monotonic()
    with sockfix.HTTPServer() as server:
        server.expect("GET", "/").respond(200, text="never")
        server.fault(faults.Timeout(0.3))
        with pytest.raises(expected[0]) as info:
            run(client, server, Call("GET", "/"), timeout=2)
        assert time.monotonic() - started >= 0.3
        server.wait_until(lambda s: s.connections[0].closed)
    assert chain(info.value) == expected
    eof = "Remote end closed connection without response"
    texts = {
        "requests": str(("Connection aborted.", http.client.RemoteDisconnected(eof))),
        "httpx": "Server disconnected without sending a response.",
        "httpx-async": "Server disconnected without sending a response.",
    }
    assert str(info.value) == texts.get(client, eof)
    conn = server.connections[0]
    assert conn.sent == b""
    assert [(e.kind, e.note) for e in conn.events if e.kind in ("fault", "close")] == [
        ("fault", "Timeout(0.3): stalling 0.3 s, then closing"),
        ("close", "fault"),
    ]


# With seed 1, Garbage(64) starts with a byte >= 0x21 and holds no LF (checked in the test):
# http.client reads all 64 bytes as the status line; h11 waits for the head to end, and the
# close comes first.
GARBAGE_SEED = 1


@pytest.mark.timeout(10)
@pytest.mark.parametrize("client", CLIENTS)
def test_garbage_instead_of_the_response(client: str) -> None:
    expected = ERRORS["garbage"][client]
    with sockfix.HTTPServer(seed=GARBAGE_SEED) as server:
        server.expect("GET", "/").respond(200, text="hello")
        server.fault(faults.Garbage(64))
        with pytest.raises(expected[0]) as info:
            run(client, server, Call("GET", "/"))
        server.wait_until(lambda s: s.connections[0].closed)
    assert chain(info.value) == expected
    conn = server.connections[0]
    junk = conn.sent
    assert len(junk) == 64
    assert junk[0] >= 0x21
    assert b"\n" not in junk
    line = junk.decode("latin-1")
    texts = {
        "requests": str(("Connection aborted.", http.client.BadStatusLine(line))),
        "httpx": "Server disconnected without sending a response.",
        "httpx-async": "Server disconnected without sending a response.",
    }
    assert str(info.value) == texts.get(client, line)
    if isinstance(info.value, http.client.BadStatusLine):
        assert info.value.args == (line,)
    [fault] = [e for e in conn.events if e.kind == "fault"]
    assert fault.note.startswith("Garbage(64): 64 random bytes instead of ")
    assert kinds(conn)[-1] == "close"


@pytest.mark.parametrize("client", ["httpx", "httpx-async"])
def test_httpx_garbage_starting_with_a_control_byte(client: str) -> None:
    """h11 rejects a status line whose first byte is below 0x21 at once (and calls it a request
    line); seed 2 makes Garbage(64) start so."""
    with sockfix.HTTPServer(seed=2) as server:
        server.expect("GET", "/").respond(200, text="hello")
        server.fault(faults.Garbage(64))
        with pytest.raises(httpx.RemoteProtocolError) as info:
            run(client, server, Call("GET", "/"))
        server.wait_until(lambda s: s.connections[0].closed)
    assert server.connections[0].sent[0] < 0x21
    assert chain(info.value) == [
        httpx.RemoteProtocolError,
        httpcore.RemoteProtocolError,
        h11.RemoteProtocolError,
    ]
    assert str(info.value) == "illegal request line"
