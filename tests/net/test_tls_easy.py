"""TLS made easy, checked with real clients nobody here wrote: ``tls=True`` (a session CA made by
trustme), the presets that a correct client refuses, mutual TLS, STARTTLS, the handshake faults
and the TLS-terminating proxy. Each failure is checked with the exception the client really
raises (its class, its cause chain, the OpenSSL ``verify_code`` / ``verify_message`` or
``reason``), and each recording holds the plaintext, byte for byte.

Every client has a timeout and is closed; nothing sleeps to synchronise (``wait_until`` with a
timeout does); only 127.0.0.1 and ::1 are used.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import re
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest
import redis
import requests
import requests.adapters
import urllib3.exceptions
from _nethelp import has_ipv6, kinds, recv_all, recv_exactly, recv_until
from redis.backoff import NoBackoff
from redis.retry import Retry as RedisRetry
from urllib3.util import Retry

import sockfix
import sockfix.net.tls
from sockfix import faults

TIMEOUT = 3.0
STOP_LIMIT = 0.5
PRESETS = ("expired", "not-yet-valid", "wrong-host", "self-signed", "unknown-ca")

# preset -> (the client's verify_code, verify_message, the alert the server's event names)
PRESET_FAILURES = {
    "expired": (10, "certificate has expired", "SSLV3_ALERT_CERTIFICATE_EXPIRED"),
    "not-yet-valid": (9, "certificate is not yet valid", "SSLV3_ALERT_BAD_CERTIFICATE"),
    "wrong-host": (
        62,
        "Hostname mismatch, certificate is not valid for 'localhost'.",
        "SSLV3_ALERT_BAD_CERTIFICATE",
    ),
    "self-signed": (18, "self-signed certificate", "TLSV1_ALERT_UNKNOWN_CA"),
    "unknown-ca": (20, "unable to get local issuer certificate", "TLSV1_ALERT_UNKNOWN_CA"),
}
ALERT_TEXT = {
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "sslv3 alert certificate expired",
    "SSLV3_ALERT_BAD_CERTIFICATE": "sslv3 alert bad certificate",
    "TLSV1_ALERT_UNKNOWN_CA": "tlsv1 alert unknown ca",
}
SSL_C = r"\(_ssl\.c:\d+\)"  # where CPython's _ssl.c raised it (its line number varies)


# -- helpers ----------------------------------------------------------------------------------


def chain(exc: BaseException | None) -> list[BaseException]:
    """``exc`` and its causes (``__cause__``, else ``__context__``), outermost first."""
    out: list[BaseException] = []
    while exc is not None and len(out) < 20:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


def in_chain(exc: BaseException, cls: type[BaseException]) -> Any:
    """The first exception of class ``cls`` in ``exc``'s cause chain (AssertionError if none)."""
    for e in chain(exc):
        if isinstance(e, cls):
            return e
    raise AssertionError(f"no {cls.__name__} in the chain {[repr(e) for e in chain(exc)]}")


@contextlib.contextmanager
def requests_session(retries: int = 0) -> Iterator[requests.Session]:
    """A requests Session that ignores the environment's proxies and CA bundle settings, with
    ``retries`` retries (a urllib3 ``Retry``, no backoff; 0 keeps requests' default, whose
    errors differ: a read timeout raises ``ReadTimeout``, not a ``ConnectionError`` wrapping a
    ``MaxRetryError``). On exit every urllib3 pool is closed by hand: ``Session.close()`` only
    forgets them (their sockets would wait for a finalizer)."""
    max_retries = Retry(total=retries, backoff_factor=0) if retries else 0
    adapter = requests.adapters.HTTPAdapter(max_retries=max_retries)
    with requests.Session() as session:
        session.trust_env = False
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        try:
            yield session
        finally:
            for key in list(adapter.poolmanager.pools.keys()):
                adapter.poolmanager.pools[key].close()


def requests_bytes(host: str, port: int, path: str) -> bytes:
    """The exact request requests sends for ``GET path`` (its default headers, in order)."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in requests.utils.default_headers().items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def httpx_bytes(client: httpx.Client | httpx.AsyncClient, host: str, port: int, path: str) -> bytes:
    """The exact request httpx sends for ``GET path``: Host, then the client's headers."""
    names = {"accept": "Accept", "accept-encoding": "Accept-Encoding"}
    names |= {"connection": "Connection", "user-agent": "User-Agent"}
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{names[k]}: {v}" for k, v in client.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def tls_connect(
    endpoint: Any,
    ctx: ssl.SSLContext | None = None,
    hostname: str = "localhost",
    timeout: float = TIMEOUT,
    **wrap: Any,
) -> ssl.SSLSocket:
    """A raw ``ssl`` client, handshaken, trusting ``endpoint`` (or using ``ctx``)."""
    raw = socket.create_connection(endpoint.address, timeout=timeout)
    try:
        return (ctx or endpoint.client_context()).wrap_socket(raw, server_hostname=hostname, **wrap)
    except BaseException:
        raw.close()
        raise


def all_closed(n: int) -> Any:
    """A ``wait_until`` predicate: ``n`` connections, every one closed."""

    def closed(endpoint: Any) -> bool:
        conns = endpoint.connections
        return len(conns) >= n and all(c.closed for c in conns)

    closed.__qualname__ = f"{n} connection(s) closed"
    return closed


def notes(conn: sockfix.Connection, kind: str) -> list[str]:
    return [e.note for e in conn.events if e.kind == kind]


