"""Strict problems fail the user's test, once, with the offending bytes in the report."""

from __future__ import annotations

import pytest

from sockfix.plugin import SECTION_TITLE

SECTION = f"*- {SECTION_TITLE} -*"


def test_an_unmatched_message_fails_the_test(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import sfx_client

        def test_unmatched(tcp_server):
            tcp_server.expect(b"PING\\n").respond(b"PONG\\n")
            with sfx_client.connect(tcp_server.address) as sock:
                sock.sendall(b"PING\\n")
                assert sfx_client.read_line(sock) == b"PONG\\n"
                sock.sendall(b"NOPE\\n")
                tcp_server.wait_until(lambda s: b"NOPE" in s.received)
            tcp_server.wait_until(lambda s: s.connections[0].closed)
        """
    )
    result = run()
    result.assert_outcomes(failed=1)  # a failure of the test, not an error in teardown
    result.stdout.fnmatch_lines(
        [
            "*sockfix.StrictError: sockfix TCPServer 127.0.0.1:* (strict*) saw 1 problem(s):",
            "*1) connection 1: no rule matched message 2: b'NOPE\\n'",
            "*00000000  4e 4f 50 45 0a * |NOPE.|",
            "*rule 1: expect(b'PING\\n').respond(b'PONG\\n')",
            "*missed: *",
            "*(pass strict=False to record and ignore these)",
            SECTION,
        ]
    )
    result.stdout.fnmatch_lines(
        ["FAILED test_an_unmatched_message_fails_the_test.py::test_unmatched*"]
    )
    result.stdout.no_fnmatch_line("*ERROR at teardown*")


def test_a_times_rule_not_used_up_fails_the_test(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import sfx_client

        def test_times(tcp_server):
            tcp_server.expect(b"A\\n").respond(b"a\\n").times(2)
            assert sfx_client.exchange(tcp_server.address, b"A\\n") == b"a\\n"
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*StrictError*saw 1 problem(s):",
            "*1) rule expect(b'A\\n').respond(b'a\\n').times(2) was used 1 of 2 times",
        ]
    )


def test_a_times_rule_used_up_passes(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import sfx_client

        def test_times(tcp_server):
            tcp_server.expect(b"A\\n").respond(b"a\\n").times(2)
            for _ in range(2):
                assert sfx_client.exchange(tcp_server.address, b"A\\n") == b"a\\n"
        """
    )
    run().assert_outcomes(passed=1)


def test_bytes_left_unframed_are_reported_at_teardown(pytester: pytest.Pytester, run) -> None:
    """The leftover only counts once the connection ends, which here is the fixture's stop()."""
    pytester.makepyfile(
        """
        import sfx_client

        OPEN = []

        def test_half(tcp_server):
            sock = sfx_client.connect(tcp_server.address)
            OPEN.append(sock)  # stays open until the fixture stops the server
            sock.sendall(b"half")
            tcp_server.wait_until(lambda s: s.received == b"half")

        def teardown_module():
            for sock in OPEN:
                sock.close()
        """
    )
    result = run("-rE")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_half*",
            "*StrictError*saw 1 problem(s):",
            "*1) connection 1: 4 bytes left unframed at close by framing lines(): b'half'",
            "*00000000  68 61 6c 66 * |half|",
            SECTION,
            "*<< in      4 B  half",
            "ERROR *::test_half*",  # the summary line, cut to the terminal's width
        ]
    )


