"""on_unmatched over real sockets, framings that raise, uncalled factories, rules after stop().

A client here never relies on its own timeout to end: each socket has timeout=5 as a guard
only, and the tests assert the answer came well under a second.
"""

from __future__ import annotations

import http.client
import time

import pytest
from _nethelp import connect, kinds, recv_all, recv_exactly

import sockfix
import sockfix.framing


def _stop_strict(server: sockfix.TCPServer) -> sockfix.StrictError:
    with pytest.raises(sockfix.StrictError) as info:
        server.stop()
    return info.value


def test_strict_default_closes_at_once_and_still_fails_with_the_bytes() -> None:
    server = sockfix.TCPServer().start()
    server.expect(b"PING\n").respond(b"PONG\n")
    with connect(server) as client:
        t0 = time.monotonic()
        client.sendall(b"PING\nPINK\n")
        assert recv_all(client) == b"PONG\n"  # the reply already due, then EOF
        elapsed = time.monotonic() - t0
    assert elapsed < 1.0
    server.wait_until(lambda s: s.connections and s.connections[0].closed)
    conn = server.connections[0]
    assert conn.received == b"PING\nPINK\n"
    assert kinds(conn)[-1] == "close"
    assert conn.events[-1].note == "on_unmatched"
    err = _stop_strict(server)
    assert "no rule matched message 2" in str(err)
    assert "b'PINK\\n'" in str(err)


def test_reset_gives_the_client_a_connection_reset() -> None:
    server = sockfix.TCPServer(on_unmatched="reset").start()
    with connect(server) as client:
        t0 = time.monotonic()
        client.sendall(b"nope\n")
        with pytest.raises(ConnectionResetError):
            recv_all(client)
        assert time.monotonic() - t0 < 1.0
    server.wait_until(lambda s: s.connections and "reset" in kinds(s.connections[0]))
    assert "b'nope\\n'" in str(_stop_strict(server))


def test_bytes_are_the_answer_and_the_connection_stays_open() -> None:
    server = sockfix.TCPServer(on_unmatched=b"-ERR unknown\r\n").start()
    server.expect(b"PING\n").respond(b"PONG\n")
    with connect(server) as client:
        t0 = time.monotonic()
        client.sendall(b"what\n")
        assert recv_exactly(client, 14) == b"-ERR unknown\r\n"
        assert time.monotonic() - t0 < 1.0
        client.sendall(b"PING\n")
        assert recv_exactly(client, 5) == b"PONG\n"
    out = [e for e in server.connections[0].events if e.kind == "out"]
    assert [e.note for e in out] == ["on_unmatched", "rule 1"]
    err = _stop_strict(server)
    assert "b'what\\n'" in str(err)
    assert len(err.problems) == 1


@pytest.mark.parametrize("strict", [True, False])
def test_ignore_keeps_the_connection_open(strict: bool) -> None:
    kw: dict[str, object] = {"on_unmatched": "ignore"} if strict else {"strict": False}
    server = sockfix.TCPServer(**kw).start()  # type: ignore[arg-type]
    server.expect(b"PING\n").respond(b"PONG\n")
    try:
        with connect(server, timeout=0.3) as client:
            client.sendall(b"what\n")
            with pytest.raises(TimeoutError):
                client.recv(100)
            client.sendall(b"PING\n")
            assert recv_exactly(client, 5) == b"PONG\n"
    finally:
        if strict:
            assert "b'what\\n'" in str(_stop_strict(server))
        else:
            server.stop()
            assert server.connections[0].messages == [b"what\n", b"PING\n"]


def test_http_client_gets_an_error_not_a_hang() -> None:
    server = sockfix.TCPServer(framing=sockfix.framing.delimited(b"\r\n\r\n")).start()
    server.expect(b"GET /right HTTP/1.1\r\n").respond(b"HTTP/1.1 200 OK\r\n\r\n")
    conn = http.client.HTTPConnection(*server.address, timeout=5)
    t0 = time.monotonic()
    try:
        conn.request("GET", "/wrong")
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
            conn.getresponse()
    finally:
        conn.close()
    assert time.monotonic() - t0 < 1.0
    assert "GET /wrong" in str(_stop_strict(server))


def test_a_lenient_server_can_close_too() -> None:
    with sockfix.TCPServer(strict=False, on_unmatched="close") as server, connect(server) as c:
        c.sendall(b"x\n")
        assert recv_all(c) == b""
    assert server.problems == []


