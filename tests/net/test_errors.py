"""Bad arguments fail at the call that took them, with a message that names the fix."""

from __future__ import annotations

import re

import pytest

import sockfix


@pytest.fixture
def server() -> sockfix.TCPServer:
    return sockfix.TCPServer()  # never started: scripting needs no socket


def test_expect_str(server: sockfix.TCPServer) -> None:
    with pytest.raises(TypeError) as info:
        server.expect("PING")
    text = str(info.value)
    assert "b'PING'" in text
    assert ".encode()" in text


def test_expect_str_regex(server: sockfix.TCPServer) -> None:
    with pytest.raises(TypeError, match=r"bytes regex.*re\.compile\(b'GET \(\\\\w\+\)'\)"):
        server.expect(re.compile(r"GET (\w+)"))


def test_expect_other_type(server: sockfix.TCPServer) -> None:
    with pytest.raises(TypeError, match=r"sockfix\.ANY"):
        server.expect(42)


def test_respond_str(server: sockfix.TCPServer) -> None:
    rule = server.expect(b"x\n")
    with pytest.raises(TypeError) as info:
        rule.respond("x")  # type: ignore[arg-type]
    assert "b'x'" in str(info.value)
    assert ".encode()" in str(info.value)


def test_respond_other_type(server: sockfix.TCPServer) -> None:
    with pytest.raises(TypeError, match="respond\\(\\) takes bytes or a callable"):
        server.expect(b"x\n").respond(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("seconds", [-1, -0.001, float("nan"), float("inf")])
def test_negative_or_odd_delay(server: sockfix.TCPServer, seconds: float) -> None:
    with pytest.raises(ValueError, match=r"delay\(\) needs seconds >= 0"):
        server.expect(b"x\n").delay(seconds)


def test_delay_not_a_number(server: sockfix.TCPServer) -> None:
    with pytest.raises(TypeError, match=r"delay\(\) takes seconds as a number"):
        server.expect(b"x\n").delay("1")  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [0, -3])
def test_times_zero_or_negative(server: sockfix.TCPServer, n: int) -> None:
    with pytest.raises(ValueError, match=rf"times\(n\) needs n >= 1, got {n}"):
        server.expect(b"x\n").times(n)


@pytest.mark.parametrize("n", [1.5, "2", True])
def test_times_not_an_int(server: sockfix.TCPServer, n: object) -> None:
    with pytest.raises(TypeError, match=r"times\(\) takes an int"):
        server.expect(b"x\n").times(n)  # type: ignore[arg-type]


def test_chunk_list_not_covering_the_reply(server: sockfix.TCPServer) -> None:
    with pytest.raises(ValueError, match=r"covers 5 bytes but the reply is 10 bytes"):
        server.expect(b"x\n").respond(b"0123456789").chunked([2, 3])


def test_chunk_list_not_covering_when_respond_comes_after(server: sockfix.TCPServer) -> None:
    rule = server.expect(b"x\n").chunked([2, 3])
    with pytest.raises(ValueError, match=r"sum to at least 10"):
        rule.respond(b"0123456789")


@pytest.mark.parametrize("sizes", [0, -1, [], [1, 0], [2, -1]])
def test_bad_chunk_sizes(server: sockfix.TCPServer, sizes: object) -> None:
    with pytest.raises(ValueError, match="chunked"):
        server.expect(b"x\n").chunked(sizes)  # type: ignore[arg-type]


def test_chunked_negative_delay(server: sockfix.TCPServer) -> None:
    with pytest.raises(ValueError, match=r"chunked\(delay=...\) needs seconds >= 0"):
        server.expect(b"x\n").chunked(1, delay=-1)


def test_two_endings_conflict(server: sockfix.TCPServer) -> None:
    with pytest.raises(ValueError, match=r"already ends with \.close\(\)"):
        server.expect(b"x\n").close().reset()


def test_framing_not_callable() -> None:
    with pytest.raises(TypeError, match="framing must be a callable"):
        sockfix.TCPServer(framing=b"\n")  # type: ignore[arg-type]


def test_framing_given_as_text_hints_at_parse() -> None:
    with pytest.raises(TypeError, match=r"sockfix\.framing\.parse"):
        sockfix.TCPServer(framing="lines")  # type: ignore[arg-type]


def test_handler_not_callable() -> None:
    with pytest.raises(TypeError, match="handler must be a callable"):
        sockfix.TCPServer(handler=b"echo")  # type: ignore[arg-type]


@pytest.mark.parametrize("port", [-1, 65536, 1 << 20])
def test_port_out_of_range(port: int) -> None:
    with pytest.raises(ValueError, match=rf"port must be an int in 0\.\.65535.*got {port}"):
        sockfix.TCPServer(port=port)


@pytest.mark.parametrize("port", ["8080", 80.0, True, None])
def test_port_wrong_type(port: object) -> None:
    with pytest.raises((TypeError, ValueError), match="port must be an int"):
        sockfix.TCPServer(port=port)  # type: ignore[arg-type]


@pytest.mark.parametrize("host", ["", None, 127, b"127.0.0.1"])
def test_bad_host(host: object) -> None:
    with pytest.raises(TypeError, match="host must be a non-empty str"):
        sockfix.TCPServer(host=host)  # type: ignore[arg-type]


@pytest.mark.parametrize("tls", [object(), 1, b"cert.pem"])
def test_bad_tls(tls: object) -> None:
    with pytest.raises(
        TypeError, match=r"tls must be True, a preset \(expired, .*\) or an ssl\.SSLContext"
    ):
        sockfix.TCPServer(tls=tls)  # type: ignore[arg-type]


def test_a_tls_str_that_is_no_preset_names_the_presets() -> None:
    with pytest.raises(
        ValueError,
        match=r"tls='cert.pem' is not a preset: choose True, one of expired, not-yet-valid",
    ):
        sockfix.TCPServer(tls="cert.pem")  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", ["1", 1.5, True])
def test_bad_seed(seed: object) -> None:
    with pytest.raises(TypeError, match="seed must be an int"):
        sockfix.TCPServer(seed=seed)  # type: ignore[arg-type]


def test_echo_not_callable() -> None:
    with pytest.raises(TypeError, match=r"bytes\.upper"):
        sockfix.echo(b"upper")  # type: ignore[arg-type]


def test_unknown_keyword() -> None:
    with pytest.raises(TypeError):
        sockfix.TCPServer(hots="127.0.0.1")  # type: ignore[call-arg]


def test_positional_arguments_are_refused() -> None:
    with pytest.raises(TypeError):
        sockfix.TCPServer("127.0.0.1", 0)  # type: ignore[call-arg]
