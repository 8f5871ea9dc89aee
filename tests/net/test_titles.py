"""Titles and strict errors say whether a server has a handler (what answers what no rule
matched), so "why did it not answer?" can be read off the report."""

from __future__ import annotations

import pytest
from _nethelp import connect

import sockfix


def test_a_transcript_title_names_the_handler_or_says_there_is_none() -> None:
    with sockfix.TCPServer(handler=sockfix.echo(bytes.upper)) as echoing:
        title = echoing.transcript().splitlines()[0]
        assert f"(strict, framing lines(), handler echo(bytes.upper), seed={echoing.seed}" in title
    with sockfix.UDPServer(strict=False) as quiet:
        assert ", no handler, seed=" in quiet.transcript().splitlines()[0]


def test_a_strict_error_says_there_is_no_handler() -> None:
    server = sockfix.TCPServer(seed=5).start()
    with connect(server) as client:
        client.sendall(b"NOPE\n")
        server.wait_until(lambda s: s.problems)
    with pytest.raises(sockfix.StrictError) as caught:
        server.stop()
    assert str(caught.value).startswith(
        f"sockfix TCPServer 127.0.0.1:{server.port} (strict, no handler, seed=5) saw 1 problem(s)"
    )


def test_a_name_is_shown_in_the_title_the_strict_error_and_waits() -> None:
    server = sockfix.TCPServer(name="db", seed=5).start()
    with sockfix.TCPProxy(upstream=server.address, name="db proxy") as proxy:
        assert proxy.transcript().startswith(f"TCPProxy 'db proxy' 127.0.0.1:{proxy.port} (")
    assert server.transcript().startswith(f"TCPServer 'db' 127.0.0.1:{server.port} (strict")
    assert repr(server).startswith(f"<sockfix TCPServer 'db' 127.0.0.1:{server.port} started")
    with pytest.raises(TimeoutError, match=r"1 connection\(s\) to TCPServer 'db' 127\.0\.0\.1"):
        server.wait_for_connections(1, timeout=0.05)
    with connect(server) as client:
        client.sendall(b"NOPE\n")
        server.wait_until(lambda s: s.problems)
    with pytest.raises(sockfix.StrictError, match=r"^sockfix TCPServer 'db' 127\.0\.0\.1:\d+ "):
        server.stop()


@pytest.mark.parametrize("name", ["", "two\nlines", 7, "x" * 61])
def test_a_bad_name_is_an_error_at_the_call(name: object) -> None:
    with pytest.raises(TypeError, match=r"name must be a short one-line str such as name='db'"):
        sockfix.UDPServer(name=name)  # type: ignore[arg-type]