def resp(*args: bytes) -> bytes:
    """A RESP array of bulk strings (a command as redis-py sends it)."""
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def ok_response(body: bytes, close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


@pytest.fixture
def https() -> Iterator[sockfix.HTTPServer]:
    with sockfix.HTTPServer(tls=True) as server:
        server.expect("GET", "/hello").respond(200, b"hello")
        yield server


# -- tls=True with real clients ---------------------------------------------------------------


def test_requests_verify_ca_path(https: sockfix.HTTPServer) -> None:
    assert https.url("/hello") == f"https://127.0.0.1:{https.port}/hello"
    assert isinstance(https.ca_path, str)
    assert Path(https.ca_path).read_text().startswith("-----BEGIN CERTIFICATE-----\n")
    with requests_session() as session:
        r = session.get(https.url("/hello"), verify=https.ca_path, timeout=TIMEOUT)
        assert (r.status_code, r.content) == (200, b"hello")
    https.wait_until(all_closed(1))
    conn = https.connections[0]
    assert conn.received == requests_bytes("127.0.0.1", https.port, "/hello")
    assert conn.sent == ok_response(b"hello")
    assert kinds(conn) == ["connect", "in", "out", "eof", "close"]
    assert [(r.method, r.path) for r in https.requests] == [("GET", "/hello")]


def test_httpx_sync_verify_client_context(https: sockfix.HTTPServer) -> None:
    with httpx.Client(verify=https.client_context(), timeout=TIMEOUT, trust_env=False) as client:
        r = client.get(https.url("/hello"))
        assert (r.status_code, r.content) == (200, b"hello")
        expected = httpx_bytes(client, "127.0.0.1", https.port, "/hello")
    https.wait_until(all_closed(1))
    assert https.connections[0].received == expected
    assert https.connections[0].sent == ok_response(b"hello")


def test_httpx_async_verify_client_context(https: sockfix.HTTPServer) -> None:
    async def main() -> tuple[int, bytes, bytes]:
        async with httpx.AsyncClient(
            verify=https.client_context(), timeout=TIMEOUT, trust_env=False
        ) as client:
            r = await client.get(https.url("/hello"))
            return r.status_code, r.content, httpx_bytes(client, "127.0.0.1", https.port, "/hello")

    status, body, expected = asyncio.run(main())
    assert (status, body) == (200, b"hello")
    https.wait_until(all_closed(1))
    assert https.connections[0].received == expected


def test_urllib_urlopen_context(https: sockfix.HTTPServer) -> None:
    ctx = https.client_context()
    with urllib.request.urlopen(https.url("/hello"), context=ctx, timeout=TIMEOUT) as r:
        assert (r.status, r.read()) == (200, b"hello")
    https.wait_until(all_closed(1))
    conn = https.connections[0]
    assert conn.received == (
        b"GET /hello HTTP/1.1\r\nAccept-Encoding: identity\r\nHost: 127.0.0.1:%d\r\n"
        b"User-Agent: Python-urllib/%d.%d\r\nConnection: close\r\n\r\n"
        % (https.port, *sys.version_info[:2])
    )
    assert conn.sent == ok_response(b"hello", close=True)


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1"])
def test_http_client_https_connection(https: sockfix.HTTPServer, name: str) -> None:
    conn = http.client.HTTPSConnection(
        name, https.port, context=https.client_context(), timeout=TIMEOUT
    )
    try:
        conn.request("GET", "/hello")
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, b"hello")
        conn.request("GET", "/hello")  # keep-alive: the same TLS connection
        assert conn.getresponse().read() == b"hello"
    finally:
        conn.close()
    https.wait_until(all_closed(1))
    request = b"GET /hello HTTP/1.1\r\nHost: %s:%d\r\nAccept-Encoding: identity\r\n\r\n" % (
        name.encode(),
        https.port,
    )
    assert len(https.connections) == 1
    assert https.connections[0].received == request * 2
    assert https.connections[0].sent == ok_response(b"hello") * 2


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1"])
def test_raw_ssl_client_under_each_name(name: str) -> None:
    with sockfix.TCPServer(tls=True, handler=sockfix.echo(bytes.upper)) as server:
        with tls_connect(server, hostname=name) as client:
            assert client.version() == "TLSv1.3"
            client.sendall(b"hello\n")
            assert recv_until(client, b"\n") == b"HELLO\n"
        server.wait_until(all_closed(1))
    assert server.connections[0].received == b"hello\n"
    assert server.connections[0].sent == b"HELLO\n"


@pytest.mark.timeout(10)
def test_asyncio_streams_against_a_tcp_server() -> None:
    with sockfix.TCPServer(tls=True) as server:
        server.on_connect().respond(b"+OK ready\r\n")
        server.expect(b"PING\r\n").respond(b"+PONG\r\n")
        server.expect(b"QUIT\r\n").respond(b"+BYE\r\n").close()

        async def main() -> list[bytes]:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    server.host,
                    server.port,
                    ssl=server.client_context(),
                    server_hostname="localhost",
                ),
                TIMEOUT,
            )
            try:
                got = [await asyncio.wait_for(reader.readline(), TIMEOUT)]
                writer.write(b"PING\r\n")
                got.append(await asyncio.wait_for(reader.readline(), TIMEOUT))
                writer.write(b"QUIT\r\n")
                got.append(await asyncio.wait_for(reader.read(), TIMEOUT))
                return got
            finally:
                writer.close()
                with contextlib.suppress(ConnectionError, ssl.SSLError):
                    await asyncio.wait_for(writer.wait_closed(), TIMEOUT)

        assert asyncio.run(main()) == [b"+OK ready\r\n", b"+PONG\r\n", b"+BYE\r\n"]
        server.wait_until(all_closed(1))
    conn = server.connections[0]
    assert conn.received == b"PING\r\nQUIT\r\n"
    assert conn.sent == b"+OK ready\r\n+PONG\r\n+BYE\r\n"
    assert "error" not in kinds(conn)


def test_redis_py_ssl_against_redis_server() -> None:
    lib = [
        resp(b"CLIENT", b"SETINFO", b"LIB-NAME", b"redis-py"),
        resp(b"CLIENT", b"SETINFO", b"LIB-VER", redis.__version__.encode()),
    ]
    options: dict[str, Any] = {
        "ssl_ca_certs": None,
        "protocol": 2,
        "socket_timeout": TIMEOUT,
        "socket_connect_timeout": TIMEOUT,
        "retry": RedisRetry(NoBackoff(), 0),
    }
    with sockfix.RedisServer(tls=True) as server:
        server.expect("SET", "k", "v").reply("OK")
        server.expect("GET", "k").reply(b"v")
        options["ssl_ca_certs"] = server.ca_path
        assert server.url() == f"rediss://127.0.0.1:{server.port}/0"
        with redis.Redis(host=server.host, port=server.port, ssl=True, **options) as r:
            assert r.set("k", "v") is True
            assert r.get("k") == b"v"
        with redis.Redis.from_url(server.url(), **options) as r:  # rediss:// turns ssl on
            assert r.get("k") == b"v"
        server.wait_until(all_closed(2))
    first, second = server.connections
    assert first.received == b"".join(lib) + resp(b"SET", b"k", b"v") + resp(b"GET", b"k")
    assert first.sent == b"+OK\r\n+OK\r\n+OK\r\n$1\r\nv\r\n"
    assert second.received == b"".join(lib) + resp(b"GET", b"k")
    assert server.commands == [[b"SET", b"k", b"v"], [b"GET", b"k"], [b"GET", b"k"]]


