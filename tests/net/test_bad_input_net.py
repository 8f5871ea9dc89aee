"""Bad input to the servers fails at the call, with a message that names the fix."""

from __future__ import annotations

import socket

import pytest

import sockfix

STRICT = "strict must be a bool, strict=True or strict=False, got "


@pytest.mark.parametrize("server_type", [sockfix.TCPServer, sockfix.UDPServer])
def test_strict_as_a_str_is_refused(server_type: type[sockfix.TCPServer]) -> None:
    with pytest.raises(TypeError) as info:
        server_type(strict="false")  # type: ignore[arg-type]
    assert str(info.value) == STRICT + "'false' (a str is not read as a bool)"


@pytest.mark.parametrize("value", [0, 1, None])
def test_strict_not_a_bool_is_refused(value: object) -> None:
    with pytest.raises(TypeError) as info:
        sockfix.TCPServer(strict=value)  # type: ignore[arg-type]
    assert str(info.value) == STRICT + repr(value)


@pytest.mark.parametrize("call", ["close", "reset", "hang"])
def test_udp_rules_have_no_ending(call: str) -> None:
    server = sockfix.UDPServer()  # never started: scripting needs no socket
    rule = server.expect(b"ping").respond(b"pong")
    with pytest.raises(TypeError, match=rf"^datagrams have no connection: .*\.{call}\(\)"):
        getattr(rule, call)()
    assert server.rules == []


def test_udp_rules_are_not_chunked() -> None:
    server = sockfix.UDPServer()
    with pytest.raises(TypeError, match=r"several respond\(\) pieces to send several datagrams"):
        server.expect(b"get").respond(b"abc").chunked(1)
    assert server.rules == []


def test_tcp_rules_still_end_and_chunk() -> None:
    server = sockfix.TCPServer()
    server.expect(b"get\n").respond(b"abc").chunked(1).hang()
    assert len(server.rules) == 1


def test_times_twice_on_a_server_rule() -> None:
    server = sockfix.TCPServer()
    with pytest.raises(ValueError, match=r"^times\(\) was already set to 2 on this rule: "):
        server.expect(b"PING\n").times(2).times(3)
    assert server.rules == []


def test_a_failed_respond_leaves_no_rule_behind() -> None:
    with sockfix.TCPServer() as server:
        with pytest.raises(TypeError, match=r"b'PONG\\n'"):
            server.expect(b"PING\n").respond("PONG\n").times(1)  # type: ignore[arg-type]
        assert server.rules == []
        server.expect(b"PING\n").respond(b"PONG\n").times(1)
        with socket.create_connection(server.address, timeout=2) as client:
            client.sendall(b"PING\n")
            assert client.makefile("rb").readline() == b"PONG\n"
    # stop() passed: no half-built rule was left to match, answer nothing, or count as unused
    assert [r.number for r in server.rules] == [1]
