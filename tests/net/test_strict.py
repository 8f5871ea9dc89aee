"""Strict mode over real sockets: what makes stop() raise StrictError, and what it shows."""

from __future__ import annotations

import socket

import pytest
from _nethelp import connect, kinds, recv_all, recv_until

import sockfix


def test_unmatched_message_fails_at_stop_with_bytes_and_rules() -> None:
    server = sockfix.TCPServer().start()
    try:
        server.expect(b"PING\r\n").respond(b"+PONG\r\n")
        with connect(server) as client:
            client.sendall(b"PINK\r\n")
            server.wait_until(lambda s: len(s.problems) == 1)
    finally:
        with pytest.raises(sockfix.StrictError) as info:
            server.stop()
    err = info.value
    assert isinstance(err, AssertionError)
    text = str(err)
    assert "b'PINK\\r\\n'" in text
    assert "expect(b'PING\\r\\n')" in text
    assert "differs at byte 3" in text
    assert "strict=False" in text
    assert len(err.problems) == 1
    server.stop()  # raised once: a second stop() is quiet
    conn = server.connections[0]
    assert conn.received == b"PINK\r\n"
    assert any(e.kind == "error" and e.data == b"PINK\r\n" for e in conn.events)


def test_strict_error_is_raised_by_the_with_block() -> None:
    def body() -> None:
        with sockfix.TCPServer() as server, connect(server) as client:
            client.sendall(b"hello?\n")
            server.wait_until(lambda s: s.problems)

    with pytest.raises(sockfix.StrictError, match="no rule matched"):
        body()


def test_bytes_left_unframed_at_close() -> None:
    server = sockfix.TCPServer().start()
    server.expect(sockfix.ANY).respond(b"ok\n")
    with connect(server) as client:
        client.sendall(b"complete\npartial")
        assert recv_until(client, b"\n") == b"ok\n"
        client.shutdown(socket.SHUT_WR)
        assert recv_all(client) == b""
    server.wait_until(lambda s: s.connections and s.connections[0].closed)
    with pytest.raises(sockfix.StrictError) as info:
        server.stop()
    text = str(info.value)
    assert "left unframed" in text
    assert "b'partial'" in text
    assert "lines()" in text
    assert server.connections[0].received == b"complete\npartial"
    assert server.connections[0].messages == [b"complete\n"]


def test_times_not_used_up() -> None:
    server = sockfix.TCPServer().start()
    server.expect(b"A\n").respond(b"a\n").times(3)
    with connect(server) as client:
        client.sendall(b"A\n")
        assert recv_until(client, b"\n") == b"a\n"
    with pytest.raises(sockfix.StrictError) as info:
        server.stop()
    text = str(info.value)
    assert "expect(b'A\\n').respond(b'a\\n').times(3)" in text
    assert "used 1 of 3" in text
    server.stop()


def test_times_used_up_exactly_is_fine() -> None:
    with sockfix.TCPServer() as server:
        server.expect(b"A\n").respond(b"a\n").times(2)
        with connect(server) as client:
            for _ in range(2):
                client.sendall(b"A\n")
                assert recv_until(client, b"\n") == b"a\n"


def _explode(message: bytes) -> bytes:
    raise ValueError("kaboom in the response")


def test_response_callable_raising_closes_and_reports_the_traceback() -> None:
    server = sockfix.TCPServer().start()
    server.expect(sockfix.ANY).respond(_explode)
    with connect(server) as client:
        client.sendall(b"trigger\n")
        assert recv_all(client) == b""  # the connection is closed
    server.wait_until(lambda s: s.connections and s.connections[0].closed)
    with pytest.raises(sockfix.StrictError) as info:
        server.stop()
    text = str(info.value)
    assert "Traceback" in text
    assert "_explode" in text
    assert "ValueError: kaboom in the response" in text
    assert "b'trigger\\n'" in text
    conn = server.connections[0]
    assert conn.received == b"trigger\n"
    assert "error" in kinds(conn)


def test_handler_returning_str_is_a_strict_problem() -> None:
    server = sockfix.TCPServer(handler=lambda m: m.decode()).start()  # type: ignore[arg-type,return-value]
    with connect(server) as client:
        client.sendall(b"x\n")
        assert recv_all(client) == b""
    with pytest.raises(sockfix.StrictError, match=r"must return bytes, got str"):
        server.stop()