@pytest.mark.skipif(not has_ipv6(), reason="::1 cannot be bound here")
def test_ipv6_loopback_is_covered_by_the_certificate() -> None:
    with sockfix.HTTPServer(host="::1", tls=True) as server:
        server.expect("GET", "/six").respond(200, b"v6")
        assert server.url("/six") == f"https://[::1]:{server.port}/six"
        with requests_session() as session:
            r = session.get(server.url("/six"), verify=server.ca_path, timeout=TIMEOUT)
            assert (r.status_code, r.content) == (200, b"v6")
        with httpx.Client(verify=server.client_context(), timeout=TIMEOUT, trust_env=False) as c:
            assert c.get(server.url("/six")).content == b"v6"
        with tls_connect(server, hostname="::1") as raw:  # the IP address SAN
            raw.sendall(b"GET /six HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n")
            assert recv_all(raw).endswith(b"\r\n\r\nv6")
        server.wait_until(all_closed(3))
    assert server.connections[0].received == requests_bytes("[::1]", server.port, "/six")
    assert server.connections[0].peer[0] == "::1"


def test_every_tls_server_of_the_session_shares_one_ca() -> None:
    with (
        sockfix.TCPServer(tls=True) as a,
        sockfix.HTTPServer(tls="expired") as b,
        sockfix.RedisServer(tls=True, client_cert="optional") as c,
    ):
        assert a.ca_path == b.ca_path == c.ca_path
        assert os.path.basename(a.ca_path) == "ca.pem"
        ctx = a.client_context()
        assert ctx.verify_mode == ssl.CERT_REQUIRED
        assert ctx.check_hostname
        assert ctx.get_ca_certs() == b.client_context().get_ca_certs()
        (ca,) = ctx.get_ca_certs()
        subject = dict(pair for rdn in ca["subject"] for pair in rdn)
        assert subject["organizationName"] == "sockfix throwaway test CA"


# -- presets: the certificate is what fails -----------------------------------------------------


def check_preset_events(server: sockfix.TCPServer, preset: str, n: int) -> None:
    server.wait_until(all_closed(n))
    alert = PRESET_FAILURES[preset][2]
    pattern = rf"TLS handshake: \[SSL: {alert}\] {ALERT_TEXT[alert]} {SSL_C}"
    for conn in server.connections:
        assert kinds(conn) == ["connect", "error", "close"]
        (note,) = notes(conn, "error")
        assert re.fullmatch(pattern, note), note
        assert conn.received == conn.sent == b""


def check_verify_error(exc: BaseException, preset: str) -> None:
    code, message, _ = PRESET_FAILURES[preset]
    err = in_chain(exc, ssl.SSLCertVerificationError)
    assert (err.verify_code, err.verify_message) == (code, message)
    assert (err.reason, err.library) == ("CERTIFICATE_VERIFY_FAILED", "SSL")


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_fails_a_raw_ssl_client(preset: str) -> None:
    with sockfix.TCPServer(tls=preset) as server:
        with pytest.raises(ssl.SSLCertVerificationError) as info:
            tls_connect(server)
        check_verify_error(info.value, preset)
        check_preset_events(server, preset, 1)


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_fails_requests(preset: str) -> None:
    with sockfix.HTTPServer(tls=preset) as server:
        server.expect("GET", "/").respond(200, b"never")
        url = f"https://localhost:{server.port}/"
        with requests_session() as session, pytest.raises(requests.exceptions.SSLError) as info:
            session.get(url, verify=server.ca_path, timeout=TIMEOUT)
        assert [type(e) for e in chain(info.value)] == [
            requests.exceptions.SSLError,
            urllib3.exceptions.MaxRetryError,
            urllib3.exceptions.SSLError,
            ssl.SSLCertVerificationError,
        ]
        check_verify_error(info.value, preset)
        check_preset_events(server, preset, 1)


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_fails_httpx(preset: str) -> None:
    with sockfix.HTTPServer(tls=preset) as server:
        server.expect("GET", "/").respond(200, b"never")
        url = f"https://localhost:{server.port}/"
        ctx = server.client_context()
        with (
            httpx.Client(verify=ctx, timeout=TIMEOUT, trust_env=False) as client,
            pytest.raises(httpx.ConnectError) as info,
        ):
            client.get(url)
        assert [type(e) for e in chain(info.value)] == [
            httpx.ConnectError,
            httpcore.ConnectError,
            ssl.SSLCertVerificationError,
        ]
        check_verify_error(info.value, preset)
        check_preset_events(server, preset, 1)


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_trusts_the_session_ca(preset: str) -> None:
    """The preset's ca_path and client_context() trust the session CA: a valid server passes
    with the very same context, so the preset's certificate is what fails."""
    with sockfix.TCPServer(tls=preset) as bad, sockfix.TCPServer(tls=True) as good:
        good.on_connect().respond(b"hi\n")
        assert bad.ca_path == good.ca_path
        ctx = bad.client_context()
        with tls_connect(good, ctx) as client:
            assert recv_until(client, b"\n") == b"hi\n"
        with pytest.raises(ssl.SSLCertVerificationError):
            tls_connect(bad, ctx)
        check_preset_events(bad, preset, 1)


def test_preset_fails_redis_py() -> None:
    with sockfix.RedisServer(tls="expired") as server:
        r = redis.Redis(
            host=server.host,
            port=server.port,
            ssl=True,
            ssl_ca_certs=server.ca_path,
            socket_timeout=TIMEOUT,
            socket_connect_timeout=TIMEOUT,
            retry=RedisRetry(NoBackoff(), 0),
        )
        with r, pytest.raises(redis.exceptions.ConnectionError) as info:
            r.ping()
        check_verify_error(info.value, "expired")
        check_preset_events(server, "expired", 1)


# -- mutual TLS -------------------------------------------------------------------------------


def no_cert_context(server: Any) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=server.ca_path)  # trusts the CA, has no cert