def test_bytes_left_unframed_by_a_closed_client_fail_the_call(
    pytester: pytest.Pytester, run
) -> None:
    pytester.makepyfile(
        """
        import sfx_client

        def test_half(tcp_server):
            with sfx_client.connect(tcp_server.address) as sock:
                sock.sendall(b"half")
            tcp_server.wait_until(lambda s: s.connections and s.connections[0].closed)
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*4 bytes left unframed at close*b'half'*"])


def test_a_failing_body_gives_one_failure_and_the_problems_in_the_section(
    pytester: pytest.Pytester, run
) -> None:
    pytester.makepyfile(
        """
        import sfx_client

        def test_body_fails(tcp_server):
            tcp_server.expect(b"PING\\n").respond(b"PONG\\n").times(3)  # used once: a problem
            assert sfx_client.exchange(tcp_server.address, b"PING\\n") == b"PONG\\n"
            with sfx_client.connect(tcp_server.address) as sock:
                sock.sendall(b"NOPE\\n")
                sock.sendall(b"half")
                # the problems, not just the bytes: the section is written when the body fails
                tcp_server.wait_until(lambda s: len(s.problems) == 2)
            assert 6 * 7 == 43, "the user's own assertion"
        """
    )
    result = run("-rfE")
    result.assert_outcomes(failed=1)  # no extra teardown error for the strict problems
    result.stdout.no_fnmatch_line("*ERROR at teardown*")
    result.stdout.no_fnmatch_line("E * sockfix.StrictError*")
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: the user's own assertion",
            SECTION,
            "strict problems (*):",
            "*no rule matched message 1: b'NOPE\\n'*",
            "*rule expect(b'PING\\n').respond(b'PONG\\n').times(3) was used 1 of 3 times*",
            "FAILED *::test_body_fails*",
        ]
    )


def test_a_failing_body_with_an_open_connection_gives_one_failure(
    pytester: pytest.Pytester, run
) -> None:
    """Problems found only at teardown (bytes unframed at stop) do not add a second failure."""
    pytester.makepyfile(
        """
        import sfx_client

        OPEN = []

        def test_body_fails(tcp_server):
            sock = sfx_client.connect(tcp_server.address)
            OPEN.append(sock)
            sock.sendall(b"half")
            tcp_server.wait_until(lambda s: s.received == b"half")
            assert False, "boom"

        def teardown_module():
            for sock in OPEN:
                sock.close()
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.no_fnmatch_line("*ERROR at teardown*")
    result.stdout.fnmatch_lines(["*AssertionError: boom", SECTION, "*<< in      4 B  half"])


def test_strict_false_passes(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import sfx_client

        def test_loose(make_tcp_server):
            server = make_tcp_server(strict=False)
            server.expect(b"A\\n").respond(b"a\\n").times(5)
            with sfx_client.connect(server.address) as sock:
                sock.sendall(b"NOPE\\n")
                sock.sendall(b"half")
                server.wait_until(lambda s: s.received.endswith(b"half"))
            assert server.problems == []
        """
    )
    run().assert_outcomes(passed=1)


def test_problems_of_several_servers_make_one_failure(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import sfx_client

        def test_two(make_tcp_server):
            first, second = make_tcp_server(), make_tcp_server()
            for server, word in ((first, b"FIRST"), (second, b"SECOND")):
                with sfx_client.connect(server.address) as sock:
                    sock.sendall(word + b"\\n")
                    server.wait_until(lambda s: s.problems)  # seen before the body ends
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.no_fnmatch_line("*ERROR at teardown*")
    result.stdout.fnmatch_lines(
        ["*no rule matched message 1: b'FIRST\\n'*", "*no rule matched message 1: b'SECOND\\n'*"]
    )


def test_a_failing_response_callable_shows_its_traceback(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import sfx_client

        def broken(message):
            raise ValueError("cannot answer " + message.decode().strip())

        def test_callable(tcp_server):
            tcp_server.expect(b"Q\\n").respond(broken)
            assert sfx_client.exchange(tcp_server.address, b"Q\\n") == b""
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*StrictError*", "*ValueError: cannot answer Q*"])


def test_a_with_server_in_the_body_fails_the_test(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import sockfix
        import sfx_client

        def test_with():
            with sockfix.TCPServer() as server:
                with sfx_client.connect(server.address) as sock:
                    sock.sendall(b"WHO\\n")
                    server.wait_until(lambda s: s.received == b"WHO\\n")
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*StrictError*", "*no rule matched message 1: b'WHO\\n'*"])


def test_a_strict_failure_shows_no_plugin_internals(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import sfx_client

        def test_unmatched(tcp_server):
            with sfx_client.connect(tcp_server.address) as sock:
                sock.sendall(b"NOPE\\n")
                tcp_server.wait_until(lambda s: s.problems)
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E   sockfix.StrictError: sockfix TCPServer *saw 1 problem(s):"])
    for internal in ("*def pytest_runtest_call*", "*def check(self)*", "*_raise_all*"):
        result.stdout.no_fnmatch_line(internal)


def test_a_failed_setup_gives_one_error_not_two(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        """
        import pytest
        import sfx_client

        @pytest.fixture
        def primed(tcp_server):
            with sfx_client.connect(tcp_server.address) as sock:
                sock.sendall(b"NOPE\\n")
                tcp_server.wait_until(lambda s: s.problems)
            raise RuntimeError("setup broke")

        def test_never_runs(primed):
            pass
        """
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR at setup of test_never_runs*", "*setup broke*", SECTION, "*NOPE*"]
    )
    result.stdout.no_fnmatch_line("*ERROR at teardown*")