@pytest.mark.parametrize(
    ("value", "error"),
    [("drop", ValueError), ("ERR\n", ValueError), (b"", ValueError), (3, TypeError)],
)
def test_bad_on_unmatched_is_rejected_at_the_constructor(
    value: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match=r'"ignore"'):
        sockfix.TCPServer(on_unmatched=value)  # type: ignore[arg-type]


def test_a_str_answer_suggests_bytes() -> None:
    with pytest.raises(ValueError, match=r"pass bytes: b'ERR\\n'"):
        sockfix.TCPServer(on_unmatched="ERR\n")  # type: ignore[arg-type]


def test_the_default_follows_strict() -> None:
    assert sockfix.TCPServer().on_unmatched == "close"
    assert sockfix.TCPServer(strict=False).on_unmatched == "ignore"
    assert sockfix.TCPServer(on_unmatched=bytearray(b"no\n")).on_unmatched == b"no\n"


# -- a framing that raises ----------------------------------------------------------------------


def broken(buf: bytes) -> int | None:
    raise ValueError("boom")


def test_a_framing_that_raises_closes_records_and_fails_strictly() -> None:
    server = sockfix.TCPServer(framing=broken).start()
    with connect(server) as client:
        t0 = time.monotonic()
        client.sendall(b"hello\n")
        assert recv_all(client) == b""
        assert time.monotonic() - t0 < 1.0
    server.wait_until(lambda s: s.connections and s.connections[0].closed)
    conn = server.connections[0]
    assert conn.received == b"hello\n"
    errors = [e for e in conn.events if e.kind == "error"]
    assert len(errors) == 1
    assert "broken" in errors[0].note
    assert "boom" in errors[0].note
    text = str(_stop_strict(server))
    assert "framing broken raised" in text
    assert "Traceback (most recent call last)" in text
    assert "ValueError: boom" in text


def test_a_framing_that_raises_leaves_nothing_on_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    server = sockfix.TCPServer(framing=broken, strict=False).start()
    with connect(server) as client:
        client.sendall(b"x")
        assert recv_all(client) == b""
    server.stop()
    assert "Traceback" not in capfd.readouterr().err


# -- an uncalled framing factory ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "call"),
    [
        (sockfix.framing.lines, "lines()"),
        (sockfix.framing.raw, "raw()"),
        (sockfix.framing.fixed, "fixed("),
        (sockfix.framing.delimited, "delimited("),
        (sockfix.framing.length_prefixed, "length_prefixed("),
    ],
)
def test_an_uncalled_factory_is_a_type_error_naming_the_call(factory: object, call: str) -> None:
    with pytest.raises(TypeError) as info:
        sockfix.TCPServer(framing=factory)  # type: ignore[arg-type]
    text = str(info.value)
    assert "is the factory: call it" in text
    assert f"framing=sockfix.framing.{call}" in text


def test_the_lines_message_exactly() -> None:
    with pytest.raises(TypeError) as info:
        sockfix.TCPServer(framing=sockfix.framing.lines)  # type: ignore[arg-type]
    assert str(info.value) == (
        "framing=sockfix.framing.lines is the factory: call it, framing=sockfix.framing.lines()"
    )


# -- rules after stop() -------------------------------------------------------------------------

STOPPED = "the server is stopped: add rules before stop\\(\\), or make a new server"


def test_expect_and_on_connect_after_stop_are_runtime_errors() -> None:
    server = sockfix.TCPServer().start()
    server.stop()
    with pytest.raises(RuntimeError, match=STOPPED):
        server.expect(b"x\n")
    with pytest.raises(RuntimeError, match=STOPPED):
        server.on_connect()


def test_rules_before_start_are_fine_and_after_a_with_block_are_not() -> None:
    server = sockfix.TCPServer()
    server.expect(b"x\n").respond(b"y\n")
    with server, connect(server) as client:
        client.sendall(b"x\n")
        assert recv_exactly(client, 2) == b"y\n"
    with pytest.raises(RuntimeError, match=STOPPED):
        server.expect(b"z\n")


def test_udp_expect_after_stop_is_a_runtime_error() -> None:
    server = sockfix.UDPServer().start()
    server.stop()
    with pytest.raises(RuntimeError, match=STOPPED):
        server.expect(b"x")