def test_client_cert_required_client_context_carries_a_cert() -> None:
    with sockfix.HTTPServer(tls=True, client_cert="required") as server:
        server.expect("GET", "/me").respond(200, b"you")
        ctx = server.client_context()
        with httpx.Client(verify=ctx, timeout=TIMEOUT, trust_env=False) as client:
            r = client.get(server.url("/me"))
            assert (r.status_code, r.content) == (200, b"you")
        with tls_connect(server) as raw:
            raw.sendall(b"GET /me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert recv_all(raw) == ok_response(b"you", close=True)
        server.wait_until(all_closed(2))
    for conn in server.connections:
        assert "error" not in kinds(conn)


@pytest.mark.timeout(10)
def test_client_cert_required_refuses_a_raw_client_without_one_at_its_first_read() -> None:
    """TLS 1.3: the client's handshake completes before the server checks its (missing)
    certificate; the server's alert shows at the client's first read."""
    with sockfix.TCPServer(tls=True, client_cert="required", handler=sockfix.echo()) as server:
        with tls_connect(server, no_cert_context(server)) as client:
            assert client.version() == "TLSv1.3"
            with pytest.raises(ssl.SSLError) as info:
                client.recv(100)
        assert type(info.value) is ssl.SSLError
        assert info.value.reason == "TLSV13_ALERT_CERTIFICATE_REQUIRED"
        server.wait_until(all_closed(1))
    conn = server.connections[0]
    assert kinds(conn) == ["connect", "error", "close"]
    assert re.fullmatch(
        rf"TLS handshake: \[SSL: PEER_DID_NOT_RETURN_A_CERTIFICATE\] peer did not return a "
        rf"certificate {SSL_C}",
        notes(conn, "error")[0],
    )
    assert conn.received == b""


def test_client_cert_required_refuses_a_tls12_client_in_the_handshake() -> None:
    with sockfix.TCPServer(tls=True, client_cert="required", handler=sockfix.echo()) as server:
        ctx = no_cert_context(server)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(ssl.SSLError) as info:
            tls_connect(server, ctx)
        assert type(info.value) is ssl.SSLError
        assert info.value.reason == "SSLV3_ALERT_HANDSHAKE_FAILURE"
        server.wait_until(all_closed(1))
    assert notes(server.connections[0], "error")[0].startswith(
        "TLS handshake: [SSL: PEER_DID_NOT_RETURN_A_CERTIFICATE]"
    )


@pytest.mark.timeout(10)
def test_client_cert_required_refuses_httpx_without_one() -> None:
    with sockfix.HTTPServer(tls=True, client_cert="required") as server:
        server.expect("GET", "/").respond(200, b"never")
        ctx = no_cert_context(server)
        with (
            httpx.Client(verify=ctx, timeout=TIMEOUT, trust_env=False) as client,
            pytest.raises(httpx.ReadError) as info,
        ):
            client.get(server.url("/"))
        assert in_chain(info.value, ssl.SSLError).reason == "TLSV13_ALERT_CERTIFICATE_REQUIRED"
        server.wait_until(all_closed(1))
    assert kinds(server.connections[0]) == ["connect", "error", "close"]
    assert server.requests == []


def test_client_cert_optional_accepts_both() -> None:
    with sockfix.TCPServer(tls=True, client_cert="optional", handler=sockfix.echo()) as server:
        for ctx in (server.client_context(), no_cert_context(server)):
            with tls_connect(server, ctx) as client:
                client.sendall(b"ping\n")
                assert recv_until(client, b"\n") == b"ping\n"
        server.wait_until(all_closed(2))
    for conn in server.connections:
        assert conn.received == b"ping\n"
        assert "error" not in kinds(conn)


# -- STARTTLS ---------------------------------------------------------------------------------


def smtp_server(**options: Any) -> sockfix.TCPServer:
    server = sockfix.TCPServer(tls=True, **options)
    server.on_connect().respond(b"220 fake.test ESMTP\r\n")
    server.expect(re.compile(rb"ehlo \S+\r\n")).respond(b"250-fake.test\r\n250 STARTTLS\r\n")
    server.expect(b"STARTTLS\r\n").respond(b"220 go ahead\r\n").starttls()
    server.expect(re.compile(rb"mail FROM:<[^>]*>\r\n")).respond(b"250 sender ok\r\n")
    server.expect(re.compile(rb"rcpt TO:<[^>]*>\r\n")).respond(b"250 rcpt ok\r\n")
    server.expect(b"data\r\n").respond(b"354 go on\r\n")
    server.expect(b"Subject: hi\r\n")  # the message's lines: no reply until the dot
    server.expect(b"\r\n")
    server.expect(b"body\r\n")
    server.expect(b".\r\n").respond(b"250 queued\r\n")
    server.expect(b"QUIT\r\n").respond(b"221 bye\r\n").close()
    return server


@pytest.mark.timeout(10)
def test_smtplib_starttls_then_a_mail() -> None:
    with smtp_server() as server:
        with smtplib.SMTP(
            server.host, server.port, local_hostname="client.test", timeout=TIMEOUT
        ) as smtp:
            assert smtp.ehlo()[0] == 250
            assert smtp.has_extn("starttls")
            assert smtp.starttls(context=server.client_context()) == (220, b"go ahead")
            assert isinstance(smtp.sock, ssl.SSLSocket)
            assert smtp.ehlo()[0] == 250
            assert smtp.sendmail("a@x.test", ["b@y.test"], b"Subject: hi\r\n\r\nbody\r\n") == {}
        server.wait_until(all_closed(1))
    conn = server.connections[0]
    assert conn.received == (
        b"ehlo client.test\r\nSTARTTLS\r\n"  # plain text
        b"ehlo client.test\r\nmail FROM:<a@x.test>\r\nrcpt TO:<b@y.test>\r\ndata\r\n"
        b"Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n"  # decrypted
    )
    assert conn.sent == (
        b"220 fake.test ESMTP\r\n250-fake.test\r\n250 STARTTLS\r\n220 go ahead\r\n"
        b"250-fake.test\r\n250 STARTTLS\r\n250 sender ok\r\n250 rcpt ok\r\n354 go on\r\n"
        b"250 queued\r\n221 bye\r\n"
    )
    assert "error" not in kinds(conn)


def test_a_server_with_a_starttls_rule_does_not_wrap_at_accept() -> None:
    with smtp_server() as server, socket.create_connection(server.address, TIMEOUT) as plain:
        assert recv_until(plain, b"\r\n") == b"220 fake.test ESMTP\r\n"
        plain.sendall(b"QUIT\r\n")
        assert recv_all(plain) == b"221 bye\r\n"
        server.wait_until(all_closed(1))
    assert server.connections[0].received == b"QUIT\r\n"


SSL_REQUEST = b"\x00\x00\x00\x08\x04\xd2\x16\x2f"


@pytest.mark.timeout(10)
def test_postgres_style_ssl_request() -> None:
    with sockfix.TCPServer(tls=True, framing=sockfix.framing.fixed(8)) as server:
        server.expect(SSL_REQUEST).respond(b"S").starttls()
        server.expect(b"STARTUP!").respond(b"R\x00\x00\x00\x08\x00\x00\x00\x00")
        with socket.create_connection(server.address, timeout=TIMEOUT) as raw:
            raw.sendall(SSL_REQUEST)
            assert recv_exactly(raw, 1) == b"S"
            with server.client_context().wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"STARTUP!")
                assert recv_exactly(tls, 9) == b"R\x00\x00\x00\x08\x00\x00\x00\x00"
        server.wait_until(all_closed(1))
    conn = server.connections[0]
    assert conn.received == SSL_REQUEST + b"STARTUP!"
    assert conn.messages == [SSL_REQUEST, b"STARTUP!"]
    assert conn.sent == b"SR\x00\x00\x00\x08\x00\x00\x00\x00"


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("after", "note"),
    [
        (b"mail FROM:<evil@x.test>\r\n", "1 plain-text message after STARTTLS dropped"),
        (b"mail FROM:<a>\r\nrcpt TO:<b>\r\n", "2 plain-text messages after STARTTLS dropped"),
        (b"mail FROM:<evil", "15 plain-text bytes after STARTTLS dropped"),
    ],
    ids=["one-message", "two-messages", "a-partial-message"],
)
def test_plain_text_pipelined_after_starttls_is_not_answered(after: bytes, note: str) -> None:
    """CVE-2011-0411: what came in plain text with STARTTLS must not be answered later, inside
    TLS, as if the client had sent it there."""
    with smtp_server() as server, socket.create_connection(server.address, TIMEOUT) as raw:
        assert recv_until(raw, b"\r\n") == b"220 fake.test ESMTP\r\n"
        raw.sendall(b"STARTTLS\r\n" + after)  # one send: one read on the server's side
        assert recv_until(raw, b"\r\n") == b"220 go ahead\r\n"
        with server.client_context().wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"QUIT\r\n")
            assert recv_all(tls) == b"221 bye\r\n"  # no "250 sender ok" ever
        server.wait_until(all_closed(1))
    conn = server.connections[0]
    assert notes(conn, "error") == [note + ", not answered"]
    assert conn.sent == b"220 fake.test ESMTP\r\n220 go ahead\r\n221 bye\r\n"
    assert conn.received == b"STARTTLS\r\n" + after + b"QUIT\r\n"


