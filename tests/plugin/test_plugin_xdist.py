"""In a subprocess: under pytest-xdist (``-n 2``) and pytest-timeout, fixtures and reports work."""

from __future__ import annotations

import pytest

from sockfix.plugin import SECTION_TITLE

SECTION = f"*- {SECTION_TITLE} -*"

MANY_TESTS = """
import pytest
import sfx_client

@pytest.mark.parametrize("n", range(6))
def test_echo(tcp_server, n):
    tcp_server.expect(b"N %d\\n" % n).respond(b"got %d\\n" % n)
    assert sfx_client.exchange(tcp_server.address, b"N %d\\n" % n) == b"got %d\\n" % n
    assert tcp_server.seed == 99

def test_factory(make_tcp_server):
    servers = [make_tcp_server() for _ in range(3)]
    for s in servers:
        s.expect(b"hi\\n").respond(b"ho\\n")
        assert sfx_client.exchange(s.address, b"hi\\n") == b"ho\\n"
"""


def test_tests_using_tcp_server_pass_under_two_workers(
    pytester: pytest.Pytester, run_subprocess
) -> None:
    pytester.makepyfile(MANY_TESTS)
    result = run_subprocess("-n", "2", "--sockfix-seed=99")
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(["*2 workers*"])


def test_a_failing_test_under_two_workers_shows_the_section(
    pytester: pytest.Pytester, run_subprocess
) -> None:
    pytester.makepyfile(
        MANY_TESTS
        + """

def test_strict_failure(tcp_server):
    with sfx_client.connect(tcp_server.address) as sock:
        sock.sendall(b"PING\\r\\n")
        tcp_server.wait_until(lambda s: s.problems)  # seen before the body ends

def test_user_failure(tcp_server):
    tcp_server.expect(b"A\\n").respond(b"B\\n")
    assert sfx_client.exchange(tcp_server.address, b"A\\n") == b"C\\n"
"""
    )
    result = run_subprocess("-n", "2", "--sockfix-seed=99")
    result.assert_outcomes(passed=7, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ test_strict_failure _*",
            "*StrictError*",
            SECTION,
            "TCPServer 127.0.0.1:* (strict*seed=99*",
            "*00000000  50 49 4e 47 0d 0a*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*_ test_user_failure _*", "*assert b'B\\n' == b'C\\n'*", SECTION, "*<< in      2 B  A\\n"]
    )


def test_a_hung_client_under_pytest_timeout_still_gets_the_section(
    pytester: pytest.Pytester, run_subprocess
) -> None:
    """pytest-timeout (signal method) interrupts the client; teardown stops the server."""
    pytester.makepyfile(
        """
        import socket
        import pytest

        @pytest.mark.timeout(0.5)
        def test_hangs(tcp_server):
            tcp_server.expect(b"STALL\\n").hang()
            with socket.create_connection(tcp_server.address) as sock:  # no timeout: hangs
                sock.sendall(b"STALL\\n")
                sock.recv(1)

        def test_next_runs(tcp_server):
            assert tcp_server.connections == []
        """
    )
    result = run_subprocess("--timeout-method=signal")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*Failed: Timeout (>0.5s) from pytest-timeout*", SECTION, "*<< in      6 B  STALL\\n"]
    )
    result.stdout.no_fnmatch_line("*ERROR at teardown*")
