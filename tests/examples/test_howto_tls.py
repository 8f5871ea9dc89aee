"""The examples of docs/tls.md: tls=True and its session CA, the presets, mutual TLS, STARTTLS,
handshake faults and the TLS-terminating proxy, with real clients.

The clients are requests, httpx, urllib, smtplib, redis-py, asyncio streams, the ssl module and
curl, each with a timeout; nothing sleeps. These tests need the ``tls`` extra (trustme).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import textwrap
import urllib.request
from pathlib import Path

import certifi
import httpx
import pytest
import redis
import requests
import trustme
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

import sockfix
from sockfix import faults


def test_quick_look(make_http_server):
    server = make_http_server(tls=True)
    server.expect("GET", "/users/1").respond(200, json={"id": 1, "name": "Ada"})

    response = requests.get(server.url("/users/1"), verify=server.ca_path, timeout=2)

    assert response.json() == {"id": 1, "name": "Ada"}
    assert server.url("/users/1") == f"https://127.0.0.1:{server.port}/users/1"
    assert server.requests[0].path == "/users/1"  # rules and recordings see plain text


# -- tls=True: the session CA ----------------------------------------------------------------


def test_tls_true():
    with sockfix.TCPServer(tls=True) as server:
        server.expect(b"PING\n").respond(b"PONG\n")
        with (
            socket.create_connection(server.address, timeout=2) as raw,
            server.client_context().wrap_socket(raw, server_hostname="localhost") as sock,
        ):
            sock.sendall(b"PING\n")
            assert sock.recv(100) == b"PONG\n"
    assert server.connections[0].received == b"PING\n"  # decrypted


def test_what_the_certificate_covers(make_tcp_server):
    server = make_tcp_server(tls=True)
    for name in ["localhost", "127.0.0.1"]:  # the client checks the name it was given
        with (
            socket.create_connection(server.address, timeout=2) as raw,
            server.client_context().wrap_socket(raw, server_hostname=name) as sock,
        ):
            cert = sock.getpeercert()
    assert cert["subjectAltName"] == (
        ("DNS", "localhost"),
        ("IP Address", "127.0.0.1"),
        ("IP Address", "0:0:0:0:0:0:0:1"),  # ::1
    )
    assert cert["issuer"][0] == (("organizationName", "sockfix throwaway test CA"),)


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback")
def test_ipv6(make_http_server):
    server = make_http_server(tls=True, host="::1")
    server.expect("GET", "/").respond(200, text="over ::1")

    with httpx.Client(verify=server.client_context(), timeout=2) as client:
        assert client.get(server.url("/")).text == "over ::1"  # https://[::1]:PORT/


def test_one_ca_per_process(make_tcp_server, make_http_server):
    tcp, http = make_tcp_server(tls=True), make_http_server(tls="expired")

    assert tcp.ca_path == http.ca_path  # every server of the session shares one CA
    ca_path = Path(tcp.ca_path)
    assert ca_path.name == "ca.pem"
    assert ca_path.parent.name.startswith("sockfix-tls-")
    assert ca_path.parent.parent == Path(tempfile.gettempdir())


def _run_python(code: str, **env: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; its stdout lines."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={**os.environ, **env},
    )
    return done.stdout.splitlines()


def test_the_folder_is_removed_at_exit(make_tcp_server):
    ours = make_tcp_server(tls=True).ca_path
    [other_ca] = _run_python(
        """
        import sockfix
        print(sockfix.TCPServer(tls=True).ca_path)
        """
    )

    assert other_ca != ours  # another process, another CA
    assert Path(other_ca).parent.name.startswith("sockfix-tls-")
    assert not Path(other_ca).parent.exists()  # removed when that process exited


# -- client_context() and ca_path --------------------------------------------------------------


def test_httpx_with_client_context(make_http_server):
    server = make_http_server(tls=True)
    server.expect("GET", "/health").respond(200, text="ok")

    with httpx.Client(verify=server.client_context(), timeout=2) as client:
        assert client.get(server.url("/health")).text == "ok"


def test_requests_with_ca_path(make_http_server):
    server = make_http_server(tls=True)
    server.expect("GET", "/health").respond(200, text="ok")

    response = requests.get(server.url("/health"), verify=server.ca_path, timeout=2)

    assert response.text == "ok"
    assert isinstance(server.ca_path, str)  # the PEM file of the session CA


def test_requests_session_verify_loses_to_the_environment(make_http_server, monkeypatch):
    server = make_http_server(tls=True)
    server.expect("GET", "/health").respond(200, text="ok")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # as many CI images set it

    with requests.Session() as session:
        session.verify = server.ca_path  # requests prefers the environment variable...
        with pytest.raises(requests.exceptions.SSLError, match="unable to get local issuer"):
            session.get(server.url("/health"), timeout=2)
        # ...to session.verify, not to verify= on the request:
        assert session.get(server.url("/health"), verify=server.ca_path, timeout=2).text == "ok"


def health(url):
    """Code under test that takes no verify= or context: it trusts what the environment says."""
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.read()


def test_ca_from_the_environment(make_http_server, monkeypatch):
    server = make_http_server(tls=True)
    server.expect("GET", "/health").respond(200, text="ok").times(3)

    monkeypatch.setenv("SSL_CERT_FILE", server.ca_path)  # OpenSSL's default: urllib, httpx...
    assert health(server.url("/health")) == b"ok"
    assert httpx.get(server.url("/health"), timeout=2).text == "ok"

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", server.ca_path)  # requests reads its own variable
    assert requests.get(server.url("/health"), timeout=2).text == "ok"


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl command")
def test_curl(make_http_server):
    server = make_http_server(tls=True)
    server.expect("GET", "/health").respond(200, text="ok")

    curl = ["curl", "--silent", "--show-error", "--max-time", "5"]
    done = subprocess.run(
        [*curl, "--cacert", server.ca_path, server.url("/health")],
        capture_output=True,
        timeout=10,
        check=True,
    )
    assert done.stdout == b"ok"


def test_client_context_needs_tls_true(tcp_server):
    with pytest.raises(RuntimeError, match=r"has no TLS: pass tls=True"):
        tcp_server.client_context()


# -- presets ---------------------------------------------------------------------------------

PRESETS = [
    # (preset, the client's reason, the alert the client sends: the server's "error" event)
    ("expired", "certificate has expired", "alert certificate expired"),
    ("not-yet-valid", "certificate is not yet valid", "alert bad certificate"),
    (
        "wrong-host",
        "Hostname mismatch, certificate is not valid for 'localhost'.",
        "alert bad certificate",
    ),
    ("self-signed", "self-signed certificate", "alert unknown ca"),
    ("unknown-ca", "unable to get local issuer certificate", "alert unknown ca"),
]


@pytest.mark.parametrize(("preset", "reason", "alert"), PRESETS)
def test_preset(make_http_server, preset, reason, alert):
    server = make_http_server(tls=preset)  # ca_path still trusts the session CA
    url = f"https://localhost:{server.port}/"

    with pytest.raises(requests.exceptions.SSLError, match=re.escape(reason)):
        requests.get(url, verify=server.ca_path, timeout=2)

    server.wait_until(lambda s: s.connections and s.connections[0].closed)
    [error] = [e for e in server.connections[0].events if e.kind == "error"]
    assert error.note.startswith("TLS handshake: ")
    assert alert in error.note


@pytest.mark.parametrize(("preset", "reason", "alert"), PRESETS)
def test_preset_with_the_ssl_module(make_tcp_server, preset, reason, alert):
    server = make_tcp_server(tls=preset)

    with (
        socket.create_connection(server.address, timeout=2) as raw,
        pytest.raises(ssl.SSLCertVerificationError) as failure,
    ):
        server.client_context().wrap_socket(raw, server_hostname="localhost")

    assert failure.value.verify_message == reason
    assert failure.value.reason == "CERTIFICATE_VERIFY_FAILED"


@pytest.mark.parametrize(("preset", "reason", "alert"), PRESETS)
def test_preset_with_httpx(make_http_server, preset, reason, alert):
    server = make_http_server(tls=preset)
    url = f"https://localhost:{server.port}/"

    with pytest.raises(httpx.ConnectError, match=re.escape(reason)):
        httpx.get(url, verify=server.client_context(), timeout=2)


def test_wrong_host_by_ip(make_http_server):
    server = make_http_server(tls="wrong-host")

    with pytest.raises(
        requests.exceptions.SSLError,
        match=re.escape("IP address mismatch, certificate is not valid for '127.0.0.1'."),
    ):
        requests.get(server.url("/"), verify=server.ca_path, timeout=2)


# -- mutual TLS ------------------------------------------------------------------------------


def test_mutual_tls(make_http_server):
    server = make_http_server(tls=True, client_cert="required")
    server.expect("GET", "/me").respond(200, text="hello, client")

    with httpx.Client(verify=server.client_context(), timeout=2) as client:  # carries a cert
        assert client.get(server.url("/me")).text == "hello, client"

    without_a_cert = ssl.create_default_context(cafile=server.ca_path)
    with pytest.raises(httpx.ReadError, match="alert certificate required"):
        httpx.get(server.url("/me"), verify=without_a_cert, timeout=2)

    server.wait_until(lambda s: len(s.connections) == 2 and s.connections[1].closed)
    [error] = [e for e in server.connections[1].events if e.kind == "error"]
    assert "peer did not return a certificate" in error.note


def test_mutual_tls_requests_without_a_cert(make_http_server):
    server = make_http_server(tls=True, client_cert="required")

    with pytest.raises(requests.exceptions.SSLError):  # the alert, or an EOF: timing decides
        requests.get(server.url("/me"), verify=server.ca_path, timeout=2)


def test_client_cert_needs_tls_true():
    with pytest.raises(ValueError, match=r"client_cert='required' needs TLS: pass tls=True"):
        sockfix.HTTPServer(client_cert="required")
    with pytest.raises(ValueError, match=r"with an SSLContext of your own, set its verify_mode"):
        sockfix.HTTPServer(tls=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), client_cert="required")


def test_optional_client_cert(make_http_server):
    server = make_http_server(tls=True, client_cert="optional")
    server.expect("GET", "/me").respond(200, text="hello").times(2)

    without_a_cert = ssl.create_default_context(cafile=server.ca_path)
    for context in [server.client_context(), without_a_cert]:  # both are let in
        assert httpx.get(server.url("/me"), verify=context, timeout=2).text == "hello"


# -- STARTTLS --------------------------------------------------------------------------------


def test_smtp_starttls(make_tcp_server):
    server = make_tcp_server(tls=True)  # a .starttls() rule: connections start in plain text
    server.on_connect().respond(b"220 mail.example ESMTP\r\n")
    server.expect(b"ehlo client.example\r\n").respond(
        b"250-mail.example\r\n250 STARTTLS\r\n"
    ).times(1)
    server.expect(b"STARTTLS\r\n").respond(b"220 2.0.0 Ready to start TLS\r\n").starttls()
    server.expect(b"ehlo client.example\r\n").respond(b"250-mail.example\r\n250 AUTH PLAIN\r\n")
    server.expect(b"AUTH PLAIN AHVzZXIAc2VjcmV0\r\n").respond(b"235 2.7.0 Authenticated\r\n")
    server.expect(b"QUIT\r\n").respond(b"221 2.0.0 Bye\r\n").close()

    with smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.example", timeout=2) as smtp:
        smtp.starttls(context=server.client_context())
        smtp.login("user", "secret")

    server.wait_until(lambda s: s.connections[0].closed)
    before, after = server.connections[0].received.split(b"STARTTLS\r\n")
    assert before == b"ehlo client.example\r\n"  # in plain text on the wire
    assert after == (  # encrypted on the wire, recorded decrypted
        b"ehlo client.example\r\nAUTH PLAIN AHVzZXIAc2VjcmV0\r\nQUIT\r\n"
    )
    assert server.connections[0].sent == (
        b"220 mail.example ESMTP\r\n"
        b"250-mail.example\r\n250 STARTTLS\r\n"
        b"220 2.0.0 Ready to start TLS\r\n"
        b"250-mail.example\r\n250 AUTH PLAIN\r\n"
        b"235 2.7.0 Authenticated\r\n"
        b"221 2.0.0 Bye\r\n"
    )


def test_plain_text_pipelined_after_starttls_is_dropped(make_tcp_server):
    server = make_tcp_server(tls=True)
    server.expect(b"STARTTLS\r\n").respond(b"220 go ahead\r\n").starttls()
    server.expect(b"NOOP\r\n").respond(b"250 OK\r\n")

    with socket.create_connection(server.address, timeout=2) as raw:
        raw.sendall(b"STARTTLS\r\nNOOP\r\n")  # an injected command, before the upgrade
        assert raw.recv(100) == b"220 go ahead\r\n"
        with server.client_context().wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(b"NOOP\r\n")
            assert sock.recv(100) == b"250 OK\r\n"  # only the encrypted NOOP is answered

    server.wait_until(lambda s: s.connections[0].closed)
    conn = server.connections[0]
    assert conn.received == b"STARTTLS\r\nNOOP\r\nNOOP\r\n"  # both recorded
    assert conn.sent == b"220 go ahead\r\n250 OK\r\n"
    [error] = [e for e in conn.events if e.kind == "error"]
    assert error.note == "1 plain-text message after STARTTLS dropped, not answered"


def test_starttls_without_tls_is_a_strict_problem():
    server = sockfix.TCPServer().start()
    server.expect(b"STARTTLS\r\n").respond(b"220 go ahead\r\n").starttls()

    with socket.create_connection(server.address, timeout=2) as sock:
        sock.sendall(b"STARTTLS\r\n")
        with sock.makefile("rb") as replies:
            assert replies.read() == b"220 go ahead\r\n"  # then closed

    with pytest.raises(sockfix.StrictError, match=r"has \.starttls\(\) but the server has no TLS"):
        server.stop()


def test_a_failed_upgrade_is_an_error_event(make_tcp_server):
    server = make_tcp_server(tls=True)
    server.expect(b"STARTTLS\r\n").respond(b"220 go ahead\r\n").starttls()

    with socket.create_connection(server.address, timeout=2) as raw:
        raw.sendall(b"STARTTLS\r\n")
        assert raw.recv(100) == b"220 go ahead\r\n"
        raw.sendall(b"NOOP\r\n")  # plain text where the ClientHello should be
        assert raw.recv(100) == b""  # closed

    server.wait_until(lambda s: s.connections[0].closed)
    [error] = [e for e in server.connections[0].events if e.kind == "error"]
    assert error.note.startswith("TLS handshake: [SSL: WRONG_VERSION_NUMBER]")


def test_starttls_does_not_end_a_connection(tcp_server):
    with pytest.raises(ValueError, match=r"a connection that upgrades does not then \.close\(\)"):
        tcp_server.expect(b"STARTTLS\r\n").respond(b"220 go ahead\r\n").starttls().close()
    with pytest.raises(TypeError, match=r"a UDP rule cannot \.starttls\(\); DTLS is not"):
        sockfix.UDPServer().expect(b"STARTTLS").starttls()


def test_handshake_faults_do_not_act_on_a_starttls_upgrade(make_tcp_server):
    server = make_tcp_server(tls=True)
    server.expect(b"STARTTLS\r\n").respond(b"220 go ahead\r\n").starttls()
    server.expect(b"NOOP\r\n").respond(b"250 OK\r\n")
    server.fault(faults.HandshakeReset())  # acts at accept only: this server wraps later

    with socket.create_connection(server.address, timeout=2) as raw:
        raw.sendall(b"STARTTLS\r\n")
        assert raw.recv(100) == b"220 go ahead\r\n"
        with server.client_context().wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(b"NOOP\r\n")
            assert sock.recv(100) == b"250 OK\r\n"


# -- redis-py and asyncio ----------------------------------------------------------------------


def test_redis_ssl(make_redis_server):
    server = make_redis_server(tls=True)
    server.expect("GET", "user:1").reply(b"Ada")

    with redis.Redis(
        host="127.0.0.1",
        port=server.port,
        ssl=True,
        ssl_ca_certs=server.ca_path,
        socket_timeout=2,
    ) as r:
        assert r.get("user:1") == b"Ada"

    assert server.commands == [[b"GET", b"user:1"]]


def test_redis_from_url(make_redis_server):
    server = make_redis_server(tls=True)
    server.expect("PING").reply("PONG")

    assert server.url() == f"rediss://127.0.0.1:{server.port}/0"
    with redis.Redis.from_url(server.url(), ssl_ca_certs=server.ca_path, socket_timeout=2) as r:
        assert r.ping() is True


def test_asyncio_streams(make_tcp_server):
    server = make_tcp_server(tls=True)
    server.expect(b"PING\n").respond(b"PONG\n")

    async def client() -> bytes:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(*server.address, ssl=server.client_context()), timeout=2
        )
        try:
            writer.write(b"PING\n")
            return await asyncio.wait_for(reader.readline(), timeout=2)
        finally:
            writer.close()
            await writer.wait_closed()

    assert asyncio.run(client()) == b"PONG\n"
    assert server.connections[0].received == b"PING\n"


# -- handshake faults ------------------------------------------------------------------------


def test_handshake_hang(make_http_server):
    server = make_http_server(tls=True)
    server.fault(faults.HandshakeHang())  # the ClientHello is read, never answered

    with pytest.raises(httpx.ConnectTimeout):
        httpx.get(server.url("/"), verify=server.client_context(), timeout=0.2)
    with pytest.raises(requests.exceptions.ReadTimeout):  # urllib3 counts it as a read
        requests.get(server.url("/"), verify=server.ca_path, timeout=0.2)

    server.wait_until(lambda s: len(s.connections) == 2)
    notes = [e.note for e in server.connections[0].events if e.kind == "fault"]
    assert notes[0] == "HandshakeHang(): TLS handshake left unanswered"
    assert notes[1].startswith("TLS ClientHello (")
    assert server.connections[0].received == b""  # no application byte came


def test_handshake_reset(make_http_server):
    server = make_http_server(tls=True)
    server.fault(faults.HandshakeReset())  # a RST once the ClientHello has come

    with pytest.raises(httpx.ConnectError, match="Connection reset by peer"):
        httpx.get(server.url("/"), verify=server.client_context(), timeout=2)
    with pytest.raises(requests.exceptions.ConnectionError, match="Connection reset by peer"):
        requests.get(server.url("/"), verify=server.ca_path, timeout=2)


def test_handshake_faults_with_the_ssl_module(make_tcp_server):
    hang, reset = make_tcp_server(tls=True), make_tcp_server(tls=True)
    hang.fault(faults.HandshakeHang())
    reset.fault(faults.HandshakeReset())

    for server, raised in [(hang, TimeoutError), (reset, ConnectionResetError)]:
        with (
            socket.create_connection(server.address, timeout=0.2) as raw,
            pytest.raises(raised),
        ):
            server.client_context().wrap_socket(raw, server_hostname="localhost")


def test_retry_after_a_hung_handshake(make_http_server):
    server = make_http_server(tls=True)
    server.expect("GET", "/").respond(200, text="ok")
    server.fault(faults.HandshakeHang(), connections=[1])

    transport = httpx.HTTPTransport(verify=server.client_context(), retries=1)
    with httpx.Client(transport=transport, timeout=0.3) as client:
        assert client.get(server.url("/")).text == "ok"  # on connection 2

    assert len(server.connections) == 2


@pytest.fixture
def free_retried_pools():
    """Frees what urllib3 keeps after retrying, for the leak check of tests/conftest.py (see
    tests/examples/test_howto_http.py): no urllib3 log records, and a collection at the end."""
    logger = logging.getLogger("urllib3")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)
    gc.collect()


@pytest.mark.usefixtures("free_retried_pools")
def test_retry_after_a_reset_handshake(make_http_server):
    server = make_http_server(tls=True)
    server.expect("GET", "/").respond(200, text="ok")
    server.fault(faults.HandshakeReset(), connections=[1])

    with requests.Session() as session:
        session.mount("https://", HTTPAdapter(max_retries=Retry(total=1, backoff_factor=0)))
        assert session.get(server.url("/"), verify=server.ca_path, timeout=2).text == "ok"

    assert len(server.connections) == 2


def test_handshake_faults_need_tls(tcp_server):
    tcp_server.expect(b"PING\n").respond(b"PONG\n")
    tcp_server.fault(faults.HandshakeReset())  # no TLS: nothing to reset

    with socket.create_connection(tcp_server.address, timeout=2) as sock:
        sock.sendall(b"PING\n")
        assert sock.recv(100) == b"PONG\n"


# -- the TLS proxy ---------------------------------------------------------------------------


def test_tls_terminating_proxy(make_http_server):
    server = make_http_server(tls=True)  # stands in for the real HTTPS API
    server.expect("GET", "/users/1").respond(200, json={"id": 1})

    with sockfix.TCPProxy(upstream=server.address, tls=True, upstream_tls=True) as proxy:
        url = f"https://127.0.0.1:{proxy.port}/users/1"
        with httpx.Client(verify=proxy.client_context(), timeout=2) as client:
            assert client.get(url).json() == {"id": 1}
        proxy.wait_until(lambda p: p.connections[0].upstream.closed)

    conn = proxy.connections[0]
    assert conn.received.startswith(b"GET /users/1 HTTP/1.1\r\n")  # plain text, both ways
    assert conn.upstream.sent == conn.received == server.requests[0].raw
    assert conn.upstream.received == conn.sent
    assert conn.sent == (
        b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{"id": 1}'
    )


def test_proxy_adds_tls_to_a_plain_server(tcp_server):
    tcp_server.expect(b"PING\n").respond(b"PONG\n")  # a plain-text server

    with sockfix.TCPProxy(upstream=tcp_server.address, tls=True) as proxy:
        with (
            socket.create_connection(proxy.address, timeout=2) as raw,
            proxy.client_context().wrap_socket(raw, server_hostname="localhost") as sock,
        ):
            sock.sendall(b"PING\n")
            assert sock.recv(100) == b"PONG\n"
        proxy.wait_until(lambda p: p.connections[0].closed)

    assert proxy.connections[0].received == tcp_server.connections[0].received == b"PING\n"


def test_proxy_mutual_tls(tcp_server):
    tcp_server.expect(b"PING\n").respond(b"PONG\n")

    proxy = sockfix.TCPProxy(upstream=tcp_server.address, tls=True, client_cert="required")
    with (
        proxy,
        socket.create_connection(proxy.address, timeout=2) as raw,
        proxy.client_context().wrap_socket(raw, server_hostname="localhost") as sock,
    ):
        sock.sendall(b"PING\n")
        assert sock.recv(100) == b"PONG\n"


def test_handshake_reset_on_a_tls_proxy(tcp_server):
    tcp_server.expect(b"PING\n").respond(b"PONG\n")

    with sockfix.TCPProxy(upstream=tcp_server.address, tls=True) as proxy:
        proxy.fault(faults.HandshakeReset())  # toward the client, as on a server
        with (
            socket.create_connection(proxy.address, timeout=2) as raw,
            pytest.raises(ConnectionResetError),
        ):
            proxy.client_context().wrap_socket(raw, server_hostname="localhost").close()
        proxy.wait_until(lambda p: p.connections[0].closed)

    assert proxy.connections[0].upstream.events == []  # never connected upstream


def test_proxy_client_handshake_failure(tcp_server):
    with sockfix.TCPProxy(upstream=tcp_server.address, tls=True) as proxy:
        trusts_nothing_of_ours = ssl.create_default_context()
        with (
            socket.create_connection(proxy.address, timeout=2) as raw,
            pytest.raises(ssl.SSLCertVerificationError),
        ):
            trusts_nothing_of_ours.wrap_socket(raw, server_hostname="localhost")
        proxy.wait_until(lambda p: p.connections[0].closed)

    conn = proxy.connections[0]
    assert [e.kind for e in conn.events] == ["connect", "error", "close"]
    assert conn.events[1].note.startswith("TLS handshake: ")
    assert conn.upstream.events == []  # never connected upstream
    assert tcp_server.connections == []


def test_proxy_upstream_tls_failure_resets_the_client(make_http_server):
    server = make_http_server(tls="expired")

    with sockfix.TCPProxy(upstream=server.address, upstream_tls=True) as proxy:
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://127.0.0.1:{proxy.port}/", timeout=2)
        proxy.wait_until(lambda p: p.connections[0].closed)

    conn = proxy.connections[0]
    [up_error] = [e for e in conn.upstream.events if e.kind == "error"]
    assert up_error.note.startswith("upstream TLS handshake: ")
    assert "certificate has expired" in up_error.note
    assert [e.kind for e in conn.events][-1] == "reset"


# -- tls= an SSLContext of your own, and without the extra ------------------------------------


def test_your_own_context(make_tcp_server):
    ca = trustme.CA()  # or any certificate and key: load_cert_chain(cert, key)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("db.internal").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)

    server = make_tcp_server(tls=server_context)
    server.expect(b"PING\n").respond(b"PONG\n")
    with (
        socket.create_connection(server.address, timeout=2) as raw,
        client_context.wrap_socket(raw, server_hostname="db.internal") as sock,
    ):
        sock.sendall(b"PING\n")
        assert sock.recv(100) == b"PONG\n"

    with pytest.raises(RuntimeError, match=r"uses an ssl\.SSLContext of your own"):
        server.client_context()  # sockfix knows no CA for it


def test_without_the_extra():
    lines = _run_python(
        """
        import ssl, sys
        sys.modules["trustme"] = None  # as if trustme were not installed
        import sockfix
        sockfix.TCPServer(tls=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))  # still fine
        try:
            sockfix.TCPServer(tls=True)
        except ImportError as exc:
            print(exc)
        """
    )
    assert lines == [
        "tls=True (and the tls presets) need trustme, which the tls extra brings: "
        "pip install 'sockfix[tls]' (or pass tls= an ssl.SSLContext of your own)"
    ]


# -- regressions (not in the docs) ---------------------------------------------------------


def test_no_key_is_written_outside_the_folder():
    outside = _run_python(
        """
        import os, sys
        written = []
        def hook(event, args):
            if event == "open" and str(args[0]).endswith(".pem") and args[2] & os.O_CREAT:
                written.append(str(args[0]))
        sys.addaudithook(hook)
        import sockfix
        with sockfix.HTTPServer(tls=True, client_cert="required") as server:
            server.client_context()
        folder = os.path.dirname(server.ca_path) + os.sep
        for path in written:
            if not path.startswith(folder):
                print(path)
        """
    )
    assert outside == []