def test_starttls_on_a_server_without_tls_closes_and_stop_says_pass_tls_true() -> None:
    server = sockfix.TCPServer().start()
    try:
        server.expect(b"STARTTLS\r\n").respond(b"220 go ahead\r\n").starttls()
        with socket.create_connection(server.address, timeout=TIMEOUT) as raw:
            raw.sendall(b"STARTTLS\r\n")
            assert recv_all(raw) == b"220 go ahead\r\n"  # then the connection closed
        server.wait_until(all_closed(1))
        with pytest.raises(sockfix.StrictError, match="pass tls=True") as info:
            server.stop()
        assert info.value.problems == [
            "connection 1: rule 1 has .starttls() but the server has no TLS certificate: pass "
            "tls=True (or an ssl.SSLContext); the connection was closed"
        ]
    finally:
        server.stop(check=False)
    conn = server.connections[0]
    assert notes(conn, "error") == ["rule 1: .starttls() on a server without tls=: pass tls=True"]
    assert notes(conn, "close") == ["no TLS for .starttls()"]


def test_starttls_rule_builder_errors() -> None:
    with sockfix.TCPServer(tls=True) as server:
        with pytest.raises(ValueError, match=r"cannot then upgrade to TLS"):
            server.expect(b"A\n").close().starttls()
        with pytest.raises(ValueError, match=r"does not then \.close\(\)"):
            server.expect(b"B\n").starttls().close()
    with sockfix.UDPServer(strict=False) as udp, pytest.raises(TypeError, match="DTLS"):
        udp.expect(b"x").starttls()


# -- handshake faults -------------------------------------------------------------------------


def check_handshake_fault_events(conn: sockfix.Connection, fault: faults.Fault) -> None:
    reset = isinstance(fault, faults.HandshakeReset)
    said = "TLS handshake reset" if reset else "TLS handshake left unanswered"
    fault_events = [e for e in conn.events if e.kind == "fault"]
    assert fault_events[0].note == f"{fault!r}: {said}"
    hello = fault_events[1]
    assert hello.note == f"TLS ClientHello ({len(hello.data)} bytes), not answered"
    assert hello.data[:1] == b"\x16"  # a TLS handshake record
    assert conn.received == conn.sent == b""


@pytest.mark.timeout(10)
def test_handshake_hang_times_out_each_client() -> None:
    fault = faults.HandshakeHang()
    with sockfix.HTTPServer(tls=True, strict=False) as server:
        server.fault(fault)
        with requests_session() as session, pytest.raises(requests.exceptions.ReadTimeout) as r:
            session.get(server.url("/"), verify=server.ca_path, timeout=0.3)
        assert type(r.value) is requests.exceptions.ReadTimeout
        assert isinstance(r.value.__context__, urllib3.exceptions.ReadTimeoutError)
        assert str(in_chain(r.value, TimeoutError)).endswith("The handshake operation timed out")
        ctx = server.client_context()
        with (
            httpx.Client(verify=ctx, timeout=0.3, trust_env=False) as client,
            pytest.raises(httpx.ConnectTimeout) as x,
        ):
            client.get(server.url("/"))
        assert str(x.value).endswith("The handshake operation timed out")
        with pytest.raises(TimeoutError, match="The handshake operation timed out"):
            tls_connect(server, timeout=0.3)
        server.wait_until(all_closed(3))
    for conn in server.connections:
        check_handshake_fault_events(conn, fault)
        assert kinds(conn) == ["connect", "fault", "fault", "eof", "close"]


@pytest.mark.timeout(10)
def test_handshake_reset_resets_each_client() -> None:
    fault = faults.HandshakeReset()
    with sockfix.HTTPServer(tls=True, strict=False) as server:
        server.fault(fault)
        with (
            requests_session() as session,
            pytest.raises(requests.exceptions.ConnectionError) as r,
        ):
            session.get(server.url("/"), verify=server.ca_path, timeout=TIMEOUT)
        assert type(r.value) is requests.exceptions.ConnectionError  # not its SSLError subclass
        protocol = in_chain(r.value, urllib3.exceptions.ProtocolError)
        assert protocol.args[0] == "Connection aborted."
        assert type(protocol.args[1]) is ConnectionResetError
        ctx = server.client_context()
        with (
            httpx.Client(verify=ctx, timeout=TIMEOUT, trust_env=False) as client,
            pytest.raises(httpx.ConnectError) as x,
        ):
            client.get(server.url("/"))
        assert type(in_chain(x.value, OSError)) is ConnectionResetError
        with pytest.raises(ConnectionResetError):
            tls_connect(server)
        server.wait_until(all_closed(3))
    for conn in server.connections:
        check_handshake_fault_events(conn, fault)
        assert kinds(conn) == ["connect", "fault", "fault", "reset"]
        assert notes(conn, "reset") == ["fault"]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("fault", [faults.HandshakeHang(), faults.HandshakeReset()], ids=repr)
