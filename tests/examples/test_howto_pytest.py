"""The examples of docs/pytest.md: fixtures, strict failures, the report section, options."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from hypothesis import given, settings

import sockfix
import sockfix.strategies
from sockfix.framing import length_prefixed

HERE = Path(__file__).parent


def user_file(pytester: pytest.Pytester, name: str) -> None:
    """Copy a demo file of this folder into the pytester directory as a test file."""
    pytester.makepyfile(**{f"test_{name}": (HERE / f"{name}.py").read_text()})


def test_two_servers(make_tcp_server):
    cache = make_tcp_server(framing=length_prefixed("!H"))
    db = make_tcp_server(strict=False)
    assert cache.port != db.port
    # Both are stopped, and their strict rules checked, when the test ends.


@pytest.mark.leaks_ok
def test_strict_failure_fails_the_test(pytester):
    user_file(pytester, "demo_strict_failure")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*1) connection 1: no rule matched message 2: b'PONG\\r\\n'",
            "*- sockfix -*",
            "TCPServer 127.0.0.1:* (strict, framing lines()*",
            "connection 1 from 127.0.0.1:* (closed): 12 B in, 7 B out, 2 messages",
            "  +*s << in      6 B  PONG\\r\\n",
            "               00000000  50 4f 4e 47 0d 0a * |PONG..|",
        ]
    )


@pytest.mark.leaks_ok
def test_transcript_always(pytester):
    user_file(pytester, "demo_passing")
    result = pytester.runpytest("-p", "no:cacheprovider", "--sockfix-transcript=always", "-rP")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        ["*- sockfix -*", "TCPServer 127.0.0.1:* (strict, framing lines()*"]
    )


@pytest.mark.leaks_ok
def test_transcript_never_from_ini(pytester):
    pytester.makeini("[pytest]\nsockfix_transcript = never\n")
    user_file(pytester, "demo_strict_failure")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.no_fnmatch_line("*- sockfix -*")


@pytest.mark.leaks_ok
def test_seed_option(pytester):
    pytester.makepyfile(
        """
        def test_seed(make_tcp_server):
            assert make_tcp_server().seed == 1234
        """
    )
    pytester.runpytest("-p", "no:cacheprovider", "--sockfix-seed=1234").assert_outcomes(passed=1)


@pytest.mark.leaks_ok
def test_xdist(pytester):
    pytest.importorskip("xdist")
    user_file(pytester, "demo_passing")
    user_file(pytester, "demo_strict_failure")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*- sockfix -*", "*no rule matched message 2: b'PONG\\r\\n'"])


def test_asyncio_client(tcp_server):
    tcp_server.expect(b"PING\r\n").respond(b"+PONG\r\n")

    async def ping() -> bytes:
        reader, writer = await asyncio.open_connection(*tcp_server.address)
        writer.write(b"PING\r\n")
        reply = await reader.readline()
        writer.close()
        await writer.wait_closed()
        return reply

    assert asyncio.run(ping()) == b"+PONG\r\n"


REPLY = b"+PONG is a long reply\r\n"


@settings(max_examples=25, deadline=None)
@given(sizes=sockfix.strategies.chunk_sizes(len(REPLY)))
def test_any_fragmentation(sizes):
    with sockfix.TCPServer() as server:
        server.expect(b"PING\r\n").respond(REPLY).chunked(sizes)
        with (
            socket.create_connection(server.address, timeout=2) as sock,
            sock.makefile("rb") as replies,
        ):
            sock.sendall(b"PING\r\n")
            assert replies.readline() == REPLY


@pytest.mark.leaks_ok
def test_fixture_under_given_is_refused(pytester):
    pytester.makepyfile(
        """
        from hypothesis import given, strategies as st

        @given(st.integers())
        def test_with_fixture(tcp_server, n):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*uses a function-scoped fixture 'tcp_server'*"])
