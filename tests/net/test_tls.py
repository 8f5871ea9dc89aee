"""TLS: rules and recordings see application bytes; handshakes never block other clients."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time

import pytest
from _nethelp import connect, kinds, recv_until

import sockfix


def _tls_client(
    server: sockfix.TCPServer, ctx: ssl.SSLContext, timeout: float = 5.0
) -> ssl.SSLSocket:
    raw = socket.create_connection(server.address, timeout=timeout)
    try:
        return ctx.wrap_socket(raw, server_hostname="localhost")
    except BaseException:
        raw.close()
        raise


def test_rules_match_decrypted_bytes_and_recording_holds_plaintext(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    with sockfix.TCPServer(tls=server_tls) as server:
        server.on_connect().respond(b"+OK hello\r\n")
        server.expect(b"PING\r\n").respond(b"+PONG\r\n")
        server.expect(b"QUIT\r\n").respond(b"+BYE\r\n").close()
        with _tls_client(server, client_tls) as client:
            assert recv_until(client, b"\r\n") == b"+OK hello\r\n"
            client.sendall(b"PING\r\n")
            assert recv_until(client, b"\r\n") == b"+PONG\r\n"
            client.sendall(b"QUIT\r\n")
            assert recv_until(client, b"\r\n") == b"+BYE\r\n"
        server.wait_until(lambda s: s.connections and s.connections[0].closed)
    conn = server.connections[0]
    assert conn.received == b"PING\r\nQUIT\r\n"
    assert conn.sent == b"+OK hello\r\n+PONG\r\n+BYE\r\n"
    assert conn.messages == [b"PING\r\n", b"QUIT\r\n"]
    assert kinds(conn)[0] == "connect"
    assert "error" not in kinds(conn)


def test_tls_echo_many_round_trips(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    with (
        sockfix.TCPServer(tls=server_tls, handler=sockfix.echo(bytes.upper)) as server,
        _tls_client(server, client_tls) as client,
    ):
        for i in range(50):
            client.sendall(b"line %d\n" % i)
            assert recv_until(client, b"\n") == b"LINE %d\n" % i
    assert server.connections[0].received == b"".join(b"line %d\n" % i for i in range(50))


def test_client_that_never_sends_client_hello_blocks_nobody(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    server = sockfix.TCPServer(tls=server_tls, handler=sockfix.echo()).start()
    try:
        with connect(server) as silent:  # plain TCP, no handshake ever
            server.wait_for_connections(1)
            with _tls_client(server, client_tls) as other:
                other.sendall(b"still served\n")
                assert recv_until(other, b"\n") == b"still served\n"
            t0 = time.perf_counter()
            server.stop()
            assert time.perf_counter() - t0 < 0.5
            silent.settimeout(2)
            with contextlib.suppress(ConnectionResetError):
                assert silent.recv(100) == b""
    finally:
        server.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("sockfix")]
    assert server.connections[1].received == b"still served\n"
    assert server.connections[0].received == b""


def test_plaintext_client_is_an_error_event(server_tls: ssl.SSLContext) -> None:
    with sockfix.TCPServer(tls=server_tls) as server:
        server.expect(sockfix.ANY).respond(b"never\n")
        with connect(server) as client:
            client.sendall(b"GET / HTTP/1.0\r\n\r\n")
            client.settimeout(5)
            try:
                data = client.recv(4096)  # a TLS alert, or nothing
            except ConnectionResetError:
                data = b""
            assert b"never" not in data
            server.wait_until(lambda s: s.connections and s.connections[0].closed)
    conn = server.connections[0]
    errors = [e for e in conn.events if e.kind == "error"]
    assert len(errors) == 1
    assert "TLS handshake" in errors[0].note
    assert conn.received == b""  # no application bytes got through
    assert conn.sent == b""


def test_failed_handshake_does_not_stop_later_clients(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    with sockfix.TCPServer(tls=server_tls, handler=sockfix.echo()) as server:
        with connect(server) as bad:
            bad.sendall(b"\x00" * 64)
            server.wait_until(lambda s: s.connections and s.connections[0].closed)
        with _tls_client(server, client_tls) as good:
            good.sendall(b"ok\n")
            assert recv_until(good, b"\n") == b"ok\n"
    assert "error" in kinds(server.connections[0])
    assert server.connections[1].received == b"ok\n"


def test_stop_with_connected_tls_client_is_prompt(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    server = sockfix.TCPServer(tls=server_tls).start()
    server.expect(b"STALL\n").hang()
    try:
        with _tls_client(server, client_tls) as client:
            client.sendall(b"STALL\n")
            server.wait_until(lambda s: s.connections and s.connections[0].messages)
            t0 = time.perf_counter()
            server.stop()
            assert time.perf_counter() - t0 < 0.5
            client.settimeout(2)
            try:
                assert client.recv(10) == b""
            except TimeoutError:
                raise AssertionError("the client never saw the server go away") from None
            except OSError:
                pass  # a reset or an SSL error: the connection ended
    finally:
        server.stop()


def test_tls_rejects_a_non_context() -> None:
    with pytest.raises(TypeError, match=r"ssl\.SSLContext"):
        sockfix.TCPServer(tls=b"cert.pem")  # type: ignore[arg-type]