def test_stop_is_prompt_with_a_client_stuck_in_the_handshake(fault: faults.Fault) -> None:
    server = sockfix.TCPServer(tls=True, strict=False).start()
    server.fault(fault)  # before the client connects: the handshake is faulted at accept
    seen: list[BaseException | None] = []
    raw = socket.create_connection(server.address, timeout=TIMEOUT)
    try:
        client = server.client_context().wrap_socket(
            raw, server_hostname="localhost", do_handshake_on_connect=False
        )

        def handshake() -> None:
            try:
                client.do_handshake()
                seen.append(None)
            except (OSError, ssl.SSLError) as exc:
                seen.append(exc)

        thread = threading.Thread(target=handshake, name="test handshake client")
        thread.start()
        server.wait_until(lambda s: s.connections and len(notes(s.connections[0], "fault")) == 2)
        t0 = time.perf_counter()
        server.stop()
        assert time.perf_counter() - t0 < STOP_LIMIT
        thread.join(TIMEOUT)
        assert not thread.is_alive()
    finally:
        server.stop()
        raw.close()
    (exc,) = seen
    if isinstance(fault, faults.HandshakeHang):  # the server went away mid-handshake
        assert type(exc) is ssl.SSLEOFError
        assert notes(server.connections[0], "close") == ["server stopped"]
    else:
        assert type(exc) is ConnectionResetError
    client.close()


@pytest.mark.timeout(10)
@pytest.mark.parametrize("fault", [faults.HandshakeHang(), faults.HandshakeReset()], ids=repr)
def test_handshake_fault_on_the_first_connection_then_httpx_retry_works(
    fault: faults.Fault,
) -> None:
    with sockfix.HTTPServer(tls=True, strict=False) as server:
        server.expect("GET", "/").respond(200, b"second time lucky")
        server.fault(fault, connections=[1])
        transport = httpx.HTTPTransport(verify=server.client_context(), retries=1)
        with httpx.Client(transport=transport, timeout=0.3, trust_env=False) as client:
            r = client.get(server.url("/"))
            assert (r.status_code, r.content) == (200, b"second time lucky")
        server.wait_until(all_closed(2))
    first, second = server.connections
    check_handshake_fault_events(first, fault)
    assert "fault" not in kinds(second)
    assert second.sent == ok_response(b"second time lucky")


@pytest.mark.timeout(10)
def test_handshake_reset_on_the_first_connection_then_requests_retry_works() -> None:
    with sockfix.HTTPServer(tls=True, strict=False) as server:
        server.expect("GET", "/").respond(200, b"retried")
        server.fault(faults.HandshakeReset(), connections=[1])
        with requests_session(retries=1) as session:
            r = session.get(server.url("/"), verify=server.ca_path, timeout=TIMEOUT)
            assert (r.status_code, r.content) == (200, b"retried")
        server.wait_until(all_closed(2))
    assert kinds(server.connections[0])[-1] == "reset"
    assert server.connections[1].received == requests_bytes("127.0.0.1", server.port, "/")


# -- the TLS proxy ----------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_proxy_terminates_tls_both_sides_and_records_plaintext(
    https: sockfix.HTTPServer,
) -> None:
    with sockfix.TCPProxy(upstream=https.address, tls=True, upstream_tls=True) as proxy:
        assert proxy.ca_path == https.ca_path
        url = f"https://127.0.0.1:{proxy.port}/hello"
        with requests_session() as session:
            r = session.get(url, verify=proxy.ca_path, timeout=TIMEOUT)
            assert (r.status_code, r.content) == (200, b"hello")
        proxy.wait_until(all_closed(1))
    conn = proxy.connections[0]
    request = requests_bytes("127.0.0.1", proxy.port, "/hello")
    assert conn.received == conn.upstream.sent == request
    assert conn.sent == conn.upstream.received == ok_response(b"hello")
    assert kinds(conn) == ["connect", "in", "out", "eof", "close"]
    https.wait_until(all_closed(1))
    assert https.connections[0].received == request  # the upstream decrypted the same bytes


@pytest.mark.timeout(10)
def test_proxy_clean_close_through_tls_records_no_error(https: sockfix.HTTPServer) -> None:
    with sockfix.TCPProxy(upstream=https.address, tls=True, upstream_tls=True) as proxy:
        with tls_connect(proxy) as client:
            client.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            assert recv_exactly(client, len(ok_response(b"hello"))) == ok_response(b"hello")
        proxy.wait_until(all_closed(1))
    upstream_side = proxy.connections[0].upstream
    assert notes(upstream_side, "error") == []
    assert kinds(upstream_side) == ["connect", "out", "in", "eof", "close"]


@pytest.mark.timeout(10)
def test_proxy_tls_toward_the_client_with_a_plain_upstream() -> None:
    with (
        sockfix.TCPServer(handler=sockfix.echo(bytes.upper)) as upstream,
        sockfix.TCPProxy(upstream=upstream.address, tls=True) as proxy,
    ):
        with tls_connect(proxy) as client:
            client.sendall(b"through tls\n")
            assert recv_until(client, b"\n") == b"THROUGH TLS\n"
        proxy.wait_until(all_closed(1))
        upstream.wait_until(all_closed(1))
    conn = proxy.connections[0]
    assert conn.received == conn.upstream.sent == b"through tls\n"
    assert conn.sent == conn.upstream.received == b"THROUGH TLS\n"
    assert upstream.connections[0].received == b"through tls\n"  # plain TCP upstream


@pytest.mark.timeout(10)
def test_proxy_upstream_tls_only_serves_a_plain_client(https: sockfix.HTTPServer) -> None:
    with sockfix.TCPProxy(upstream=https.address, upstream_tls=True) as proxy:
        with requests_session() as session:
            r = session.get(f"http://127.0.0.1:{proxy.port}/hello", timeout=TIMEOUT)
            assert (r.status_code, r.content) == (200, b"hello")
        proxy.wait_until(all_closed(1))
        with pytest.raises(RuntimeError, match="pass tls=True"):
            proxy.client_context()  # no TLS toward the client
    assert proxy.connections[0].upstream.received == ok_response(b"hello")