def test_non_strict_records_and_ignores_everything() -> None:
    server = sockfix.TCPServer(strict=False).start()
    server.expect(b"A\n").respond(b"a\n").times(5)
    server.expect(b"boom\n").respond(_explode)
    with connect(server) as client:
        client.sendall(b"unknown\n")
        client.sendall(b"A\n")
        assert recv_until(client, b"\n") == b"a\n"
        client.sendall(b"boom\n")
        assert recv_all(client) == b""
    with connect(server) as client:
        client.sendall(b"dangling")
        server.wait_until(lambda s: len(s.connections) == 2 and s.connections[1].bytes_received)
    server.wait_until(lambda s: all(c.closed for c in s.connections))
    server.stop()  # quiet
    assert server.problems == []
    assert server.connections[0].received == b"unknown\nA\nboom\n"
    assert server.connections[1].received == b"dangling"


def _bad_framing(buffer: bytes) -> int | None:
    return len(buffer) + 5


def test_framing_out_of_range_is_a_strict_failure_naming_it() -> None:
    server = sockfix.TCPServer(framing=_bad_framing).start()
    server.expect(sockfix.ANY).respond(b"never\n")
    with connect(server) as client:
        client.sendall(b"abc")
        assert recv_all(client) == b""  # closed by the server
    server.wait_until(lambda s: s.connections and s.connections[0].closed)
    with pytest.raises(sockfix.StrictError) as info:
        server.stop()
    text = str(info.value)
    assert "_bad_framing" in text
    assert "returned 8" in text
    conn = server.connections[0]
    assert conn.received == b"abc"
    assert conn.sent == b""
    assert conn.closed
    assert "error" in kinds(conn)


@pytest.mark.parametrize("result", [0, -1, True, "3", 2.0])
def test_framing_returning_nonsense(result: object) -> None:
    def framing(buffer: bytes) -> int | None:
        return result  # type: ignore[return-value]

    server = sockfix.TCPServer(framing=framing).start()
    with connect(server) as client:
        client.sendall(b"abc")
        assert recv_all(client) == b""
    with pytest.raises(sockfix.StrictError, match="framing"):
        server.stop()
    assert server.connections[0].received == b"abc"


def test_framing_error_in_non_strict_mode_still_closes_quietly() -> None:
    with sockfix.TCPServer(framing=_bad_framing, strict=False) as server:
        with connect(server) as client:
            client.sendall(b"abc")
            assert recv_all(client) == b""
        server.wait_until(lambda s: s.connections and s.connections[0].closed)
    assert server.connections[0].received == b"abc"


def test_body_exception_propagates_with_strict_text_as_note() -> None:
    server = sockfix.TCPServer()

    def body() -> None:
        with server:
            with connect(server) as client:
                client.sendall(b"unexpected\n")
                server.wait_until(lambda s: s.problems)
            raise KeyError("the test's own failure")

    with pytest.raises(KeyError) as info:
        body()
    notes = getattr(info.value, "__notes__", [])
    assert len(notes) == 1
    assert "no rule matched" in notes[0]
    assert "b'unexpected\\n'" in notes[0]
    server.stop()  # already reported: quiet


def test_body_exception_without_problems_gets_no_note() -> None:
    with pytest.raises(KeyError) as info, sockfix.TCPServer():
        raise KeyError("plain")
    assert not getattr(info.value, "__notes__", [])


def test_several_problems_are_numbered_in_one_error() -> None:
    # "ignore": the strict default "close" would end the connection at the first message.
    server = sockfix.TCPServer(on_unmatched="ignore").start()
    server.expect(b"never\n").respond(b"x\n").times(1)
    with connect(server) as client:
        client.sendall(b"one\n")
        client.sendall(b"two\n")
        server.wait_until(lambda s: s.connections and len(s.connections[0].messages) == 2)
    server.wait_until(lambda s: s.connections and s.connections[0].closed)
    with pytest.raises(sockfix.StrictError) as info:
        server.stop()
    assert len(info.value.problems) == 3
    text = str(info.value)
    assert "1) " in text
    assert "2) " in text
    assert "3) " in text
    assert "b'one\\n'" in text
    assert "b'two\\n'" in text


def test_check_raises_early_then_stop_is_quiet() -> None:
    server = sockfix.TCPServer().start()
    try:
        with connect(server) as client:
            client.sendall(b"x\n")
            server.wait_until(lambda s: s.problems)
        with pytest.raises(sockfix.StrictError):
            server.check()
    finally:
        server.stop()