EXPIRED_VERIFY = (
    r"\[SSL: CERTIFICATE_VERIFY_FAILED\] certificate verify failed: certificate has expired "
    + SSL_C
)


def check_upstream_refused(proxy: sockfix.TCPProxy, upstream: sockfix.TCPServer) -> None:
    proxy.wait_until(all_closed(1))
    conn = proxy.connections[0]
    assert kinds(conn.upstream) == ["error", "close"]
    assert re.fullmatch(
        f"upstream TLS handshake: {EXPIRED_VERIFY}", notes(conn.upstream, "error")[0]
    )
    assert re.fullmatch(
        rf"upstream TLS failed \({EXPIRED_VERIFY}\); resetting the client", notes(conn, "error")[0]
    )
    assert kinds(conn)[-1] == "reset"
    assert notes(conn, "reset") == ["by proxy"]
    assert conn.received == conn.sent == b""
    upstream.wait_until(all_closed(1))  # the upstream saw the proxy refuse its certificate
    assert notes(upstream.connections[0], "error")[0].startswith(
        "TLS handshake: [SSL: SSLV3_ALERT_CERTIFICATE_EXPIRED]"
    )


@pytest.mark.timeout(10)
def test_proxy_upstream_tls_in_front_of_an_expired_server_resets_a_plain_client() -> None:
    with (
        sockfix.TCPServer(tls="expired") as upstream,
        sockfix.TCPProxy(upstream=upstream.address, upstream_tls=True) as proxy,
        socket.create_connection(proxy.address, timeout=TIMEOUT) as plain,
    ):
        with pytest.raises(ConnectionResetError):
            plain.recv(100)
        check_upstream_refused(proxy, upstream)


@pytest.mark.timeout(10)
def test_proxy_upstream_tls_in_front_of_an_expired_server_resets_a_tls_client() -> None:
    """The client's handshake with the proxy completes first; the RST that follows is read by
    CPython's ssl as an EOF in violation of the protocol (a ragged EOF: b"" by default)."""
    with (
        sockfix.TCPServer(tls="expired") as upstream,
        sockfix.TCPProxy(upstream=upstream.address, tls=True, upstream_tls=True) as proxy,
    ):
        with (
            tls_connect(proxy, suppress_ragged_eofs=False) as client,
            pytest.raises(ssl.SSLEOFError),
        ):
            client.recv(100)
        check_upstream_refused(proxy, upstream)


@pytest.mark.timeout(10)
def test_proxy_truncate_acts_on_a_tls_link() -> None:
    with (
        sockfix.TCPServer(tls=True, handler=sockfix.echo()) as upstream,
        sockfix.TCPProxy(upstream=upstream.address, tls=True, upstream_tls=True) as proxy,
    ):
        proxy.fault(faults.Truncate(5), direction="downstream")
        with tls_connect(proxy) as client:
            client.sendall(b"hello world\n")
            assert recv_all(client) == b"hello"
        proxy.wait_until(all_closed(1))
    conn = proxy.connections[0]
    assert conn.received == conn.upstream.sent == conn.upstream.received == b"hello world\n"
    assert conn.sent == b"hello"
    assert notes(conn, "fault") == [
        "downstream: Truncate(5): truncated after 5 bytes (7 bytes not sent)"
    ]


@pytest.mark.timeout(10)
def test_proxy_latency_acts_on_a_tls_link() -> None:
    with (
        sockfix.TCPServer(tls=True, handler=sockfix.echo()) as upstream,
        sockfix.TCPProxy(upstream=upstream.address, tls=True, upstream_tls=True) as proxy,
    ):
        proxy.fault(faults.Latency(0.2), direction="downstream")
        with tls_connect(proxy) as client:
            t0 = time.perf_counter()
            client.sendall(b"slow\n")
            assert recv_until(client, b"\n") == b"slow\n"
            assert time.perf_counter() - t0 >= 0.2
        proxy.wait_until(all_closed(1))
    assert notes(proxy.connections[0], "fault") == [
        "downstream: Latency(0.2): delayed 5 bytes by 0.200000 s"
    ]


@pytest.mark.timeout(20)
def test_proxy_200_keep_alive_requests_over_one_tls_connection() -> None:
    with sockfix.HTTPServer(tls=True) as upstream:
        upstream.expect("GET", re.compile(r"/n/\d+")).respond(
            lambda req: (200, {}, req.path.encode())
        )
        with sockfix.TCPProxy(upstream=upstream.address, tls=True, upstream_tls=True) as proxy:
            with requests_session() as session:
                for i in range(200):
                    url = f"https://127.0.0.1:{proxy.port}/n/{i}"
                    r = session.get(url, verify=proxy.ca_path, timeout=TIMEOUT)
                    assert (r.status_code, r.content) == (200, b"/n/%d" % i)
            proxy.wait_until(all_closed(1))
    assert len(proxy.connections) == len(upstream.connections) == 1
    conn = proxy.connections[0]
    assert (
        conn.received
        == conn.upstream.sent
        == b"".join(requests_bytes("127.0.0.1", proxy.port, f"/n/{i}") for i in range(200))
    )
    assert conn.sent == conn.upstream.received
    assert len(upstream.requests) == 200


@pytest.mark.timeout(20)
def test_proxy_tls_both_ways_at_once_full_duplex() -> None:
    """The client writes while it reads (asyncio: one thread, both directions in flight), so
    the proxy's two ways use each shared TLS socket at the same time."""
    lines = [b"line %05d %s\n" % (i, b"x" * (i % 300)) for i in range(2000)]
    data = b"".join(lines)
    with (
        sockfix.TCPServer(tls=True, handler=sockfix.echo()) as upstream,
        sockfix.TCPProxy(upstream=upstream.address, tls=True, upstream_tls=True) as proxy,
    ):

        async def main() -> bytes:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    proxy.host, proxy.port, ssl=proxy.client_context(), server_hostname="localhost"
                ),
                TIMEOUT,
            )

            async def write() -> None:
                for line in lines:
                    writer.write(line)
                    await writer.drain()

            try:
                task = asyncio.create_task(write())
                got = await asyncio.wait_for(reader.readexactly(len(data)), 10)
                await task
                return got
            finally:
                writer.close()
                with contextlib.suppress(ConnectionError, ssl.SSLError):
                    await asyncio.wait_for(writer.wait_closed(), TIMEOUT)

        assert asyncio.run(main()) == data
        proxy.wait_until(all_closed(1))
    conn = proxy.connections[0]
    assert conn.received == conn.upstream.sent == conn.upstream.received == conn.sent == data


@pytest.mark.timeout(10)
def test_proxy_stop_is_prompt_with_tls_links_open() -> None:
    upstream = sockfix.TCPServer(tls=True, handler=sockfix.echo()).start()
    proxy = sockfix.TCPProxy(upstream=upstream.address, tls=True, upstream_tls=True).start()
    clients: list[ssl.SSLSocket] = []
    try:
        for i in range(3):
            client = tls_connect(proxy)
            clients.append(client)
            client.sendall(b"hi %d\n" % i)
            assert recv_until(client, b"\n") == b"hi %d\n" % i  # both pumps now wait on TLS
        t0 = time.perf_counter()
        proxy.stop()
        assert time.perf_counter() - t0 < STOP_LIMIT
        for client in clients:
            client.settimeout(TIMEOUT)
            with contextlib.suppress(ConnectionResetError):
                assert client.recv(100) == b""
    finally:
        proxy.stop()
        upstream.stop()
        for client in clients:
            client.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("sockfix TCPProxy")]
    for conn in proxy.connections:
        assert notes(conn, "close") == ["proxy stopped"]


@pytest.mark.timeout(10)
def test_proxy_mutual_tls_toward_the_client() -> None:
    with (
        sockfix.TCPServer(handler=sockfix.echo()) as upstream,
        sockfix.TCPProxy(upstream=upstream.address, tls=True, client_cert="required") as proxy,
    ):
        with tls_connect(proxy) as client:
            client.sendall(b"with a cert\n")
            assert recv_until(client, b"\n") == b"with a cert\n"
        with tls_connect(proxy, no_cert_context(proxy)) as client:
            with pytest.raises(ssl.SSLError) as info:
                client.recv(100)
            assert info.value.reason == "TLSV13_ALERT_CERTIFICATE_REQUIRED"
        proxy.wait_until(all_closed(2))
    assert notes(proxy.connections[1], "error")[0].startswith(
        "TLS handshake: [SSL: PEER_DID_NOT_RETURN_A_CERTIFICATE]"
    )


@pytest.mark.timeout(10)
@pytest.mark.parametrize("fault", [faults.HandshakeHang(), faults.HandshakeReset()], ids=repr)
def test_proxy_handshake_faults_act_on_the_client_handshake(fault: faults.Fault) -> None:
    with (
        sockfix.TCPServer(handler=sockfix.echo()) as upstream,
        sockfix.TCPProxy(upstream=upstream.address, tls=True) as proxy,
    ):
        proxy.fault(fault)
        with pytest.raises((TimeoutError, ConnectionResetError)):
            tls_connect(proxy, timeout=0.3).close()
        proxy.wait_until(all_closed(1))


# -- errors -----------------------------------------------------------------------------------

SERVERS = [sockfix.TCPServer, sockfix.HTTPServer, sockfix.RedisServer]


def make(kind: Any, **options: Any) -> Any:
    if kind is sockfix.TCPProxy:
        return sockfix.TCPProxy(upstream=("127.0.0.1", 9), **options)
    return kind(**options)


@pytest.mark.parametrize("kind", [*SERVERS, sockfix.TCPProxy], ids=lambda k: k.__name__)
def test_tls_option_errors(kind: Any) -> None:
    with pytest.raises(ValueError, match="is not a preset") as info:
        make(kind, tls="nope")
    for preset in PRESETS:
        assert preset in str(info.value)
    with pytest.raises(ValueError, match=r"client_cert must be 'required', 'optional' or None"):
        make(kind, tls=True, client_cert="yes")
    with pytest.raises(ValueError, match=r"client_cert='required' needs TLS: pass tls=True"):
        make(kind, client_cert="required")
    with pytest.raises(RuntimeError, match=r"has no TLS: pass tls=True"):
        make(kind).client_context()
    with pytest.raises(RuntimeError, match=r"has no TLS: pass tls=True"):
        _ = make(kind).ca_path
    own = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(RuntimeError, match=r"ssl\.SSLContext of your own.*pass tls=True"):
        make(kind, tls=own).client_context()
    with pytest.raises(RuntimeError, match=r"pass tls=True instead"):
        _ = make(kind, tls=own).ca_path
    with pytest.raises(ValueError, match=r"client_cert= applies to tls=True or a preset"):
        make(kind, tls=own, client_cert="optional")


def test_proxy_upstream_tls_must_be_true_or_a_context() -> None:
    with pytest.raises(TypeError, match="upstream_tls must be True"):
        sockfix.TCPProxy(upstream=("127.0.0.1", 9), upstream_tls="yes")  # type: ignore[arg-type]


def test_without_trustme_tls_true_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "trustme", None)  # import trustme -> ImportError
    monkeypatch.setattr(sockfix.net.tls, "_SESSION", None)
    for kind in [*SERVERS, sockfix.TCPProxy]:
        for tls in (True, "expired"):
            with pytest.raises(ImportError, match=re.escape("pip install 'sockfix[tls]'")):
                make(kind, tls=tls)
    own = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # an SSLContext of one's own needs no trustme
    assert sockfix.TCPServer(tls=own).tls is own
    assert sockfix.TCPProxy(upstream=("127.0.0.1", 9), upstream_tls=True).upstream_tls is not None


SUBPROCESS = """
import os, socket, ssl, sockfix
servers = [sockfix.TCPServer(tls=t, strict=False).start() for t in (True, *sockfix.net.tls.PRESETS)]
servers.append(sockfix.TCPServer(tls=True, client_cert="required", strict=False).start())
with socket.create_connection(servers[-1].address, timeout=5) as raw:
    with servers[-1].client_context().wrap_socket(raw, server_hostname="localhost") as c:
        c.sendall(b"x")
for s in servers:
    s.stop()
print(os.path.dirname(servers[0].ca_path))
"""


@pytest.mark.timeout(30)
def test_nothing_is_written_outside_one_temporary_folder_removed_at_exit(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", SUBPROCESS],
        capture_output=True,
        text=True,
        timeout=25,
        env=env,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    folder = Path(done.stdout.strip())
    assert folder.parent == tmp_path
    assert folder.name.startswith("sockfix-tls-")
    assert not folder.exists()
    # Nothing else was written, there or in cwd (but coverage's own data files, where CI
    # measures subprocesses too).
    assert [p for p in tmp_path.iterdir() if not p.name.startswith(".coverage")] == []
